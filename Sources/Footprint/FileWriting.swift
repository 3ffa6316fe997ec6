import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Durable writes for run records: a reader never sees a half-written run.json, and a crash
/// loses at most the row being written.
enum FileWriting {
    /// Writes `data` to a temporary file in the same folder, fsyncs it, renames it over `path`
    /// (atomic within one file system), then fsyncs the folder so the rename itself survives.
    static func writeAtomically(_ data: Data, to path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let temporary = (directory.isEmpty ? "." : directory) + "/." + (path as NSString).lastPathComponent + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FootprintError.ioError(path: temporary, reason: String(cString: strerror(errno))) }
        do {
            try writeAll(fd, data, path: temporary)
            guard fsync(fd) == 0 else { throw FootprintError.ioError(path: temporary, reason: String(cString: strerror(errno))) }
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw FootprintError.ioError(path: path, reason: reason)
        }
        let directoryFD = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
    }

    /// Appends `text` and flushes it to disk.
    static func append(_ text: String, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FootprintError.ioError(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        try writeAll(fd, Data(text.utf8), path: path)
        guard fsync(fd) == 0 else { throw FootprintError.ioError(path: path, reason: String(cString: strerror(errno))) }
    }

    private static func writeAll(_ fd: Int32, _ data: Data, path: String) throws {
        try data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
            var offset = 0
            while offset < buffer.count {
                let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw FootprintError.ioError(path: path, reason: String(cString: strerror(errno)))
                }
                offset += written
            }
        }
    }
}

/// Numbers in CSV cells: shortest round-trip form, empty for "not measured".
enum CSVNumber {
    static func format(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "" }
        return JSONValue.format(value)
    }

    static func format(_ value: Int?) -> String { value.map(String.init) ?? "" }
}
