import Foundation
import Testing
import Footprint
@testable import MetricsExport
import RunRecords

/// The metrics of a run: names, labels and values equal to the run record's figures.
@Suite struct RunMetricsTests {
    let temporary = TemporaryDirectory()

    @Test func families_giveEveryFigureOfTheRecord_underTheConventionalNames() throws {
        let record = try Fixtures.trainingRun(in: temporary.file("run")).record
        let families = RunMetrics.families(of: record)
        #expect(families.map(\.name) == ["fmctl_energy_joules_total", "fmctl_co2e_grams_total", "fmctl_cost_total",
                                         "fmctl_power_watts", "fmctl_samples_total", "fmctl_epoch", "fmctl_train_loss",
                                         "fmctl_val_accuracy", "fmctl_run_status"])
        for family in families {
            #expect(family.kind == (family.name.hasSuffix("_total") ? .counter : .gauge), "\(family.name)")
            for sample in family.samples {
                #expect(sample.label("run_id") == "run-1" && sample.label("model") == "cnn", "\(family.name)")
            }
        }
        func values(_ name: String) -> [String: Double] {
            let samples = families.first { $0.name == name }?.samples ?? []
            return Dictionary(uniqueKeysWithValues: samples.map { (($0.labels.dropFirst(2).map { "\($0.name)=\($0.value)" }).joined(), $0.value) })
        }
        let total = record.total, last = try #require(record.epochs.last)
        #expect(values("fmctl_energy_joules_total") == ["domain=package-0": total.domains!["package-0"]!,
                                                        "domain=dram-0": total.domains!["dram-0"]!])
        #expect(values("fmctl_co2e_grams_total") == ["": total.co2eGrams!])
        #expect(values("fmctl_cost_total") == ["currency=EUR": total.cost!])
        #expect(values("fmctl_power_watts") == ["domain=package-0": last.domains["package-0"]! / last.durationSeconds,
                                                "domain=dram-0": last.domains["dram-0"]! / last.durationSeconds])
        #expect(values("fmctl_samples_total") == ["": 2000])
        #expect(values("fmctl_epoch") == ["": 2])
        #expect(values("fmctl_train_loss") == ["": last.trainLoss!])
        #expect(values("fmctl_val_accuracy") == ["": last.valAccuracy!])
        #expect(values("fmctl_run_status") == ["status=running": 1, "status=completed": 0, "status=interrupted": 0, "status=failed": 0])
    }

    /// One series per counted domain, and they add up to total.energy_j; core (inside the
    /// package) and psys (beside it) would count energy twice and are left out.
    @Test func energySeries_addUpToTheTotal_withoutBreakdownOrBesideDomains() throws {
        let joules = [1234.5, 987.25, 1e-3, 3.3e5, 17.125]
        let record = try Fixtures.trainingRun(in: temporary.file("run"), epochJoules: joules).record
        let energy = try #require(RunMetrics.families(of: record).first { $0.name == RunMetrics.energyJoules })
        #expect(Set(energy.samples.compactMap { $0.label("domain") }) == ["package-0", "dram-0"])
        let sum = energy.samples.map(\.value).reduce(0, +)
        let total = try #require(record.total.energyJoules)
        #expect(abs(sum - total) <= 1e-12 * total, "series sum \(sum) J, total.energy_j \(total) J")
        #expect(abs(total - joules.reduce(0, +)) <= 1e-12 * total)
    }

    /// The domains come from the measurement, not from a list: an estimate's cpu and ram, or a
    /// GPU's gpu-0 where a meter counts one.
    @Test func energySeries_followTheMeasurementsDomains() throws {
        var record = try Fixtures.trainingRun(in: temporary.file("run")).record
        record.measurement?.domains = ["package-0", "gpu-0"]
        record.total.domains?["gpu-0"] = 42
        let energy = try #require(RunMetrics.families(of: record).first { $0.name == RunMetrics.energyJoules })
        #expect(Set(energy.samples.compactMap { $0.label("domain") }) == ["package-0", "gpu-0"])
        #expect(energy.samples.first { $0.label("domain") == "gpu-0" }?.value == 42)
    }

    /// `--no-footprint`, no price, no validation split: no series instead of zeros.
    @Test func unmeasuredFigures_haveNoSeries() throws {
        let unmeasured = try Fixtures.trainingRun(in: temporary.file("a"), footprint: false).record
        #expect(RunMetrics.families(of: unmeasured).map(\.name)
                == ["fmctl_samples_total", "fmctl_epoch", "fmctl_train_loss", "fmctl_val_accuracy", "fmctl_run_status"])
        var free = Fixtures.carbon
        free.pricePerKWh = nil
        let noPrice = try Fixtures.trainingRun(in: temporary.file("b"), carbon: free, validation: false).record
        let names = RunMetrics.families(of: noPrice).map(\.name)
        #expect(!names.contains(RunMetrics.cost) && !names.contains(RunMetrics.valAccuracy))
        #expect(names.contains(RunMetrics.co2eGrams))
    }

    /// Before the first epoch ends: epoch 0, no samples, the status, nothing measured yet.
    @Test func runJustStarted_isEpochZero() throws {
        let record = try Fixtures.trainingRun(in: temporary.file("run"), epochJoules: []).record
        let text = PrometheusText(String(decoding: PrometheusExposition.render(RunMetrics.families(of: record)), as: UTF8.self))
        #expect(text.value("fmctl_epoch") == 0)
        #expect(text.value("fmctl_samples_total") == 0)
        #expect(text.series("fmctl_energy_joules_total").isEmpty)
        #expect(text.value("fmctl_run_status", ["status": "running"]) == 1)
    }

    /// `footprint measure`: energy, CO2e, cost and power over the whole command; no training figures.
    @Test func measuredCommand_hasTheWholeWindow_andNoTrainingFigures() throws {
        let folder = try RunFolder(path: temporary.file("m"), record: RunRecord(
            runID: "m", model: "make", config: RunConfiguration(command: ["make", "-j2"]), host: Fixtures.host,
            measurement: Fixtures.provenance, carbon: Fixtures.carbon))
        try folder.finish(status: .completed, total: RunTotal(measurement: Fixtures.measurement(joules: 500, seconds: 4), carbon: Fixtures.carbon))
        let families = RunMetrics.families(of: folder.record)
        #expect(families.map(\.name) == ["fmctl_energy_joules_total", "fmctl_co2e_grams_total", "fmctl_cost_total",
                                         "fmctl_power_watts", "fmctl_run_status"])
        let power = try #require(families.first { $0.name == RunMetrics.powerWatts })
        #expect(power.samples.first { $0.label("domain") == "package-0" }?.value == 500 * 0.7 / 4)
        #expect(power.samples.allSatisfy { $0.label("model") == "make" })
    }
}
