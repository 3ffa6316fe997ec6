import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Why a powercap file could not be read. A failed read is a missing sample, never zero.
public enum PowercapReadError: Error, Equatable, Sendable, CustomStringConvertible {
    /// EACCES/EPERM: `energy_uj` is root-only on most distributions since CVE-2020-8694.
    case permissionDenied
    case notFound
    /// Any other errno (EIO, ENODATA ...), with its text.
    case io(code: Int32, message: String)

    public var description: String {
        switch self {
        case .permissionDenied: return "permission denied"
        case .notFound: return "no such file"
        case let .io(code, message): return "\(message) (errno \(code))"
        }
    }
}

/// The file-system layer Footprint reads powercap trees through. Tests (which run as root)
/// inject permission and I/O failures by wrapping `SystemPowercapFileReader`.
public protocol PowercapFileReader: Sendable {
    /// The whole contents of a small sysfs file.
    func contents(ofFile path: String) throws(PowercapReadError) -> String
    /// Names of the entries in a folder (files, folders, links), unsorted.
    func entries(ofDirectory path: String) -> [String]
    /// The canonical path with every link resolved, or nil if it does not exist.
    func resolvedPath(_ path: String) -> String?
    func isDirectory(_ path: String) -> Bool
}

/// Reads the real file system with open(2)/read(2), so errno is kept exact.
public struct SystemPowercapFileReader: PowercapFileReader {
    public init() {}

    public func contents(ofFile path: String) throws(PowercapReadError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw Self.error(errno) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Self.error(errno)
            }
            if count == 0 { break }
            bytes.append(contentsOf: buffer[0..<count])
            // sysfs attributes are at most a page; stop runaway reads of odd files.
            if bytes.count > 1 << 16 { break }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    public func entries(ofDirectory path: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
    }

    public func resolvedPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    public func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    static func error(_ code: Int32) -> PowercapReadError {
        switch code {
        case EACCES, EPERM: return .permissionDenied
        case ENOENT, ENOTDIR: return .notFound
        default: return .io(code: code, message: String(cString: strerror(code)))
        }
    }
}

extension PowercapFileReader {
    /// A non-negative integer file such as `energy_uj`; anything else (empty, text, negative,
    /// beyond UInt64) is bad data, reported as an error rather than trapped on.
    func unsignedValue(ofFile path: String) -> Result<UInt64, PowercapValueError> {
        do {
            let text = try contents(ofFile: path).trimmingCharacters(in: .whitespacesAndNewlines)
            guard let value = UInt64(text) else { return .failure(.badValue(text)) }
            return .success(value)
        } catch {
            return .failure(.read(error))
        }
    }

    func trimmedContents(ofFile path: String) -> String? {
        guard let text = try? contents(ofFile: path) else { return nil }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// A counter file that could not be turned into a number.
enum PowercapValueError: Error, Equatable, Sendable, CustomStringConvertible {
    case read(PowercapReadError)
    case badValue(String)

    var description: String {
        switch self {
        case let .read(error): return error.description
        case let .badValue(text):
            let shown = text.isEmpty ? "empty file" : "'\(text.prefix(40))'"
            return "not a non-negative integer: \(shown)"
        }
    }
}
