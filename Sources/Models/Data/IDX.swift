import CZlib
#if canImport(Glibc)
import Glibc
#endif

/// An n-dimensional array of unsigned bytes read from (or written to) an IDX file.
///
/// `bytes` is row-major: for MNIST images, dimensions are `[count, height, width]`.
public struct IDXArray: Sendable, Equatable {
    public let dimensions: [Int]
    public let bytes: [UInt8]

    public init(dimensions: [Int], bytes: [UInt8]) {
        self.dimensions = dimensions
        self.bytes = bytes
    }
}

/// The IDX format of the MNIST family (LeCun et al.), raw or gzip-compressed:
///
///     byte 0, 1   zero
///     byte 2      element type (0x08 = unsigned byte, the only one images and labels use)
///     byte 3      rank
///     rank x 4    dimensions, big-endian UInt32
///     then        product(dimensions) elements, row-major
///
/// Compression is recognised by the gzip magic (1f 8b), never by the file name.
public enum IDX {
    /// The only element type read: unsigned byte.
    static let unsignedByteType: UInt8 = 0x08
    /// Ranks accepted: labels are rank 1, images rank 3 (N, H, W) or 4 (N, H, W, C).
    static let ranks = 1...4
    /// deflate's largest possible expansion is about 1032:1 (zlib's FAQ); a gzip file cannot
    /// decompress to more than this many bytes per compressed byte, so it bounds the allocation
    /// a lying header can cause.
    static let maximumInflationRatio = 1032
    /// Read size for streaming decompression.
    static let chunkBytes = 1 << 20

    private static let expectedFile = "an IDX file (magic 00 00 08 <rank>, big-endian dimensions, unsigned bytes), raw or gzip"

    /// Reads and validates an IDX file of unsigned bytes.
    ///
    /// Errors: missing or unreadable file (66), anything wrong with its content (65), a failed read (74).
    public static func read(path: String) throws(DataError) -> IDXArray {
        let file = try InputFile(path: path, expected: expectedFile)
        if file.sizeBytes == 0 {
            throw DataError.badData(path, "empty file; expected \(expectedFile)")
        }
        var reader = try PayloadReader(file: file)
        let isGzip = reader.isGzip
        let compressedBytes = reader.fileSizeBytes

        let header = try reader.bytes(count: 4)
        let headerRead = header.count
        if headerRead < 4 {
            throw DataError.badData(path, "truncated: an IDX header needs 4 bytes, found \(headerRead)\(isGzip ? " after decompression" : "")")
        }
        if header[0] != 0 || header[1] != 0 {
            let found = header.map { hex($0) }.joined(separator: " ")
            var message = "not an IDX file: expected magic 00 00 08 <rank>, found \(found)"
            if !isGzip && path.hasSuffix(".gz") {
                message += " (the name ends in .gz but the file is not gzip: no 1f 8b magic)"
            }
            throw DataError.badData(path, message)
        }
        let type = header[2]
        if type != unsignedByteType {
            let known: [UInt8: String] = [0x09: "signed byte", 0x0B: "int16", 0x0C: "int32", 0x0D: "float32", 0x0E: "float64"]
            let what = known[type].map { "unsupported element type 0x\(hex(type)) (\($0))" } ?? "invalid element type 0x\(hex(type))"
            throw DataError.badData(path, "\(what); expected 0x08 (unsigned byte)")
        }
        let rank = Int(header[3])
        if !ranks.contains(rank) {
            throw DataError.badData(path, "rank \(rank) not supported; expected \(ranks.lowerBound) to \(ranks.upperBound)")
        }

        let dimensionBytes = try reader.bytes(count: 4 * rank)
        if dimensionBytes.count < 4 * rank {
            throw DataError.badData(path, "truncated: \(rank) dimensions need \(4 * rank) bytes after the magic, found \(dimensionBytes.count)")
        }
        var dimensions: [Int] = []
        for axis in 0..<rank {
            let b = dimensionBytes[(4 * axis)..<(4 * axis + 4)].map { Int($0) }
            dimensions.append(b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3])
        }
        let shape = dimensions.map(String.init).joined(separator: " x ")
        if dimensions.contains(0) {
            throw DataError.badData(path, "dimensions \(shape) include a zero; expected every dimension > 0")
        }
        var expected = 1
        for dimension in dimensions {
            let (product, overflow) = expected.multipliedReportingOverflow(by: dimension)
            if overflow {
                throw DataError.badData(path, "dimensions \(shape) are too large to address")
            }
            expected = product
        }

