import FMSupport

/// Numbers in CSV cells: shortest round-trip form, empty for "not measured".
enum CSVNumber {
    static func format(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "" }
        return JSONText.number(value)
    }

    static func format(_ value: Int?) -> String { value.map(String.init) ?? "" }
}
