import FMSupport
import Footprint
import Foundation

/// One run's folder: run.json, epochs.csv, power.csv, emissions.csv.
///
/// - run.json is rewritten atomically at every epoch end and at finish.
/// - epochs.csv gains one row per epoch, flushed to disk as it is written.
/// - power.csv gains the power timeline as the caller hands it samples (at each epoch end).
/// - emissions.csv holds one row, the run's cumulative figures, rewritten at every epoch end.
public final class RunFolder {
    public let path: String
    public private(set) var record: RunRecord
    private var powerColumns: [String]?
    /// Called with the record each time run.json has been rewritten (at the start, after every
    /// epoch, at the end): how `MetricsExporter` follows a run.
    public var recordWritten: ((RunRecord) -> Void)?

    public var runJSONPath: String { path + "/run.json" }
    public var epochsCSVPath: String { path + "/epochs.csv" }
    public var powerCSVPath: String { path + "/power.csv" }
    public var emissionsCSVPath: String { path + "/emissions.csv" }

    public static let epochColumns = [
        "epoch", "duration_s", "samples", "energy_j", "energy_kwh", "co2e_g", "cost", "avg_power_w",
        "energy_above_idle_j", "flops", "joules_per_sample", "flops_per_joule", "train_loss", "train_accuracy",
        "val_loss", "val_accuracy", "train_duration_s", "train_energy_j", "validation_duration_s",
        "validation_energy_j", "source", "interrupted", "forecast_energy_kwh", "forecast_energy_kwh_low",
        "forecast_energy_kwh_high", "forecast_co2e_g",
    ]

    /// `runs/<UTC timestamp>-<model>`, e.g. `runs/20261130T015000Z-cnn`.
    public static func defaultPath(model: String, date: Date = Date(), parent: String = "runs") -> String {
        let safe = model.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." ? $0 : "-" }
        return parent + "/" + Timestamps.compact(date) + "-" + String(safe.isEmpty ? ["r", "u", "n"] : safe)
    }

    /// Creates the folder (`path`, or the default under `runs/`) and writes run.json with the
    /// record as given (status `running`); an empty `runID` becomes the folder's name.
    /// An explicit folder may exist but must not hold a run.
    public init(path explicitPath: String? = nil, record: RunRecord, parent: String = "runs") throws {
        var path = explicitPath ?? Self.defaultPath(model: record.model, parent: parent)
        let manager = FileManager.default
        if explicitPath == nil {
            // Two runs of one model in the same second get -2, -3 ...
            var suffix = 2
            let base = path
            while manager.fileExists(atPath: path) { path = base + "-\(suffix)"; suffix += 1 }
        } else if path.isEmpty {
            throw FootprintError.invalidOption(option: "--run-dir", value: path, expected: "a folder path")
        } else if manager.fileExists(atPath: path + "/run.json") {
            throw FootprintError.invalidOption(option: "--run-dir", value: path,
                                               expected: "a folder that holds no run yet (this one has run.json)")
        }
        try Self.makeFolders(path)
        self.path = path
        self.record = record
        if record.runID.isEmpty { self.record.runID = (path as NSString).lastPathComponent }
        try writeRunJSON()
        try Self.append(CSV.row(Self.epochColumns), to: epochsCSVPath)
        try writeEmissions()
    }

    /// Reopens an existing run to continue it (`fmctl train --resume`): the record is read
    /// back from run.json, new epochs are appended to epochs.csv and power.csv (under the
    /// columns power.csv already has), and run.json is rewritten as before.
    public init(reopening path: String) throws {
        self.path = path
        record = try Self.load(path: path)
        if let text = try? String(contentsOfFile: powerCSVPath, encoding: .utf8),
           let header = CSV.parse(String(text.prefix { $0 != "\n" })).first {
            powerColumns = PowerTimeline.domainColumns(header: header).map(\.name)
        }
    }

