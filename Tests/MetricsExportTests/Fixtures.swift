import Foundation
@testable import Footprint
import MetricsExport
import RunRecords
import Synchronization

/// Runs written through a real `RunFolder`, as `fmctl train` and `footprint measure` write them.
enum Fixtures {
    static let carbon = CarbonSettings(intensityGramsPerKWh: 400, region: "DEU", source: "test grid", year: 2023, pue: 1.5,
                                       pricePerKWh: 0.3, currency: "EUR")
    static let host = HostInfo(hostname: "trainer-1", os: "Linux", cpuModel: "test CPU", cpuCount: 2, sockets: 1, ramTotalGB: 8)
    static let provenance = MeasurementProvenance(source: .rapl, domains: ["package-0", "dram-0"], breakdownDomains: ["core-0"],
                                                  besideDomains: ["psys"], sampleIntervalSeconds: 1, warnings: [], method: "test")

    /// A window of `joules` over `seconds`: package-0 takes 70 %, dram-0 30 %; core-0 (inside
    /// the package) and psys (beside it) are read but not counted.
    static func measurement(joules: Double, seconds: Double) -> EnergyMeasurement {
        EnergyMeasurement(name: "epoch", startedAt: Date(), durationSeconds: seconds, energyJoules: joules,
                          domainJoules: ["package-0": joules * 0.7, "dram-0": joules * 0.3, "core-0": joules * 0.5, "psys": joules * 1.4],
                          countedDomains: ["package-0", "dram-0"], source: .rapl, method: "test", warnings: [],
                          sampleCount: 10, missingSampleCount: 0, cpuSeconds: seconds, logicalCPUs: 2, energyAboveIdleJoules: nil)
    }

    /// A training run in `folder` with one epoch per entry of `epochJoules` (10 s and 1,000
    /// samples each; `nil` energy with `footprint: false`).
    static func trainingRun(in folder: String, id: String = "run-1", epochJoules: [Double] = [1234.5, 987.25],
                            footprint: Bool = true, carbon: CarbonSettings = carbon, validation: Bool = true,
                            exporter: MetricsExporter? = nil) throws -> RunFolder {
        let run = try RunFolder(path: folder, record: RunRecord(
            runID: id, model: "cnn", dataset: "fashion-mnist", host: host,
            measurement: footprint ? provenance : nil, carbon: carbon, plannedEpochs: epochJoules.count))
        exporter?.follow(run)
        for (index, joules) in epochJoules.enumerated() {
            let loss = 1.0 / Double(index + 2)
            try run.recordEpoch(EpochRecord(
                epoch: index + 1, measurement: footprint ? measurement(joules: joules, seconds: 10) : nil, durationSeconds: 10,
                samples: 1000, metrics: EpochMetrics(trainLoss: loss, trainAccuracy: 0.8, valLoss: validation ? loss : nil,
                                                     valAccuracy: validation ? 0.75 + 0.01 * Double(index) : nil),
                carbon: carbon))
        }
        return run
    }
}

/// A sink that keeps what it was handed.
final class RecordingSink: MetricsSink {
    let published = Mutex<[(exposition: String, runID: String)]>([])
    let closed = Atomic<Int>(0)

    func publish(_ exposition: [UInt8], of record: RunRecord) {
        published.withLock { $0.append((String(decoding: exposition, as: UTF8.self), record.runID)) }
    }

    func close() { closed.add(1, ordering: .relaxed) }

    var last: PrometheusText { PrometheusText(published.withLock { $0.last?.exposition } ?? "") }
}

/// Warning lines, collected from any thread.
final class Warnings: Sendable {
    let lines = Mutex<[String]>([])
    var warn: @Sendable (String) -> Void { { [self] line in lines.withLock { $0.append(line) } } }
    var all: [String] { lines.withLock { $0 } }
}
