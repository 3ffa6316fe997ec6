import FMSupport
import Foundation

/// CPU power for the estimate: the processor's TDP, scaled by the process's CPU utilisation.
///
/// Model (CodeCarbon's "process" tracking mode, without its constant idle share):
/// `power = TDP x sockets x u`, with `u = CPU seconds of the process / (wall seconds x logical CPUs)`.
/// So a window's CPU energy is `TDP x sockets x CPU seconds / logical CPUs` and needs no sampling.
/// TDP is a design limit, not a measurement: the figure is an estimate and says so.
public struct CPUPowerModel: Sendable, Equatable, Codable {
    /// Watts per logical CPU used when the model name matches no table row: typical parts run
    /// 2-8 W per hardware thread at TDP (280 W / 128 threads = 2.2 W; 65 W / 12 threads = 5.4 W);
    /// 5 W errs toward over- rather than under-reporting on servers and VMs.
    public static let defaultWattsPerLogicalCPU = 5.0

    /// Power at full load of every available logical CPU.
    public var fullLoadWatts: Double
    public var logicalCPUs: Int
    /// How `fullLoadWatts` was obtained, e.g. `--cpu-tdp 95 W` or `TDP table: "AMD EPYC 7763" 280 W x 1 socket`.
    public var origin: String

    public init(fullLoadWatts: Double, logicalCPUs: Int, origin: String) {
        self.fullLoadWatts = fullLoadWatts
        self.logicalCPUs = max(1, logicalCPUs)
        self.origin = origin
    }

    /// Joules for `cpuSeconds` of process CPU time.
    public func joules(cpuSeconds: Double) -> Double {
        fullLoadWatts * max(0, cpuSeconds) / Double(logicalCPUs)
    }

    /// Chooses the TDP: `--cpu-tdp`, else the table match for `/proc/cpuinfo`'s model name,
    /// else the stated per-CPU default.
    public static func resolve(overrideWatts: Double?, host: HostInfo, table: CPUTDPTable?) -> CPUPowerModel {
        let cpus = max(1, host.cpuCount)
        if let overrideWatts {
            return CPUPowerModel(fullLoadWatts: overrideWatts * Double(host.sockets), logicalCPUs: cpus,
                                 origin: "--cpu-tdp \(format(overrideWatts)) W x \(host.sockets) socket(s)")
        }
        if let table, let match = table.match(modelName: host.cpuModel) {
            return CPUPowerModel(fullLoadWatts: match.tdpWatts * Double(host.sockets), logicalCPUs: cpus,
                                 origin: "TDP table: \"\(match.name)\" \(format(match.tdpWatts)) W x \(host.sockets) socket(s)")
        }
        let shown = host.cpuModel.isEmpty ? "unknown CPU" : "'\(host.cpuModel)'"
        return CPUPowerModel(fullLoadWatts: defaultWattsPerLogicalCPU * Double(cpus), logicalCPUs: cpus,
                             origin: "default \(format(defaultWattsPerLogicalCPU)) W per logical CPU x \(cpus): no TDP table match for \(shown) (set --cpu-tdp)")
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}

/// RAM power for the estimate: CodeCarbon's earlier model of 3 W per 8 GB (0.375 W/GB),
/// applied to the resident memory of the measured process (and its tracked children).
public enum RAMPowerModel {
    public static let wattsPerGigabyte = 3.0 / 8.0
}

/// Thermal design power per CPU model name (`Resources/cpu-tdp.csv`).
public struct CPUTDPTable: Sendable {
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var tdpWatts: Double
    }

    public var entries: [Entry]
    /// Lines of the CSV that held no usable TDP.
    public var skippedLines: [Int] = []
    private var byKey: [String: Entry]

    public init(entries: [Entry]) {
        self.entries = entries
        var byKey: [String: Entry] = [:]
        for entry in entries { byKey[Self.normalize(entry.name)] = byKey[Self.normalize(entry.name)] ?? entry }
        self.byKey = byKey
    }

    /// The table shipped as a resource.
    public static func bundled() throws -> CPUTDPTable {
        try parse(csv: ResourceFiles.text(named: "cpu-tdp.csv"), path: "cpu-tdp.csv")
    }

    /// Rows whose TDP is not a positive number (the shipped table has one, "27.29.5") are
    /// skipped and their line numbers kept in `skippedLines`, rather than failing the whole table.
    public static func parse(csv: String, path: String) throws -> CPUTDPTable {
        var entries: [Entry] = []
        var skipped: [Int] = []
        for (number, row) in CSV.parse(csv).enumerated() where number > 0 && !row.allSatisfy(\.isEmpty) {
            guard row.count >= 2, let tdp = Double(row[1].trimmingCharacters(in: .whitespaces)), tdp > 0, tdp.isFinite else {
                skipped.append(number + 1)
                continue
            }
            entries.append(Entry(name: row[0], tdpWatts: tdp))
        }
        guard !entries.isEmpty else {
            throw FootprintError.badData(path: path, expected: "CSV rows Name,TDP with TDP in watts")
        }
        var table = CPUTDPTable(entries: entries)
        table.skippedLines = skipped
        return table
    }

    /// The row for a `/proc/cpuinfo` model name. Exact match after normalisation; otherwise the
    /// longest row whose words all appear in the model name and that includes a model number
    /// (a bare family such as "AMD EPYC", as VMs report, matches nothing rather than a guess).
    public func match(modelName: String) -> Entry? {
        let key = Self.normalize(modelName)
        guard !key.isEmpty else { return nil }
        if let exact = byKey[key] { return exact }
        let words = Set(key.split(separator: " ").map(String.init))
        var best: (length: Int, entry: Entry)?
        for (rowKey, entry) in byKey {
            let rowWords = rowKey.split(separator: " ").map(String.init)
            guard rowWords.contains(where: { $0.contains(where: \.isNumber) }),
                  rowWords.allSatisfy(words.contains) else { continue }
            if best == nil || rowKey.count > best!.length || (rowKey.count == best!.length && entry.name < best!.entry.name) {
                best = (rowKey.count, entry)
            }
        }
        return best?.entry
    }

    /// Lower-cases and strips what differs between `/proc/cpuinfo` and vendor names:
    /// "(R)", "(TM)", vendor words, "CPU", "Processor", "@ 2.10GHz", "16-Core", "with Radeon Graphics".
    static func normalize(_ name: String) -> String {
        var text = name.lowercased()
        for mark in ["(r)", "(tm)", "®", "™", "(c)"] { text = text.replacingOccurrences(of: mark, with: " ") }
        if let at = text.range(of: "@") { text = String(text[..<at.lowerBound]) }
        if let with = text.range(of: " with ") { text = String(text[..<with.lowerBound]) }
        let dropped: Set<String> = ["intel", "amd", "cpu", "processor", "genuineintel", "authenticamd"]
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," })
            .map(String.init)
            .filter { word in
                if dropped.contains(word) { return false }
                // "16-core", "8-core", "64-cores"
                if word.hasSuffix("-core") || word.hasSuffix("-cores") { return false }
                // "2.10ghz" left without an "@"
                if word.hasSuffix("ghz") || word.hasSuffix("mhz") { return false }
                return true
            }
        return words.joined(separator: " ")
    }
}