    /// `mkdir -p`, one component at a time, so the error names the component that failed and
    /// the system's reason ("Not a directory" for a path under a regular file), which
    /// FileManager's error hides.
    static func makeFolders(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component
            if mkdir(prefix, 0o777) != 0, errno != EEXIST {
                throw FootprintError.cannotCreate(path: path, reason: "\(prefix): \(String(cString: strerror(errno)))")
            }
            var info = stat()
            guard stat(prefix, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
                throw FootprintError.cannotCreate(path: path, reason: "\(prefix) exists and is not a folder")
            }
            prefix += "/"
        }
    }

    /// Records a finished (or interrupted) epoch: adds the forecast when the record knows its
    /// planned epochs, appends the epochs.csv row and the power samples, and rewrites run.json
    /// and emissions.csv with the new totals. Returns the epoch as stored.
    @discardableResult
    public func recordEpoch(_ epoch: EpochRecord, powerSamples: [PowerSample] = [], powerDomains: [String]? = nil) throws -> EpochRecord {
        var epoch = epoch
        if epoch.forecast == nil, let planned = record.plannedEpochs {
            epoch.forecast = RunForecast.make(after: record.epochs + [epoch], plannedEpochs: planned, carbon: record.carbon)
        }
        record.epochs.append(epoch)
        record.total = RunTotal(epochs: record.epochs, carbon: record.carbon)
        try Self.append(CSV.row(Self.epochRow(epoch)), to: epochsCSVPath)
        try appendPowerSamples(powerSamples, domains: powerDomains)
        try writeEmissions()
        try writeRunJSON()
        return epoch
    }

    /// Appends timeline rows to power.csv; the columns are fixed by the first call
    /// (`domains`, or the domains of the first samples).
    public func appendPowerSamples(_ samples: [PowerSample], domains: [String]? = nil) throws {
        guard !samples.isEmpty else { return }
        var text = ""
        if powerColumns == nil {
            let columns = domains ?? Array(Set(samples.flatMap(\.watts.keys))).sorted()
            powerColumns = columns
            text += CSV.row(["timestamp", "elapsed_s"] + columns.map { $0 + "_w" } + ["total_w", "source"])
        }
        let columns = powerColumns ?? []
        for sample in samples {
            text += CSV.row([Timestamps.iso8601Milliseconds(sample.timestamp), CSVNumber.format(sample.elapsedSeconds)]
                + columns.map { CSVNumber.format(sample.watts[$0]) }
                + [CSVNumber.format(sample.totalWatts), sample.source.rawValue])
        }
        try Self.append(text, to: powerCSVPath)
    }

    /// Changes the record (provenance, idle baseline, config ...) and rewrites run.json.
    public func update(_ change: (inout RunRecord) -> Void) throws {
        change(&record)
        try writeRunJSON()
    }

    public func setStatus(_ status: RunStatus, reason: String? = nil) throws {
        try update {
            $0.status = status
            $0.statusReason = reason
        }
    }

    /// Ends the run: status, reason, test metrics, end time; `total` replaces the sum of the
    /// epochs (e.g. a whole-run window that includes set-up time), `measurement` the provenance.
    public func finish(status: RunStatus, reason: String? = nil, test: TestMetrics? = nil, total: RunTotal? = nil,
                       measurement: MeasurementProvenance? = nil, endedAt: Date = Date()) throws {
        record.status = status
        record.statusReason = reason
        record.test = test ?? record.test
        if let total { record.total = total }
        if let measurement { record.measurement = measurement }
        record.endedAt = Timestamps.iso8601(endedAt)
        try writeEmissions()
        try writeRunJSON()
    }

    func writeRunJSON() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let data: Data
        do { data = try encoder.encode(record) } catch {
            throw FootprintError.ioError(path: runJSONPath, reason: "cannot encode: \(error)")
        }
        try Self.replace(runJSONPath, with: Array(data) + Array("\n".utf8))
        recordWritten?(record)
    }

    func writeEmissions() throws {
        let country = (try? CarbonIntensityTable.bundled())?.row(iso3: record.carbon.region)?.country
        try Self.replace(emissionsCSVPath, with: Array((EmissionsCSV.header + EmissionsCSV.row(for: record, countryName: country)).utf8))
    }

    /// Replaces a whole file atomically: a reader never sees a half-written run.json.
    static func replace(_ path: String, with bytes: [UInt8]) throws {
        do throws(FileWriteError) { try FileWriter.writeAtomically(bytes, to: path) } catch { throw FootprintError(error) }
    }

    /// Appends rows and flushes them: a crash loses at most the rows being written.
    static func append(_ text: String, to path: String) throws {
        do throws(FileWriteError) { try FileWriter.append(Array(text.utf8), to: path) } catch { throw FootprintError(error) }
    }

    static func epochRow(_ epoch: EpochRecord) -> [String] {
        let train = epoch.phases["train"], validation = epoch.phases["validation"]
        return [
            String(epoch.epoch), CSVNumber.format(epoch.durationSeconds), CSVNumber.format(epoch.samples),
            CSVNumber.format(epoch.energyJoules), CSVNumber.format(epoch.energyKWh), CSVNumber.format(epoch.co2eGrams),
            CSVNumber.format(epoch.cost), CSVNumber.format(epoch.averagePowerWatts), CSVNumber.format(epoch.energyAboveIdleJoules),
            CSVNumber.format(epoch.flops), CSVNumber.format(epoch.joulesPerSample), CSVNumber.format(epoch.flopsPerJoule),
            CSVNumber.format(epoch.trainLoss), CSVNumber.format(epoch.trainAccuracy), CSVNumber.format(epoch.valLoss),
            CSVNumber.format(epoch.valAccuracy), CSVNumber.format(train?.durationSeconds), CSVNumber.format(train?.energyJoules),
            CSVNumber.format(validation?.durationSeconds), CSVNumber.format(validation?.energyJoules),
            epoch.source?.rawValue ?? "", epoch.interrupted ? "true" : "false",
            CSVNumber.format(epoch.forecast?.energyKWh), CSVNumber.format(epoch.forecast?.energyKWhLow),
            CSVNumber.format(epoch.forecast?.energyKWhHigh), CSVNumber.format(epoch.forecast?.co2eGrams),
        ]
    }

    // MARK: - Reading

    /// The run folder a report argument names: the folder itself, or its run.json.
    static func folder(of path: String) -> String {
        path.hasSuffix(".json") ? (path as NSString).deletingLastPathComponent : path
    }

    /// Loads a run.json; missing file -> 66, unparsable -> 65.
    public static func load(path: String) throws -> RunRecord {
        let file = path.hasSuffix(".json") ? path : path + "/run.json"
        guard FileManager.default.fileExists(atPath: file) else {
            throw FootprintError.missingInput(path: file, expected: "a run folder with run.json")
        }
        guard let data = FileManager.default.contents(atPath: file) else {
            throw FootprintError.ioError(path: file, reason: "cannot read")
        }
        do { return try JSONDecoder().decode(RunRecord.self, from: data) } catch {
            throw FootprintError.badData(path: file, expected: "a run.json written by fmctl (\(Self.decodingProblem(error)))")
        }
    }

    static func decodingProblem(_ error: Error) -> String {
        guard let error = error as? DecodingError else { return "not JSON" }
        switch error {
        case let .keyNotFound(key, context): return "missing key '\((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))'"
        case let .typeMismatch(_, context), let .valueNotFound(_, context):
            return "wrong type at '\(context.codingPath.map(\.stringValue).joined(separator: "."))'"
        case .dataCorrupted: return "not valid JSON"
        @unknown default: return "undecodable"
        }
    }

    /// The newest run folder under `parent`: latest run.json modification, ties broken by name
    /// (default names start with the UTC timestamp).
    public static func newestRun(in parent: String = "runs") throws -> String {
        let manager = FileManager.default
        guard let names = try? manager.contentsOfDirectory(atPath: parent) else {
            throw FootprintError.missingInput(path: parent, expected: "a runs/ folder (or give RUN_DIR)")
        }
        let runs = names.filter { manager.fileExists(atPath: parent + "/" + $0 + "/run.json") }
        guard !runs.isEmpty else { throw FootprintError.missingInput(path: parent, expected: "a run folder with run.json") }
        func modified(_ name: String) -> Date {
            ((try? manager.attributesOfItem(atPath: parent + "/" + name + "/run.json"))?[.modificationDate] as? Date) ?? .distantPast
        }
        return parent + "/" + runs.max { (modified($0), $0) < (modified($1), $1) }!
    }
}
