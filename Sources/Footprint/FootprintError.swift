import FMSupport
import Foundation

/// The Footprint module's version, recorded in run.json `versions`.
public enum FootprintVersion {
    public static let string = "0.1.0"
}

/// Errors a Footprint user can act on. Each describes itself in one line that names the
/// file or option and what was expected, and maps to a sysexits code for the command line.
public enum FootprintError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A command-line or configuration value is out of range or unknown (EX_USAGE, 64).
    case invalidOption(option: String, value: String, expected: String)
    /// A configuration file (e.g. `fmctl.toml`) has a line that cannot be parsed (EX_DATAERR, 65).
    case invalidConfigFile(path: String, line: Int, expected: String)
    /// A data file (powercap counter, run.json) holds something unusable (EX_DATAERR, 65).
    case badData(path: String, expected: String)
    /// A file or folder that was asked for does not exist (EX_NOINPUT, 66).
    case missingInput(path: String, expected: String)
    /// A file or folder could not be created (EX_IOERR, 74: docs/exit-codes.md has no
    /// separate "cannot create", so scripts see every failed write as 74).
    case cannotCreate(path: String, reason: String)
    /// Reading or writing failed part-way (EX_IOERR, 74).
    case ioError(path: String, reason: String)
    /// The windows API was used out of order, e.g. ending a window never begun (EX_SOFTWARE, 70).
    case windowMisuse(name: String, reason: String)

    public var description: String {
        switch self {
        case let .invalidOption(option, value, expected):
            return "\(option) '\(value)': expected \(expected)"
        case let .invalidConfigFile(path, line, expected):
            return "\(path):\(line): expected \(expected)"
        case let .badData(path, expected):
            return "\(path): expected \(expected)"
        case let .missingInput(path, expected):
            return "\(path): not found; expected \(expected)"
        case let .cannotCreate(path, reason):
            return "\(path): cannot create: \(reason)"
        case let .ioError(path, reason):
            return "\(path): I/O error: \(reason)"
        case let .windowMisuse(name, reason):
            return "window '\(name)': \(reason)"
        }
    }

    /// The sysexits(3) code a command exits with for this error.
    public var exitCode: Int32 {
        switch self {
        case .invalidOption: return 64
        case .invalidConfigFile, .badData: return 65
        case .missingInput: return 66
        case .windowMisuse: return 70
        case .cannotCreate, .ioError: return 74
        }
    }
}

extension FootprintError {
    /// A failed write as an I/O error (74) naming the file and the failed step.
    ///
    /// - Parameter error: what `FMSupport.FileWriter` threw.
    public init(_ error: FileWriteError) {
        self = .ioError(path: error.path, reason: error.message)
    }
}
