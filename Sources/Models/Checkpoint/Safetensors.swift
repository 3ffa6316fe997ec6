import FMSupport

/// The element types a checkpoint stores: float32, and int8 for quantised weights
/// (docs/compress.md), whose float scales are F32 tensors of their own.
public enum SafetensorsDType: String, Sendable {
    case f32 = "F32", i8 = "I8"
    /// Bytes per element.
    public var size: Int { self == .f32 ? 4 : 1 }
}

/// One named tensor of a checkpoint; `values` is row-major for `shape` (`[]` is a scalar). An
/// I8 tensor holds its integers as Float values in memory (exact), each in -128...127.
public struct SafetensorsTensor: Sendable {
    public let name: String
    public let shape: [Int]
    public let values: [Float]
    public let dtype: SafetensorsDType

    public init(name: String, shape: [Int], values: [Float], dtype: SafetensorsDType = .f32) {
        self.name = name
        self.shape = shape
        self.values = values
        self.dtype = dtype
    }
}

/// The safetensors format (Hugging Face), float32 and int8 tensors:
///
///     8 bytes   N, little-endian UInt64
///     N bytes   JSON header starting with '{', optionally padded with spaces:
///               {"__metadata__": {string: string}, NAME: {"dtype": "F32", "shape": [..],
///                "data_offsets": [BEGIN, END]}, ...}
///     rest      the byte buffer; offsets are relative to it, END one past the tensor
///
/// The buffer must be covered exactly by the tensors, with no holes or overlaps; duplicate keys
/// are disallowed; data is little-endian, row-major.
public enum Safetensors {
    /// The reference implementation's limit on N; a larger header is an attack or corruption.
    public static let maximumHeaderBytes = 100_000_000
    static let float32DType = "F32"
    static let metadataKey = "__metadata__"
    private static let expectedFile = "a safetensors file (8-byte little-endian header length, JSON header, float32 data)"

    /// Writes `tensors` in the given order, with `metadata` in `__metadata__`, atomically
    /// (see ``AtomicFile``): an existing file is replaced only once the new one is complete on disk.
    /// The same input always gives the same bytes.
    ///
    /// Errors: a tensor whose shape does not match its values, a duplicate or reserved name (70);
    /// a failed write (74).
    public static func write(tensors: [SafetensorsTensor], metadata: [String: String], to path: String) throws(DataError) {
        try AtomicFile.write(try encode(tensors: tensors, metadata: metadata, path: path), to: path)
    }

    /// Reads every tensor, in the order of their data in the file, and the metadata (empty when absent).
    ///
    /// Errors: missing or unreadable file (66); anything malformed (65): truncation, a garbage
    /// header, a header length beyond the file, a dtype other than F32, a shape that does not match
    /// its byte range, overlapping, out-of-range or uncovered bytes; a failed read (74).
    public static func read(path: String) throws(DataError) -> (tensors: [SafetensorsTensor], metadata: [String: String]) {
        let file = try InputFile(path: path, expected: expectedFile)
        return try decode(try file.readAll(), path: path)
    }

    /// Reads a whole safetensors file already in memory, with the checks and errors of
    /// ``read(path:)``; `path` only names the bytes in error messages.
    public static func read(bytes: [UInt8], path: String) throws(DataError) -> (tensors: [SafetensorsTensor], metadata: [String: String]) {
        try decode(bytes, path: path)
    }

    // MARK: - Encoding

