import RunRecords

/// A one-line chart of block characters, `▁▂▃▄▅▆▇█`, for terminal reports.
public enum Sparkline {
    public static let levels: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]

    /// One character per value, scaled linearly from the smallest (`▁`) to the largest (`█`);
    /// a missing value is a space, and equal values sit at the middle level (nothing varies).
    public static func render(_ values: [Double?]) -> String {
        let present = values.compactMap { $0 }.filter(\.isFinite)
        guard let low = present.min(), let high = present.max() else { return String(repeating: " ", count: values.count) }
        return String(values.map { value -> Character in
            guard let value, value.isFinite else { return " " }
            guard high > low else { return levels[levels.count / 2 - 1] }
            let level = ((value - low) / (high - low) * Double(levels.count - 1)).rounded()
            return levels[Int(level)]
        })
    }

    /// `▁▅█ 31.2-40.5 W`: the average power of each epoch, with the range it spans; nil when
    /// no epoch has a measured power.
    public static func epochPower(_ epochs: [EpochRecord]) -> String? {
        let watts = epochs.map(\.averagePowerWatts)
        let present = watts.compactMap { $0 }
        guard let low = present.min(), let high = present.max() else { return nil }
        return render(watts) + " " + RunReport.figure(low, 3) + (high > low ? "-" + RunReport.figure(high, 3) : "") + " W"
    }
}