        let headerBytes = 4 + 4 * rank
        if !isGzip {
            let present = compressedBytes - headerBytes
            if present < expected {
                throw DataError.badData(path, "truncated: dimensions \(shape) need \(expected) data bytes, the file holds \(present)")
            }
            if present > expected {
                throw DataError.badData(path, "\(present - expected) bytes of trailing data: dimensions \(shape) need \(expected) data bytes, the file holds \(present)")
            }
        }

        // Grows with what is actually decompressed, so a header claiming terabytes costs nothing.
        let (bound, _) = compressedBytes.multipliedReportingOverflow(by: maximumInflationRatio)
        var payload: [UInt8] = []
        payload.reserveCapacity(min(expected, max(bound, chunkBytes)))
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkBytes, alignment: 16)
        defer { chunk.deallocate() }
        while payload.count < expected {
            let want = min(chunkBytes, expected - payload.count)
            let n = try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: chunk[0..<want]))
            if n == 0 { break }
            payload.append(contentsOf: chunk[0..<n])
        }
        if payload.count < expected {
            let reason = reader.endedEarly ? "truncated gzip stream" : "truncated"
            throw DataError.badData(path, "\(reason): dimensions \(shape) need \(expected) data bytes, found \(payload.count)\(isGzip ? " after decompression" : "")")
        }
        if isGzip {
            let extra = try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: chunk[0..<1]))
            if extra > 0 {
                throw DataError.badData(path, "trailing data: dimensions \(shape) need \(expected) data bytes, the decompressed file holds more")
            }
        }
        return IDXArray(dimensions: dimensions, bytes: payload)
    }

    /// Writes `array` as an IDX file of unsigned bytes, gzip-compressed when `gzip` is true,
    /// atomically (see ``AtomicFile``).
    public static func write(_ array: IDXArray, to path: String, gzip: Bool) throws(DataError) {
        let encoded = try encode(array, path: path)
        try AtomicFile.write(gzip ? try compress(encoded, path: path) : encoded, to: path)
    }

    /// The raw IDX bytes of `array`.
    static func encode(_ array: IDXArray, path: String) throws(DataError) -> [UInt8] {
        let dimensions = array.dimensions
        guard ranks.contains(dimensions.count),
              dimensions.allSatisfy({ $0 > 0 && $0 <= Int(UInt32.max) }) else {
            throw DataError(path: path, message: "cannot write IDX dimensions \(dimensions); expected rank 1 to 4, each in 1...\(UInt32.max)", exitCode: DataError.softwareExitCode)
        }
        var product = 1
        for dimension in dimensions {
            let (next, overflow) = product.multipliedReportingOverflow(by: dimension)
            product = overflow ? -1 : next
            if overflow { break }
        }
        guard product == array.bytes.count else {
            throw DataError(path: path, message: "cannot write IDX: dimensions \(dimensions) need \(product) bytes, got \(array.bytes.count)", exitCode: DataError.softwareExitCode)
        }
        var out: [UInt8] = [0, 0, unsignedByteType, UInt8(dimensions.count)]
        out.reserveCapacity(4 + 4 * dimensions.count + array.bytes.count)
        for dimension in dimensions {
            let d = UInt32(dimension)
            out += [UInt8(d >> 24), UInt8((d >> 16) & 0xFF), UInt8((d >> 8) & 0xFF), UInt8(d & 0xFF)]
        }
        out += array.bytes
        return out
    }

    /// gzip (RFC 1952) in memory. The header's mtime is zero, so equal input gives equal bytes.
    static func compress(_ input: [UInt8], path: String) throws(DataError) -> [UInt8] {
        var stream = z_stream()
        // windowBits 15 + 16 asks deflate for a gzip wrapper instead of zlib's.
        guard deflateInit2_(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
                            zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw DataError.io(path, "zlib deflateInit2 failed")
        }
        defer { deflateEnd(&stream) }
        var output: [UInt8] = []
        let chunk = UnsafeMutablePointer<UInt8>.allocate(capacity: chunkBytes)
        defer { chunk.deallocate() }
        var status = Z_OK
        input.withUnsafeBufferPointer { inputBuffer in
            var consumed = 0
            repeat {
                // avail_in is 32-bit: feed at most 1 GiB at a time.
                let piece = min(inputBuffer.count - consumed, 1 << 30)
                stream.next_in = UnsafeMutablePointer(mutating: inputBuffer.baseAddress.map { $0 + consumed })
                stream.avail_in = uInt(piece)
                consumed += piece
                let flush = consumed == inputBuffer.count ? Z_FINISH : Z_NO_FLUSH
                repeat {
                    stream.next_out = chunk
                    stream.avail_out = uInt(chunkBytes)
                    status = deflate(&stream, flush)
                    if status == Z_STREAM_ERROR { return }
                    output.append(contentsOf: UnsafeBufferPointer(start: chunk, count: chunkBytes - Int(stream.avail_out)))
                } while stream.avail_out == 0
            } while consumed < inputBuffer.count
        }
        guard status == Z_STREAM_END else {
            throw DataError.io(path, "zlib deflate failed (status \(status))")
        }
        return output
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
    }
}

