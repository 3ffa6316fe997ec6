/// The series of a Prometheus text exposition (format 0.0.4), read back the way a scraper
/// reads them: `# HELP` and `# TYPE` lines by metric name, one `Series` per sample line.
public struct PrometheusText: Sendable {
    public struct Series: Sendable, Equatable {
        public var name: String
        public var labels: [String: String]
        public var value: Double
    }

    public var series: [Series] = []
    public var types: [String: String] = [:]
    public var help: [String: String] = [:]
    /// Lines that are neither a comment, a sample nor empty.
    public var unreadable: [String] = []

    public init(_ text: String) {
        for line in text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) {
            if line.hasPrefix("# TYPE ") || line.hasPrefix("# HELP ") {
                let parts = line.dropFirst(7).split(separator: " ", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { unreadable.append(line); continue }
                if line.hasPrefix("# TYPE ") { types[parts[0]] = parts[1] } else { help[parts[0]] = parts[1] }
            } else if line.hasPrefix("#") {
                continue
            } else if let sample = Self.sample(line) {
                series.append(sample)
            } else {
                unreadable.append(line)
            }
        }
    }

    /// The series called `name` whose labels include every one of `labels`.
    public func series(_ name: String, _ labels: [String: String] = [:]) -> [Series] {
        series.filter { s in s.name == name && labels.allSatisfy { s.labels[$0.key] == $0.value } }
    }

    /// The value of the one series called `name` with `labels`; nil when there is none or several.
    public func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        let found = series(name, labels)
        return found.count == 1 ? found[0].value : nil
    }

    /// `name{a="x",b="y"} value [timestamp]`, label values with `\\`, `\"` and `\n` escapes.
    static func sample(_ line: String) -> Series? {
        var rest = Substring(line)
        let name = rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" }
        guard !name.isEmpty else { return nil }
        rest = rest.dropFirst(name.count)
        var labels: [String: String] = [:]
        if rest.first == "{" {
            rest = rest.dropFirst()
            while rest.first != "}" {
                let key = rest.prefix { $0 != "=" }
                rest = rest.dropFirst(key.count)
                guard rest.hasPrefix("=\"") else { return nil }
                rest = rest.dropFirst(2)
                var value = ""
                while let c = rest.first, c != "\"" {
                    rest = rest.dropFirst()
                    if c == "\\", let escaped = rest.first {
                        rest = rest.dropFirst()
                        value.append(escaped == "n" ? "\n" : escaped)
                    } else {
                        value.append(c)
                    }
                }
                guard rest.first == "\"" else { return nil }
                rest = rest.dropFirst()
                labels[String(key)] = value
                if rest.first == "," { rest = rest.dropFirst() }
                guard !rest.isEmpty else { return nil }
            }
            rest = rest.dropFirst()
        }
        let fields = rest.split(separator: " ")
        guard let first = fields.first, let value = Double(first) else { return nil }
        return Series(name: String(name), labels: labels, value: value)
    }
}
