#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A write that failed: the file the caller asked for, what failed and the system's reason,
/// so that a command can print one line and exit 74 (EX_IOERR, docs/exit-codes.md).
public struct FileWriteError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file the caller asked to write (never the temporary file).
    public let path: String
    /// What failed, with `strerror(errno)`'s text: `cannot replace the file (Is a directory)`.
    public let message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    /// `<path>: <message>`, one line.
    public var description: String { "\(path): \(message)" }
}

/// Writes that a crash cannot tear, for every file the project writes (run records,
/// checkpoints, data files, reports).
public enum FileWriter {
    /// Per-process count of temporary files, so that calls from several threads never share one.
    private static let temporaryCount = Atomic<UInt64>(0)

    /// Replaces (or creates) `path` with `bytes`: they go to a temporary file of a name unique
    /// to this call in the same directory, which is fsynced, closed and renamed over `path`
    /// (atomic within one file system); the directory is then fsynced so the rename itself
    /// survives a power cut. On a failure before the rename the temporary file is removed and
    /// an existing file at `path` is left exactly as it was.
    ///
    /// - Parameters:
    ///   - bytes: the whole new content.
    ///   - path: the file to replace; its directory must exist.
    /// - Throws: ``FileWriteError`` naming `path` and the failed step with the system's reason.
    public static func writeAtomically(_ bytes: [UInt8], to path: String) throws(FileWriteError) {
        let (directory, name) = split(path)
        guard !name.isEmpty else {
            throw FileWriteError(path: path, message: "cannot write: expected a file path, not a directory")
        }
        let temporary = temporaryPath(directory: directory, name: name)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 {
            throw FileWriteError(path: path, message: "cannot create a temporary file in \(directory) (\(lastError()))")
        }
        do throws(FileWriteError) {
            try writeAll(bytes, to: fd, path: path)
            if fsync(fd) != 0 { throw FileWriteError(path: path, message: "fsync failed (\(lastError()))") }
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        // close(2) can report a failed write-back (NFS, quota): the file is not known to be whole.
        if close(fd) != 0 {
            let reason = lastError()
            unlink(temporary)
            throw FileWriteError(path: path, message: "close failed (\(reason))")
        }
        if rename(temporary, path) != 0 {
            let reason = lastError()
            unlink(temporary)
            throw FileWriteError(path: path, message: "cannot replace the file (\(reason))")
        }
        try syncDirectory(directory, for: path)
    }

    /// Appends `bytes` to `path` (created if missing) and flushes them to disk, so a crash
    /// loses at most the rows being written.
    ///
    /// - Parameters:
    ///   - bytes: the bytes to add at the end.
    ///   - path: the file to extend; its directory must exist.
    /// - Throws: ``FileWriteError`` naming `path` and the failed step with the system's reason.
    public static func append(_ bytes: [UInt8], to path: String) throws(FileWriteError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        if fd < 0 { throw FileWriteError(path: path, message: "cannot open for appending (\(lastError()))") }
        do throws(FileWriteError) {
            try writeAll(bytes, to: fd, path: path)
            if fsync(fd) != 0 { throw FileWriteError(path: path, message: "fsync failed (\(lastError()))") }
        } catch {
            close(fd)
            throw error
        }
        if close(fd) != 0 { throw FileWriteError(path: path, message: "close failed (\(lastError()))") }
    }

    /// `<directory>/.<name>.tmp-<pid>-<count>-<random>`: the process id and count keep
    /// concurrent writers apart, the random part a file left by a crashed process whose id was
    /// reused; the leading dot hides it from listings.
    static func temporaryPath(directory: String, name: String) -> String {
        let count = temporaryCount.add(1, ordering: .relaxed).newValue
        let random = String(UInt32.random(in: .min ... .max), radix: 16)
        return directory + "/." + name + ".tmp-\(getpid())-\(count)-\(random)"
    }

    /// Splits `path` into its directory ("." when none) and last component.
    static func split(_ path: String) -> (directory: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let directory = String(path[..<slash])
        return (directory.isEmpty ? "/" : directory, String(path[path.index(after: slash)...]))
    }

    private static func writeAll(_ bytes: [UInt8], to fd: Int32, path: String) throws(FileWriteError) {
        var failure: FileWriteError?
        bytes.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            var done = 0
            while done < buffer.count {
                let written = write(fd, base + done, buffer.count - done)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = FileWriteError(path: path, message: "write failed after \(done) of \(buffer.count) bytes (\(lastError()))")
                    return
                }
                done += written
            }
        }
        if let failure { throw failure }
    }

    /// The rename is already done here, so a failure is reported but the new file is in place.
    /// File systems that cannot fsync a directory (EINVAL) give no stronger guarantee to ask for.
    private static func syncDirectory(_ directory: String, for path: String) throws(FileWriteError) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 {
            throw FileWriteError(path: path, message: "written, but cannot open \(directory) to make the rename durable (\(lastError()))")
        }
        defer { close(fd) }
        if fsync(fd) != 0 && errno != EINVAL {
            throw FileWriteError(path: path, message: "written, but fsync of \(directory) failed (\(lastError()))")
        }
    }

    private static func lastError() -> String { String(cString: strerror(errno)) }
}
