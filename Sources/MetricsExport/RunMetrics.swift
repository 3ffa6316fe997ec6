import Footprint
import RunRecords

/// A run's figures as Prometheus metrics (docs/metrics.md): every value comes from the run
/// record as run.json holds it at that moment, so the metrics never disagree with the reports.
///
/// Names follow Prometheus's conventions: base units (joules, grams, watts), counters end in
/// `_total`. Every series carries `run_id` and `model`; a figure the run does not have (energy
/// with `--no-footprint`, cost without a price, validation accuracy without a validation split)
/// has no series rather than a zero.
public enum RunMetrics {
    public static let energyJoules = "fmctl_energy_joules_total"
    public static let co2eGrams = "fmctl_co2e_grams_total"
    public static let cost = "fmctl_cost_total"
    public static let powerWatts = "fmctl_power_watts"
    public static let samples = "fmctl_samples_total"
    public static let epoch = "fmctl_epoch"
    public static let trainLoss = "fmctl_train_loss"
    public static let valAccuracy = "fmctl_val_accuracy"
    public static let runStatus = "fmctl_run_status"

    /// The metric families of `record`, in a fixed order.
    public static func families(of record: RunRecord) -> [MetricFamily] {
        let run = [MetricLabel("run_id", record.runID), MetricLabel("model", record.model)]
        let total = record.total
        var families: [MetricFamily] = []
        /// Adds a family of the series whose value is known.
        func add(_ name: String, _ kind: MetricFamily.Kind, _ help: String, _ series: [([MetricLabel], Double?)]) {
            let samples = series.compactMap { labels, value in value.map { MetricSample(labels: run + labels, value: $0) } }
            if !samples.isEmpty { families.append(MetricFamily(name: name, help: help, kind: kind, samples: samples)) }
        }

        let counted = countedDomains(record)
        add(energyJoules, .counter, "Energy of each counted domain since the run began, in joules; the series add up to the run's total.energy_j.",
            counted.map { ([MetricLabel("domain", $0)], total.domains?[$0]) })
        add(co2eGrams, .counter, "Operational CO2e since the run began, in grams (energy x PUE x grid intensity).",
            [([], total.co2eGrams)])
        add(cost, .counter, "Electricity cost since the run began, in the currency of the label (energy x PUE x price).",
            [([MetricLabel("currency", record.carbon.currency ?? "")], total.cost)])
        add(powerWatts, .gauge, "Mean power of each counted domain over the last epoch (over the whole command for footprint measure), in watts.",
            latestPowerWatts(record, domains: counted).map { ([MetricLabel("domain", $0.domain)], $0.watts) })
        if record.plannedEpochs != nil {
            add(samples, .counter, "Training samples processed since the run began.", [([], Double(total.samples ?? 0))])
            add(epoch, .gauge, "The last epoch recorded (1-based; 0 before the first ends).",
                [([], Double(record.epochs.last?.epoch ?? 0))])
            add(trainLoss, .gauge, "Training loss of the last epoch.", [([], record.epochs.last?.trainLoss)])
            add(valAccuracy, .gauge, "Validation accuracy of the last epoch (0-1).", [([], record.epochs.last?.valAccuracy)])
        }
        add(runStatus, .gauge, "1 for the run's status (running, completed, interrupted, failed), 0 for the others.",
            RunStatus.allCases.map { ([MetricLabel("status", $0.rawValue)], $0 == record.status ? 1 : 0) })
        return families
    }

    /// The domains summed into the run's total energy (package-N and dram, the estimate's cpu
    /// and ram, or whatever domains the measurement counted), as the provenance lists them; the
    /// breakdown (core, uncore) and beside (psys) domains are not counted.
    static func countedDomains(_ record: RunRecord) -> [String] {
        record.measurement?.domains ?? []
    }

    /// Watts of each counted domain over the last epoch (its joules over the epoch's duration),
    /// or over the whole run when it has no epochs (a measured command).
    static func latestPowerWatts(_ record: RunRecord, domains: [String]) -> [(domain: String, watts: Double?)] {
        let (joules, seconds): ([String: Double]?, Double) = record.epochs.last.map { ($0.domains, $0.durationSeconds) }
            ?? (record.total.domains, record.total.durationSeconds)
        guard let joules, seconds > 0 else { return [] }
        return domains.map { ($0, joules[$0].map { $0 / seconds }) }
    }
}
