/// JSON text written by hand, for outputs whose bytes or key order are part of their format
/// (safetensors headers, the JSON report).
public enum JSONText {
    /// A JSON string literal: quotes, backslashes and control characters escaped (`\n`, `\r`,
    /// `\t`, the rest as `\u00XX`), everything else as it is (UTF-8 on output).
    ///
    /// - Parameter text: any string.
    /// - Returns: `text` between double quotes, escaped.
    public static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// A JSON number: integers within 2^53 (exact in a Double) without a fraction, others in
    /// Swift's shortest round-trip form; `null` for NaN and infinities, which JSON cannot hold.
    ///
    /// - Parameter value: any Double.
    /// - Returns: `3`, `0.001`, `1e-07`, or `null`.
    public static func number(_ value: Double) -> String {
        guard value.isFinite else { return "null" }
        if value == value.rounded(), abs(value) < 9_007_199_254_740_992 { return String(Int64(value)) }
        return "\(value)"
    }
}
