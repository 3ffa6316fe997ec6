import Footprint
import Foundation

public enum RunStatus: String, Codable, Sendable, CaseIterable {
    case running, completed, interrupted, failed
}

/// Energy and time of one phase (train or validation) inside an epoch.
public struct PhaseRecord: Codable, Sendable, Equatable {
    public var durationSeconds: Double
    public var energyJoules: Double

    enum CodingKeys: String, CodingKey {
        case durationSeconds = "duration_s", energyJoules = "energy_j"
    }

    public init(durationSeconds: Double, energyJoules: Double) {
        self.durationSeconds = durationSeconds
        self.energyJoules = energyJoules
    }

    public init(_ measurement: EnergyMeasurement) {
        self.init(durationSeconds: measurement.durationSeconds, energyJoules: measurement.energyJoules)
    }
}

/// Loss and accuracy of an epoch, as the training loop computed them.
public struct EpochMetrics: Sendable, Equatable {
    public var trainLoss: Double?
    public var trainAccuracy: Double?
    public var valLoss: Double?
    public var valAccuracy: Double?

    public init(trainLoss: Double? = nil, trainAccuracy: Double? = nil, valLoss: Double? = nil, valAccuracy: Double? = nil) {
        self.trainLoss = trainLoss
        self.trainAccuracy = trainAccuracy
        self.valLoss = valLoss
        self.valAccuracy = valAccuracy
    }
}

/// One finished (or interrupted) epoch: energy, carbon, cost, metrics, efficiency, forecast.
/// Energy fields are nil when not measured (`--no-footprint`).
public struct EpochRecord: Codable, Sendable, Equatable {
    public var epoch: Int
    public var durationSeconds: Double
    /// Training examples processed.
    public var samples: Int?
    public var energyJoules: Double?
    public var energyKWh: Double?
    public var co2eGrams: Double?
    public var cost: Double?
    public var averagePowerWatts: Double?
    public var trainLoss: Double?
    public var trainAccuracy: Double?
    public var valLoss: Double?
    public var valAccuracy: Double?
    /// Floating-point operations of the epoch (the model's count), if known.
    public var flops: Double?
    /// `train` and `validation` phases.
    public var phases: [String: PhaseRecord]
    /// Joules per domain (package-0, dram-0, core-0, psys, or cpu/ram for the estimate).
    public var domains: [String: Double]
    public var joulesPerSample: Double?
    public var flopsPerJoule: Double?
    public var energyAboveIdleJoules: Double?
    public var source: EnergySource?
    public var interrupted: Bool
    /// The whole run's energy and CO2e as forecast after this epoch.
    public var forecast: RunForecast?
    /// Data-parallel runs: seconds this process spent in the gradient all-reduce during the
    /// epoch, and the gradient bytes it summed (docs/distributed.md).
    public var allReduceSeconds: Double?
    public var allReduceBytes: Double?

    enum CodingKeys: String, CodingKey {
        case epoch, samples, cost, flops, phases, domains, source, interrupted, forecast
        case allReduceSeconds = "allreduce_s", allReduceBytes = "allreduce_bytes"
        case durationSeconds = "duration_s", energyJoules = "energy_j", energyKWh = "energy_kwh", co2eGrams = "co2e_g"
        case averagePowerWatts = "avg_power_w", trainLoss = "train_loss", trainAccuracy = "train_accuracy"
        case valLoss = "val_loss", valAccuracy = "val_accuracy", joulesPerSample = "joules_per_sample"
        case flopsPerJoule = "flops_per_joule", energyAboveIdleJoules = "energy_above_idle_j"
    }

    public init(epoch: Int, durationSeconds: Double, samples: Int? = nil, energyJoules: Double? = nil,
                energyKWh: Double? = nil, co2eGrams: Double? = nil, cost: Double? = nil, averagePowerWatts: Double? = nil,
                metrics: EpochMetrics = EpochMetrics(), flops: Double? = nil, phases: [String: PhaseRecord] = [:],
                domains: [String: Double] = [:], joulesPerSample: Double? = nil, flopsPerJoule: Double? = nil,
                energyAboveIdleJoules: Double? = nil, source: EnergySource? = nil, interrupted: Bool = false,
                forecast: RunForecast? = nil) {
        self.epoch = epoch
        self.durationSeconds = durationSeconds
        self.samples = samples
        self.energyJoules = energyJoules
        self.energyKWh = energyKWh
        self.co2eGrams = co2eGrams
        self.cost = cost
        self.averagePowerWatts = averagePowerWatts
        self.trainLoss = metrics.trainLoss
        self.trainAccuracy = metrics.trainAccuracy
        self.valLoss = metrics.valLoss
        self.valAccuracy = metrics.valAccuracy
        self.flops = flops
        self.phases = phases
        self.domains = domains
        self.joulesPerSample = joulesPerSample
        self.flopsPerJoule = flopsPerJoule
        self.energyAboveIdleJoules = energyAboveIdleJoules
        self.source = source
        self.interrupted = interrupted
        self.forecast = forecast
    }

