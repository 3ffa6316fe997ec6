#if canImport(Glibc)
import Glibc
#endif

/// An input file opened for reading, with its size taken once at open time.
///
/// The size lets parsers reject a length field larger than the file before allocating anything.
struct InputFile: ~Copyable {
    let path: String
    let descriptor: Int32
    let sizeBytes: Int

    /// Opens a regular file; `expected` says what the file should be, for the error message.
    init(path: String, expected: String) throws(DataError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            throw DataError.openFailure(path, errno: errno, expected: expected)
        }
        var info = stat()
        if fstat(fd, &info) != 0 {
            let code = errno
            close(fd)
            throw DataError.openFailure(path, errno: code, expected: expected)
        }
        if (info.st_mode & S_IFMT) != S_IFREG {
            close(fd)
            throw DataError.missingInput(path, "not a regular file; expected \(expected)")
        }
        self.path = path
        self.descriptor = fd
        self.sizeBytes = Int(info.st_size)
    }

    deinit { close(descriptor) }

    /// Reads up to `count` bytes at `offset` into `buffer`; returns how many were read (fewer only at end of file).
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws(DataError) -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        var done = 0
        while done < buffer.count {
            let n = pread(descriptor, base + done, buffer.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw DataError.io(path, "read failed (\(String(cString: strerror(errno))))")
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Up to `count` bytes at `offset`; fewer only at the end of the file.
    func bytes(count: Int, at offset: Int) throws(DataError) -> [UInt8] {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 1)
        defer { buffer.deallocate() }
        let n = try read(into: buffer, at: offset)
        return Array(buffer[0..<n])
    }

    /// The whole file; it is read to its size at open time, so a file that shrinks meanwhile is an I/O error.
    func readAll() throws(DataError) -> [UInt8] {
        var failure: DataError?
        let bytes = [UInt8](unsafeUninitializedCapacity: sizeBytes) { buffer, initialized in
            do throws(DataError) {
                initialized = try read(into: UnsafeMutableRawBufferPointer(buffer), at: 0)
            } catch {
                failure = error
                initialized = 0
            }
        }
        if let failure { throw failure }
        if bytes.count != sizeBytes {
            throw DataError.io(path, "file shrank while being read (expected \(sizeBytes) bytes, got \(bytes.count))")
        }
        return bytes
    }
}