    static func encode(tensors: [SafetensorsTensor], metadata: [String: String], path: String) throws(DataError) -> [UInt8] {
        func invalid(_ message: String) -> DataError {
            DataError(path: path, message: "cannot write checkpoint: \(message)", exitCode: DataError.softwareExitCode)
        }
        var names: Set<String> = []
        var header = "{"
        if !metadata.isEmpty {
            header += JSONText.quoted(metadataKey) + ":{"
            header += metadata.keys.sorted().map { key in JSONText.quoted(key) + ":" + JSONText.quoted(metadata[key] ?? "") }.joined(separator: ",")
            header += "}"
        }
        var offset = 0
        for tensor in tensors {
            guard tensor.name != metadataKey else { throw invalid("\(metadataKey) is reserved, not a tensor name") }
            guard names.insert(tensor.name).inserted else { throw invalid("duplicate tensor name \"\(tensor.name)\"") }
            guard let elements = elementCount(tensor.shape), elements == tensor.values.count else {
                throw invalid("tensor \"\(tensor.name)\" has shape \(tensor.shape) but \(tensor.values.count) values")
            }
            if tensor.dtype == .i8, let v = tensor.values.first(where: { $0 != $0.rounded() || $0 < -128 || $0 > 127 }) {
                throw invalid("tensor \"\(tensor.name)\" is I8 but holds \(v), not an integer in -128...127")
            }
            let end = offset + tensor.dtype.size * elements
            if header.count > 1 { header += "," }
            header += JSONText.quoted(tensor.name) + ":{\"dtype\":\"\(tensor.dtype.rawValue)\",\"shape\":["
            header += tensor.shape.map(String.init).joined(separator: ",")
            header += "],\"data_offsets\":[\(offset),\(end)]}"
            offset = end
        }
        header += "}"
        var headerBytes = Array(header.utf8)
        // Pad with spaces so the data starts 8-byte aligned, as the reference writer does.
        headerBytes += [UInt8](repeating: 0x20, count: (8 - headerBytes.count % 8) % 8)

        var out: [UInt8] = []
        out.reserveCapacity(8 + headerBytes.count + offset)
        let length = UInt64(headerBytes.count)
        for shift in stride(from: 0, to: 64, by: 8) { out.append(UInt8(truncatingIfNeeded: length >> UInt64(shift))) }
        out += headerBytes
        for tensor in tensors {
            if tensor.dtype == .i8 {
                for value in tensor.values { out.append(UInt8(bitPattern: Int8(value))) }
                continue
            }
            for value in tensor.values {
                let bits = value.bitPattern
                out += [UInt8(truncatingIfNeeded: bits), UInt8(truncatingIfNeeded: bits >> 8),
                        UInt8(truncatingIfNeeded: bits >> 16), UInt8(truncatingIfNeeded: bits >> 24)]
            }
        }
        return out
    }

    /// Product of the dimensions, or nil when one is negative or the product overflows (also
    /// what ModelDescription checks a model's sizes with).
    static func elementCount(_ shape: [Int]) -> Int? {
        var product = 1
        for dimension in shape {
            guard dimension >= 0 else { return nil }
            let (next, overflow) = product.multipliedReportingOverflow(by: dimension)
            guard !overflow else { return nil }
            product = next
        }
        return product
    }

    // MARK: - Decoding

    private struct Entry {
        let name: String
        let shape: [Int]
        let begin: Int
        let end: Int
        let dtype: SafetensorsDType
    }

