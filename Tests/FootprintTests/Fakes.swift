import Foundation
import Synchronization
@testable import Footprint

/// Wraps the real reader and fails chosen files, as an unprivileged user or a flaky bus would.
final class FailingReader: PowercapFileReader {
    enum Mode: Sendable { case none, permissionDenied, ioError }
    private let failures = Mutex<[String: Mode]>([:])
    private let system = SystemPowercapFileReader()

    func fail(_ path: String, _ mode: Mode) { failures.withLock { $0[path] = mode } }

    func contents(ofFile path: String) throws(PowercapReadError) -> String {
        switch failures.withLock({ $0[path] ?? .none }) {
        case .none: return try system.contents(ofFile: path)
        case .permissionDenied: throw .permissionDenied
        case .ioError: throw .io(code: 5, message: "Input/output error")
        }
    }

    func entries(ofDirectory path: String) -> [String] { system.entries(ofDirectory: path) }
    func resolvedPath(_ path: String) -> String? { system.resolvedPath(path) }
    func isDirectory(_ path: String) -> Bool { system.isDirectory(path) }
}

/// Serves `energy_uj` of chosen zones from the clock: each counter advances at a known power,
/// continuously, modulo its range, whenever it is read; other files come from the tree.
/// Unlike a writer thread it is never stale when the machine is busy, so energy can be
/// checked against power x time to well within 1 %.
final class ClockedCounterReader: PowercapFileReader {
    struct Counter: Sendable {
        var watts: Double
        var startMicrojoules: Double
        var maxRange: Double
    }

    private let counters: [String: Counter]
    private let start = ProcessUsage.monotonicSeconds()
    private let system = SystemPowercapFileReader()

    /// `counters` maps a zone folder (as listed under the root) to its counter.
    init(tree: FakePowercapTree, counters: [String: Counter]) {
        var byPath: [String: Counter] = [:]
        for (relative, counter) in counters {
            byPath[(SystemPowercapFileReader().resolvedPath(tree.root + "/" + relative) ?? "") + "/energy_uj"] = counter
        }
        self.counters = byPath
    }

    func contents(ofFile path: String) throws(PowercapReadError) -> String {
        guard let counter = counters[path] else { return try system.contents(ofFile: path) }
        let energy = counter.startMicrojoules + counter.watts * (ProcessUsage.monotonicSeconds() - start) * 1e6
        return "\(UInt64(energy.truncatingRemainder(dividingBy: counter.maxRange)))\n"
    }

    func entries(ofDirectory path: String) -> [String] { system.entries(ofDirectory: path) }
    func resolvedPath(_ path: String) -> String? { system.resolvedPath(path) }
    func isDirectory(_ path: String) -> Bool { system.isDirectory(path) }
}

/// The machine the run records and trackers of these tests describe.
let testHost = HostInfo(hostname: "test", os: "Debian 12", cpuModel: "AMD EPYC", cpuCount: 2, sockets: 1, ramTotalGB: 24)
