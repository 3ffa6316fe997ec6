import FMSupport

/// Whole-file writes that a crash cannot tear (FMSupport's `FileWriter.writeAtomically(_:to:)`:
/// a temporary file in the target's directory, fsynced, renamed over the target, the directory
/// fsynced). On any failure an existing file at `path` is left exactly as it was.
public enum AtomicFile {
    /// Replaces (or creates) `path` with `bytes`.
    ///
    /// - Parameters:
    ///   - bytes: the whole new content.
    ///   - path: the file to replace; its directory must exist.
    /// - Throws: ``DataError`` with exit code 74 naming `path` and the failed step.
    public static func write(_ bytes: [UInt8], to path: String) throws(DataError) {
        do throws(FileWriteError) {
            try FileWriter.writeAtomically(bytes, to: path)
        } catch {
            throw DataError.io(error.path, error.message)
        }
    }
}
