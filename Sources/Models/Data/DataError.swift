#if canImport(Glibc)
import Glibc
#endif

/// A data or checkpoint file that could not be used: the file (or option), what was expected,
/// and the sysexits code the command line exits with.
///
/// `description` is the one line printed on stderr: `"<path>: <message>"`.
public struct DataError: Error, CustomStringConvertible, Sendable, Equatable {
    /// EX_USAGE: an option value that cannot work (e.g. a validation split that leaves no data).
    public static let usageExitCode: Int32 = 64
    /// EX_DATAERR: the file exists but its content is wrong (corrupt IDX, checkpoint).
    public static let badDataExitCode: Int32 = 65
    /// EX_NOINPUT: the input file is missing or unreadable.
    public static let missingInputExitCode: Int32 = 66
    /// EX_SOFTWARE: the caller asked for something impossible (a tensor whose shape does not
    /// match its values); a bug in the calling code, reported instead of trapping.
    public static let softwareExitCode: Int32 = 70
    /// EX_IOERR: reading or writing failed part way (disk full, EIO, rename failed).
    public static let ioErrorExitCode: Int32 = 74

    /// The file (or command-line option) the error is about.
    public let path: String
    /// What was expected, and what was found instead.
    public let message: String
    /// The sysexits code for this error.
    public let exitCode: Int32

    public init(path: String, message: String, exitCode: Int32) {
        self.path = path
        self.message = message
        self.exitCode = exitCode
    }

    public var description: String { "\(path): \(message)" }

    static func badData(_ path: String, _ message: String) -> DataError {
        DataError(path: path, message: message, exitCode: badDataExitCode)
    }

    static func missingInput(_ path: String, _ message: String) -> DataError {
        DataError(path: path, message: message, exitCode: missingInputExitCode)
    }

    static func io(_ path: String, _ message: String) -> DataError {
        DataError(path: path, message: message, exitCode: ioErrorExitCode)
    }

    /// Maps a failed open(2)/stat(2) of an input file: a missing or unreadable file is EX_NOINPUT,
    /// anything else (EIO, too many open files) is EX_IOERR.
    static func openFailure(_ path: String, errno code: Int32, expected: String) -> DataError {
        let reason = String(cString: strerror(code))
        switch code {
        case ENOENT, ENOTDIR, EACCES, EPERM, ELOOP, ENAMETOOLONG, EISDIR:
            return missingInput(path, "cannot open (\(reason)); expected \(expected)")
        default:
            return io(path, "cannot open (\(reason)); expected \(expected)")
        }
    }
}