    /// An epoch from its window's measurement (nil with `--no-footprint`: only time and metrics),
    /// the phase windows inside it, and the training loop's counts and metrics.
    public init(epoch: Int, measurement: EnergyMeasurement?, durationSeconds: Double? = nil,
                phases: [String: EnergyMeasurement] = [:], samples: Int?, metrics: EpochMetrics,
                flops: Double? = nil, carbon: CarbonSettings, interrupted: Bool = false) {
        let duration = durationSeconds ?? measurement?.durationSeconds ?? 0
        guard let measurement else {
            self.init(epoch: epoch, durationSeconds: duration, samples: samples, metrics: metrics, flops: flops,
                      interrupted: interrupted)
            return
        }
        let joules = measurement.energyJoules
        let kWh = joules / EnergyUnits.joulesPerKWh
        self.init(
            epoch: epoch, durationSeconds: duration, samples: samples, energyJoules: joules, energyKWh: kWh,
            co2eGrams: carbon.co2eGrams(energyKWh: kWh), cost: carbon.cost(energyKWh: kWh),
            averagePowerWatts: measurement.averagePowerWatts, metrics: metrics, flops: flops,
            phases: phases.mapValues(PhaseRecord.init), domains: measurement.domainJoules,
            joulesPerSample: samples.flatMap { $0 > 0 ? joules / Double($0) : nil },
            flopsPerJoule: flops.flatMap { joules > 0 ? $0 / joules : nil },
            energyAboveIdleJoules: measurement.energyAboveIdleJoules, source: measurement.source,
            interrupted: interrupted)
    }

    /// The epoch's number as reports show it: `3`, or `3*` for an interrupted one.
    public var label: String { String(epoch) + (interrupted ? "*" : "") }

    public var metrics: EpochMetrics {
        EpochMetrics(trainLoss: trainLoss, trainAccuracy: trainAccuracy, valLoss: valLoss, valAccuracy: valAccuracy)
    }
}

/// The whole run's totals.
public struct RunTotal: Codable, Sendable, Equatable {
    public var durationSeconds: Double
    public var energyJoules: Double?
    public var energyKWh: Double?
    public var co2eGrams: Double?
    public var cost: Double?
    public var flops: Double?
    public var energyAboveIdleJoules: Double?
    public var samples: Int?
    /// Joules per domain over the run.
    public var domains: [String: Double]?
    /// Process CPU seconds / (wall seconds x logical CPUs), when measured over the whole run.
    public var cpuUtilization: Double?

    enum CodingKeys: String, CodingKey {
        case cost, flops, samples, domains
        case cpuUtilization = "cpu_utilization"
        case durationSeconds = "duration_s", energyJoules = "energy_j", energyKWh = "energy_kwh", co2eGrams = "co2e_g"
        case energyAboveIdleJoules = "energy_above_idle_j"
    }

    public init(durationSeconds: Double = 0, energyJoules: Double? = nil, energyKWh: Double? = nil, co2eGrams: Double? = nil,
                cost: Double? = nil, flops: Double? = nil, energyAboveIdleJoules: Double? = nil, samples: Int? = nil,
                domains: [String: Double]? = nil, cpuUtilization: Double? = nil) {
        self.durationSeconds = durationSeconds
        self.energyJoules = energyJoules
        self.energyKWh = energyKWh
        self.co2eGrams = co2eGrams
        self.cost = cost
        self.flops = flops
        self.energyAboveIdleJoules = energyAboveIdleJoules
        self.samples = samples
        self.domains = domains
        self.cpuUtilization = cpuUtilization
    }

