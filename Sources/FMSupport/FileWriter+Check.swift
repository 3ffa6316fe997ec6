#if canImport(Glibc)
import Glibc
#endif

extension FileWriter {
    /// Checks, before anything is written, that ``writeAtomically(_:to:)`` can replace `path`:
    /// it is not a folder, and a temporary file can be created (and is removed again) in its
    /// folder. The file itself is not touched. A command calls this for an output file it will
    /// write much later (e.g. after the first training epoch), so that a bad path stops it at once.
    ///
    /// - Parameter path: the file to check; its directory must exist.
    /// - Throws: ``FileWriteError`` naming `path`, with the folder and the system's reason.
    public static func checkReplaceable(_ path: String) throws(FileWriteError) {
        let (directory, name) = split(path)
        var info = stat()
        if name.isEmpty || (stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR) {
            throw FileWriteError(path: path, message: "is a folder; expected a file path")
        }
        let temporary = temporaryPath(directory: directory, name: name)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 {
            throw FileWriteError(path: path, message: "cannot create a file in \(directory) (\(String(cString: strerror(errno))))")
        }
        close(fd)
        unlink(temporary)
    }
}
