/// Numbers in CSV cells: shortest round-trip form, empty for "not measured".
public enum CSVNumber {
    /// - Parameter value: a figure, nil when not measured.
    /// - Returns: `1200`, `0.5`, `1e-07`; empty for nil, NaN or an infinity.
    public static func format(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "" }
        return JSONText.number(value)
    }

    /// - Parameter value: a count, nil when not known.
    /// - Returns: the decimal digits; empty for nil.
    public static func format(_ value: Int?) -> String { value.map(String.init) ?? "" }
}
