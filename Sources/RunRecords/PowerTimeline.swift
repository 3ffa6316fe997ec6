import FMSupport
import Footprint
import Foundation

/// A run's `power.csv` read back: seconds since the tracker started, watts per domain and
/// the total of the counted domains. A missing reading stays nil (the file leaves it empty).
public struct PowerTimeline: Sendable, Equatable {
    public struct Row: Sendable, Equatable {
        public var elapsedSeconds: Double
        public var watts: [String: Double]
        public var totalWatts: Double?

        public init(elapsedSeconds: Double, watts: [String: Double], totalWatts: Double?) {
            self.elapsedSeconds = elapsedSeconds
            self.watts = watts
            self.totalWatts = totalWatts
        }
    }

    /// Domain names in the file's column order (`package-0`, `dram-0`, or `cpu`, `ram`).
    public var domains: [String]
    public var rows: [Row]

    public init(domains: [String], rows: [Row]) {
        self.domains = domains
        self.rows = rows
    }

    /// Parses power.csv's text: `timestamp,elapsed_s,<domain>_w...,total_w,source`.
    /// Rows whose elapsed time is not a number are skipped.
    public static func parse(csv text: String) -> PowerTimeline {
        let table = CSV.parse(text)
        guard let header = table.first, let elapsedColumn = header.firstIndex(of: "elapsed_s") else {
            return PowerTimeline(domains: [], rows: [])
        }
        let totalColumn = header.firstIndex(of: "total_w")
        let domainColumns = Self.domainColumns(header: header)
        let rows: [Row] = table.dropFirst().compactMap { fields in
            guard elapsedColumn < fields.count, let elapsed = Double(fields[elapsedColumn]) else { return nil }
            var watts: [String: Double] = [:]
            for column in domainColumns where column.index < fields.count {
                watts[column.name] = Double(fields[column.index])
            }
            let total = totalColumn.flatMap { $0 < fields.count ? Double(fields[$0]) : nil }
            return Row(elapsedSeconds: elapsed, watts: watts, totalWatts: total)
        }
        return PowerTimeline(domains: domainColumns.map(\.name), rows: rows)
    }

    /// The domain columns of power.csv's header, in order: every `<domain>_w` but `total_w`.
    static func domainColumns(header: [String]) -> [(index: Int, name: String)] {
        header.enumerated().filter { $0.element.hasSuffix("_w") && $0.element != "total_w" }
            .map { (index: $0.offset, name: String($0.element.dropLast(2))) }
    }

    /// The timeline of a run folder; nil when the run wrote no power.csv (`--no-footprint`,
    /// or no epoch finished).
    public static func load(runFolder path: String) throws -> PowerTimeline? {
        let file = RunFolder.folder(of: path) + "/power.csv"
        guard FileManager.default.fileExists(atPath: file) else { return nil }
        guard let data = FileManager.default.contents(atPath: file) else {
            throw FootprintError.ioError(path: file, reason: "cannot read")
        }
        return parse(csv: String(decoding: data, as: UTF8.self))
    }

    /// At most `limit` rows, each the mean of a run of consecutive rows, so that an hour of
    /// 10 Hz samples draws as a readable line instead of 36,000 path segments.
    public func downsampled(to limit: Int) -> PowerTimeline {
        guard limit > 0, rows.count > limit else { return self }
        let size = Int((Double(rows.count) / Double(limit)).rounded(.up))
        let merged: [Row] = stride(from: 0, to: rows.count, by: size).map { start in
            let chunk = rows[start..<min(rows.count, start + size)]
            func mean(_ values: [Double?]) -> Double? {
                let present = values.compactMap { $0 }
                return present.isEmpty ? nil : present.reduce(0, +) / Double(present.count)
            }
            var watts: [String: Double] = [:]
            for domain in domains { watts[domain] = mean(chunk.map { $0.watts[domain] }) }
            return Row(elapsedSeconds: mean(chunk.map(\.elapsedSeconds)) ?? 0, watts: watts,
                       totalWatts: mean(chunk.map(\.totalWatts)))
        }
        return PowerTimeline(domains: domains, rows: merged)
    }
}