    /// Parses a whole file's bytes; every length and offset is checked before it is used.
    static func decode(_ bytes: [UInt8], path: String) throws(DataError) -> (tensors: [SafetensorsTensor], metadata: [String: String]) {
        func bad(_ message: String) -> DataError { DataError.badData(path, message) }
        if bytes.isEmpty {
            throw bad("empty file; expected \(expectedFile)")
        }
        guard bytes.count >= 8 else {
            throw bad("truncated: \(bytes.count) bytes, expected at least the 8-byte header length")
        }
        var declared: UInt64 = 0
        for i in 0..<8 { declared |= UInt64(bytes[i]) << UInt64(8 * i) }
        guard declared > 0 else { throw bad("header length is 0; expected a JSON header") }
        guard declared <= UInt64(maximumHeaderBytes) else {
            throw bad("header length \(declared) exceeds the \(maximumHeaderBytes)-byte limit; expected \(expectedFile)")
        }
        let headerLength = Int(declared)
        guard headerLength <= bytes.count - 8 else {
            throw bad("header length \(headerLength) is larger than the \(bytes.count - 8) bytes after it; the file is truncated or not safetensors")
        }
        let headerBytes = bytes[8..<(8 + headerLength)]
        guard headerBytes.first == UInt8(ascii: "{") else {
            throw bad("garbage header: expected a JSON object starting with '{', found byte \(headerBytes.first ?? 0)")
        }
        let header: HeaderJSON
        do throws(HeaderJSONError) {
            header = try HeaderJSONParser.parse(headerBytes)
        } catch {
            throw bad("garbage header: \(error.message) at header byte \(error.offset); expected a JSON object")
        }
        guard case .object(let members) = header else {
            throw bad("garbage header: expected a JSON object")
        }

        var metadata: [String: String] = [:]
        var entries: [Entry] = []
        for (key, value) in members {
            if key == metadataKey {
                guard case .object(let pairs) = value else {
                    throw bad("\(metadataKey) is a \(value.typeName); expected an object of strings")
                }
                for (metaKey, metaValue) in pairs {
                    guard case .string(let text) = metaValue else {
                        throw bad("\(metadataKey).\(metaKey) is a \(metaValue.typeName); expected a string")
                    }
                    metadata[metaKey] = text
                }
                continue
            }
            entries.append(try entry(key, value, path: path))
        }

        let bufferStart = 8 + headerLength
        let bufferLength = bytes.count - bufferStart
        // Order by data; zero-size tensors may share an offset, so ties keep header order.
        let ordered = entries.enumerated().sorted { ($0.element.begin, $0.element.end, $0.offset) < ($1.element.begin, $1.element.end, $1.offset) }.map(\.element)
        var covered = 0
        for entry in ordered {
            if entry.end > bufferLength {
                throw bad("tensor \"\(entry.name)\" data_offsets [\(entry.begin), \(entry.end)] run past the \(bufferLength)-byte data buffer; the file is truncated")
            }
            if entry.begin < covered {
                throw bad("tensor \"\(entry.name)\" data_offsets [\(entry.begin), \(entry.end)] overlap the previous tensor (which ends at \(covered))")
            }
            if entry.begin > covered {
                throw bad("bytes \(covered)..<\(entry.begin) of the data buffer belong to no tensor; expected contiguous data_offsets")
            }
            covered = entry.end
        }
        if covered != bufferLength {
            throw bad("\(bufferLength - covered) trailing bytes after the last tensor; expected the tensors to cover the data buffer exactly")
        }

        let tensors = bytes.withUnsafeBytes { raw in
            ordered.map { entry in
                if entry.dtype == .i8 {
                    let values = (0..<(entry.end - entry.begin)).map { Float(Int8(bitPattern: raw[bufferStart + entry.begin + $0])) }
                    return SafetensorsTensor(name: entry.name, shape: entry.shape, values: values, dtype: .i8)
                }
                let count = (entry.end - entry.begin) / 4
                let values = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                    for i in 0..<count {
                        let bits = raw.loadUnaligned(fromByteOffset: bufferStart + entry.begin + 4 * i, as: UInt32.self)
                        buffer[i] = Float(bitPattern: UInt32(littleEndian: bits))
                    }
                    initialized = count
                }
                return SafetensorsTensor(name: entry.name, shape: entry.shape, values: values)
            }
        }
        return (tensors, metadata)
    }

    /// One tensor's header entry, checked on its own: dtype, shape, and a byte range that fits it.
    private static func entry(_ name: String, _ value: HeaderJSON, path: String) throws(DataError) -> Entry {
        func bad(_ message: String) -> DataError { DataError.badData(path, "tensor \"\(name)\": \(message)") }
        guard case .object(let fields) = value else {
            throw bad("is a \(value.typeName); expected an object with dtype, shape and data_offsets")
        }
        func field(_ key: String) throws(DataError) -> HeaderJSON {
            guard let found = fields.first(where: { $0.key == key }) else { throw bad("missing \"\(key)\"") }
            return found.value
        }
        guard case .string(let dtype) = try field("dtype") else { throw bad("dtype is not a string") }
        guard let type = SafetensorsDType(rawValue: dtype) else {
            throw bad("dtype \(dtype) is not supported; expected F32 or I8")
        }
        guard case .array(let dimensions) = try field("shape") else { throw bad("shape is not an array") }
        var shape: [Int] = []
        for dimension in dimensions {
            guard let size = dimension.nonNegativeInt else { throw bad("shape holds \(dimension.typeName) \(describe(dimension)); expected non-negative integers") }
            shape.append(size)
        }
        guard case .array(let offsets) = try field("data_offsets"), offsets.count == 2,
              let begin = offsets[0].nonNegativeInt, let end = offsets[1].nonNegativeInt else {
            throw bad("data_offsets is not [BEGIN, END] of non-negative integers")
        }
        guard begin <= end else { throw bad("data_offsets [\(begin), \(end)] end before they begin") }
        guard let elements = elementCount(shape), case (let bytesNeeded, false) = elements.multipliedReportingOverflow(by: type.size) else {
            throw bad("shape \(shape) is too large")
        }
        guard bytesNeeded == end - begin else {
            throw bad("shape \(shape) needs \(bytesNeeded) bytes of \(dtype) but data_offsets [\(begin), \(end)] span \(end - begin)")
        }
        return Entry(name: name, shape: shape, begin: begin, end: end, dtype: type)
    }

    private static func describe(_ value: HeaderJSON) -> String {
        switch value {
        case .number(let text): text
        case .string(let text): JSONText.quoted(text)
        default: ""
        }
    }
}
