import Foundation

/// A folder of its own under the system's temporary directory, removed with all it holds when
/// the value is released. `mkdtemp` makes the name unique even across test processes running
/// at the same time.
///
/// Creating one cannot throw, so that a suite can hold one as a stored property: Swift Testing
/// makes a new suite value for every test, so each test gets a fresh folder that lives as long
/// as the test does.
public final class TemporaryDirectory: Sendable {
    public let path: String

    public init() {
        let base = NSTemporaryDirectory()
        var template = Array(((base.hasSuffix("/") ? base : base + "/") + "fmctl-test-XXXXXX").utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(created != nil, "mkdtemp failed: \(String(cString: strerror(errno)))")
        path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// The path of `relative` inside the folder (whether or not it exists).
    public func file(_ relative: String) -> String { path + "/" + relative }

    public func exists(_ relative: String) -> Bool { FileManager.default.fileExists(atPath: file(relative)) }

    /// Writes `bytes` to `relative`, replacing what was there, and returns the file's path.
    @discardableResult
    public func write(_ relative: String, bytes: [UInt8]) throws -> String {
        let target = file(relative)
        try Data(bytes).write(to: URL(fileURLWithPath: target))
        return target
    }

    /// Writes `text` (UTF-8) to `relative`, replacing what was there.
    public func write(_ relative: String, _ text: String) throws {
        try write(relative, bytes: Array(text.utf8))
    }

    public func bytes(_ relative: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: file(relative))))
    }

    public func text(_ relative: String) throws -> String {
        try String(contentsOfFile: file(relative), encoding: .utf8)
    }

    /// The names directly inside the folder, sorted.
    public func listing() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }
}
