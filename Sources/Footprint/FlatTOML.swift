import Foundation

/// A value of a flat TOML `key = value` line.
public enum TOMLValue: Equatable, Sendable {
    case string(String)
    case number(Double)
    case bool(Bool)
}

/// The subset of TOML a lab needs to set defaults once (`fmctl.toml`): flat `key = value`
/// lines with strings ("..." or '...'), numbers and booleans, and `#` comments.
/// Tables, arrays and dates are rejected with the file and line.
public struct FlatTOML: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var value: TOMLValue
        public var line: Int
    }

    public var path: String
    public var entries: [String: Entry]

    public static func load(path: String) throws -> FlatTOML {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) }
        catch { throw FootprintError.ioError(path: path, reason: "cannot read as UTF-8 text") }
        return try parse(text, path: path)
    }

    public static func parse(_ text: String, path: String) throws -> FlatTOML {
        var entries: [String: Entry] = [:]
        for (offset, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = offset + 1
            let line = rawLine.trimmingCharacters(in: .whitespaces.union(CharacterSet(charactersIn: "\r")))
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("[") {
                throw FootprintError.invalidConfigFile(path: path, line: number, expected: "flat 'key = value' lines (tables are not supported)")
            }
            guard let equals = line.firstIndex(of: "=") else {
                throw FootprintError.invalidConfigFile(path: path, line: number, expected: "'key = value'")
            }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
                throw FootprintError.invalidConfigFile(path: path, line: number, expected: "a bare key of letters, digits, '_' or '-'")
            }
            guard entries[key] == nil else {
                throw FootprintError.invalidConfigFile(path: path, line: number, expected: "'\(key)' only once (first set on line \(entries[key]!.line))")
            }
            let rest = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            guard let value = parseValue(rest) else {
                throw FootprintError.invalidConfigFile(path: path, line: number,
                    expected: "a string (\"...\"), number or true/false after '\(key) =', optionally followed by a # comment")
            }
            entries[key] = Entry(value: value, line: number)
        }
        return FlatTOML(path: path, entries: entries)
    }

    /// A value followed by nothing but an optional comment.
    static func parseValue(_ text: String) -> TOMLValue? {
        func onlyComment(_ tail: Substring) -> Bool {
            let rest = tail.trimmingCharacters(in: .whitespaces)
            return rest.isEmpty || rest.hasPrefix("#")
        }
        guard let first = text.first else { return nil }
        if first == "\"" {
            var result = ""
            var index = text.index(after: text.startIndex)
            while index < text.endIndex {
                let character = text[index]
                if character == "\"" {
                    return onlyComment(text[text.index(after: index)...]) ? .string(result) : nil
                }
                if character == "\\" {
                    index = text.index(after: index)
                    guard index < text.endIndex else { return nil }
                    switch text[index] {
                    case "\"": result.append("\"")
                    case "\\": result.append("\\")
                    case "n": result.append("\n")
                    case "t": result.append("\t")
                    default: return nil
                    }
                } else {
                    result.append(character)
                }
                index = text.index(after: index)
            }
            return nil
        }
        if first == "'" {
            let body = text.dropFirst()
            guard let close = body.firstIndex(of: "'") else { return nil }
            return onlyComment(body[body.index(after: close)...]) ? .string(String(body[..<close])) : nil
        }
        let token = text.prefix(while: { $0 != "#" }).trimmingCharacters(in: .whitespaces)
        if token == "true" { return .bool(true) }
        if token == "false" { return .bool(false) }
        let digits = token.replacingOccurrences(of: "_", with: "")
        guard !digits.isEmpty, digits.allSatisfy({ "0123456789+-.eE".contains($0) }), let number = Double(digits),
              number.isFinite else { return nil }
        return .number(number)
    }

    /// The number at `key`, or an error naming the file and line when it is not a number.
    public func number(_ key: String) throws -> Double? {
        guard let entry = entries[key] else { return nil }
        guard case let .number(value) = entry.value else {
            throw FootprintError.invalidConfigFile(path: path, line: entry.line, expected: "\(key) = a number")
        }
        return value
    }

    public func string(_ key: String) throws -> String? {
        guard let entry = entries[key] else { return nil }
        guard case let .string(value) = entry.value else {
            throw FootprintError.invalidConfigFile(path: path, line: entry.line, expected: "\(key) = a quoted string")
        }
        return value
    }

    public func bool(_ key: String) throws -> Bool? {
        guard let entry = entries[key] else { return nil }
        guard case let .bool(value) = entry.value else {
            throw FootprintError.invalidConfigFile(path: path, line: entry.line, expected: "\(key) = true or false")
        }
        return value
    }
}