/// Reads an IDX file's bytes in order: straight from the file, or through zlib when the file
/// starts with the gzip magic.
private struct PayloadReader: ~Copyable {
    let file: InputFile
    let isGzip: Bool
    private let gz: gzFile?
    private var offset = 0
    /// Set when zlib reached the end of the file in the middle of a gzip member.
    private(set) var endedEarly = false

    var fileSizeBytes: Int { file.sizeBytes }
    private var path: String { file.path }

    init(file: consuming InputFile) throws(DataError) {
        let handle = try Self.gzipHandle(file)
        self.file = file
        self.isGzip = handle != nil
        self.gz = handle
    }

    /// A zlib reader when the file starts with the gzip magic, nil for a raw file.
    private static func gzipHandle(_ file: borrowing InputFile) throws(DataError) -> gzFile? {
        guard try file.bytes(count: 2, at: 0) == [0x1F, 0x8B] else { return nil }
        // zlib closes the descriptor it is given; it gets a duplicate so InputFile keeps its own.
        let duplicate = dup(file.descriptor)
        guard duplicate >= 0, let handle = gzdopen(duplicate, "rb") else {
            let reason = String(cString: strerror(errno))
            if duplicate >= 0 { close(duplicate) }
            throw DataError.io(file.path, "cannot start gzip decompression (\(reason))")
        }
        gzbuffer(handle, UInt32(IDX.chunkBytes))
        return handle
    }

    deinit {
        if let gz { gzclose(gz) }
    }

    /// The next `count` bytes; fewer only at the end.
    mutating func bytes(count: Int) throws(DataError) -> [UInt8] {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 1)
        defer { buffer.deallocate() }
        let n = try read(into: buffer)
        return Array(buffer[0..<n])
    }

    /// Fills `buffer` as far as the data goes; returns the count (short only at the end).
    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(DataError) -> Int {
        guard let gz else {
            let n = try file.read(into: buffer, at: offset)
            offset += n
            return n
        }
        guard let base = buffer.baseAddress else { return 0 }
        var done = 0
        while done < buffer.count {
            let want = UInt32(min(buffer.count - done, Int(Int32.max)))
            let n = gzread(gz, base + done, want)
            if n < 0 {
                throw DataError.badData(path, "corrupt gzip stream (\(zlibMessage(gz))); expected valid gzip data")
            }
            if n == 0 { break }
            done += Int(n)
        }
        if done < buffer.count {
            var code: Int32 = 0
            _ = gzerror(gz, &code)
            if code == Z_BUF_ERROR {
                endedEarly = true
            } else if code != Z_OK {
                throw DataError.badData(path, "corrupt gzip stream (\(zlibMessage(gz))); expected valid gzip data")
            }
        }
        return done
    }

    private func zlibMessage(_ gz: gzFile) -> String {
        var code: Int32 = 0
        guard let message = gzerror(gz, &code) else { return "zlib error \(code)" }
        return String(cString: message)
    }
}
