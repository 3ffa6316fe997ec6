#if canImport(Glibc)
import Glibc
#endif

/// Whole-file writes that a crash cannot tear: the bytes go to a temporary file in the target's
/// directory, which is fsynced and then renamed over the target; the directory is fsynced so the
/// rename itself survives a power cut. On any failure the temporary file is removed and an
/// existing file at `path` is left exactly as it was.
public enum AtomicFile {
    /// Replaces (or creates) `path` with `bytes`. Errors are ``DataError`` with exit code 74.
    public static func write(_ bytes: [UInt8], to path: String) throws(DataError) {
        let (directory, name) = split(path)
        guard !name.isEmpty else {
            throw DataError.io(path, "cannot write: expected a file path, not a directory")
        }
        let temporaryPath = directory + "/." + name + ".tmp-\(getpid())-\(UInt32.random(in: .min ... .max))"
        let fd = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 {
            throw DataError.io(path, "cannot create a temporary file in \(directory) (\(lastError()))")
        }
        do throws(DataError) {
            try writeAll(bytes, to: fd, path: path)
            if fsync(fd) != 0 {
                throw DataError.io(path, "fsync failed (\(lastError()))")
            }
        } catch {
            close(fd)
            unlink(temporaryPath)
            throw error
        }
        if close(fd) != 0 {
            let reason = lastError()
            unlink(temporaryPath)
            throw DataError.io(path, "close failed (\(reason))")
        }
        if rename(temporaryPath, path) != 0 {
            let reason = lastError()
            unlink(temporaryPath)
            throw DataError.io(path, "cannot replace the file (\(reason))")
        }
        try syncDirectory(directory, for: path)
    }

    /// Splits `path` into its directory ("." when none) and last component.
    static func split(_ path: String) -> (directory: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let directory = String(path[..<slash])
        return (directory.isEmpty ? "/" : directory, String(path[path.index(after: slash)...]))
    }

    private static func writeAll(_ bytes: [UInt8], to fd: Int32, path: String) throws(DataError) {
        var failure: DataError?
        bytes.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            var done = 0
            while done < buffer.count {
                let n = Glibc.write(fd, base + done, buffer.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = DataError.io(path, "write failed after \(done) of \(buffer.count) bytes (\(lastError()))")
                    return
                }
                done += n
            }
        }
        if let failure { throw failure }
    }

    /// The rename is already done here, so a failure is reported but the new file is in place.
    /// File systems that cannot fsync a directory (EINVAL) give no stronger guarantee to ask for.
    private static func syncDirectory(_ directory: String, for path: String) throws(DataError) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 {
            throw DataError.io(path, "written, but cannot open \(directory) to make the rename durable (\(lastError()))")
        }
        defer { close(fd) }
        if fsync(fd) != 0 && errno != EINVAL {
            throw DataError.io(path, "written, but fsync of \(directory) failed (\(lastError()))")
        }
    }

    private static func lastError() -> String { String(cString: strerror(errno)) }
}