    /// The sum of the epochs: energy only if every epoch has it, FLOPs likewise.
    public init(epochs: [EpochRecord], carbon: CarbonSettings) {
        func sum(_ values: [Double?]) -> Double? {
            values.isEmpty || values.contains(where: { $0 == nil }) ? nil : values.compactMap { $0 }.reduce(0, +)
        }
        let joules = sum(epochs.map(\.energyJoules))
        let kWh = joules.map { $0 / EnergyUnits.joulesPerKWh }
        let samples = epochs.map(\.samples)
        self.init(durationSeconds: epochs.map(\.durationSeconds).reduce(0, +), energyJoules: joules, energyKWh: kWh,
                  co2eGrams: kWh.map { carbon.co2eGrams(energyKWh: $0) }, cost: kWh.flatMap { carbon.cost(energyKWh: $0) },
                  flops: sum(epochs.map(\.flops)), energyAboveIdleJoules: sum(epochs.map(\.energyAboveIdleJoules)),
                  samples: samples.contains(where: { $0 == nil }) || samples.isEmpty ? nil : samples.compactMap { $0 }.reduce(0, +),
                  domains: joules == nil ? nil : epochs.reduce(into: [String: Double]()) { sums, epoch in
                      for (domain, value) in epoch.domains { sums[domain, default: 0] += value }
                  })
    }

    /// The total of a single window (e.g. the command `fmctl footprint measure` ran).
    public init(measurement: EnergyMeasurement, carbon: CarbonSettings, flops: Double? = nil) {
        let kWh = measurement.energyKWh
        self.init(durationSeconds: measurement.durationSeconds, energyJoules: measurement.energyJoules, energyKWh: kWh,
                  co2eGrams: carbon.co2eGrams(energyKWh: kWh), cost: carbon.cost(energyKWh: kWh), flops: flops,
                  energyAboveIdleJoules: measurement.energyAboveIdleJoules, domains: measurement.domainJoules,
                  cpuUtilization: measurement.cpuUtilization)
    }
}

public struct TestMetrics: Codable, Sendable, Equatable {
    public var loss: Double?
    public var accuracy: Double?

    public init(loss: Double?, accuracy: Double?) {
        self.loss = loss
        self.accuracy = accuracy
    }
}

/// run.json: everything needed to trust and reproduce a run's figures.
public struct RunRecord: Codable, Sendable, Equatable {
    public static let formatVersion = 1

    public var formatVersion: Int
    public var runID: String
    public var model: String
    public var dataset: String?
    public var status: RunStatus
    public var statusReason: String?
    /// ISO 8601 UTC, e.g. `2026-11-30T01:50:00Z`.
    public var startedAt: String
    public var endedAt: String?
    /// What the run was started with: training settings, or the measured command.
    public var config: RunConfiguration
    public var host: HostInfo
    /// Component versions, e.g. `["fmctl": "0.1.0", "openblas": "0.3.21"]`.
    public var versions: [String: String]
    /// Nil with `--no-footprint`.
    public var measurement: MeasurementProvenance?
    public var carbon: CarbonSettings
    public var idleBaseline: IdleBaseline?
    /// Epochs the run is set to train (for forecasts); nil for a command.
    public var plannedEpochs: Int?
    public var epochs: [EpochRecord]
    public var total: RunTotal
    public var test: TestMetrics?
    /// A data-parallel run's world and hosts; nil for a run of one process.
    public var distributed: DistributedRecord?
    /// The run a fine-tuned model started from, with that run's own figures; nil otherwise.
    public var pretraining: PretrainingRecord?

    enum CodingKeys: String, CodingKey {
        case model, dataset, status, config, host, versions, measurement, carbon, epochs, total, test, distributed, pretraining
        case formatVersion = "format_version", runID = "run_id", statusReason = "status_reason"
        case startedAt = "started_at", endedAt = "ended_at", idleBaseline = "idle_baseline"
        case plannedEpochs = "planned_epochs"
    }

    public init(runID: String, model: String, dataset: String? = nil, status: RunStatus = .running,
                startedAt: Date = Date(), config: RunConfiguration = RunConfiguration(), host: HostInfo, versions: [String: String] = [:],
                measurement: MeasurementProvenance?, carbon: CarbonSettings, idleBaseline: IdleBaseline? = nil,
                plannedEpochs: Int? = nil) {
        formatVersion = Self.formatVersion
        self.runID = runID
        self.model = model
        self.dataset = dataset
        self.status = status
        self.startedAt = Timestamps.iso8601(startedAt)
        self.config = config
        self.host = host
        self.versions = versions
        self.measurement = measurement
        self.carbon = carbon
        self.idleBaseline = idleBaseline
        self.plannedEpochs = plannedEpochs
        epochs = []
        total = RunTotal()
    }

    /// The forecasts made after each epoch, in order.
    public var forecasts: [RunForecast] { epochs.compactMap(\.forecast) }
}

enum Timestamps {
    /// `2026-11-30T01:50:00Z`
    static func iso8601(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    /// `2026-11-30T01:50:00.123Z`, for timeline rows.
    static func iso8601Milliseconds(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }

    /// `20261130T015000Z`, for run folder names.
    static func compact(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return formatter.string(from: date)
    }
}
