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

/// A clock that moves only when told: `advance`, or a `sleep` on it (the idle baseline).
final class ManualClock: FootprintClock {
    private let now = Mutex<Double>(1_000)

    func monotonicSeconds() -> Double { now.withLock { $0 } }
    func sleep(seconds: Double) { advance(seconds) }
    func advance(_ seconds: Double) { now.withLock { $0 += seconds } }
}

/// Serves `energy_uj` of chosen zones from a clock: each counter advances at a known power,
/// continuously, modulo its range, whenever it is read; other files come from the tree.
/// On a `ManualClock` shared with the tracker, energy is power x time to the microjoule
/// whatever else the machine is doing.
final class ClockedCounterReader: PowercapFileReader {
    struct Counter: Sendable {
        var watts: Double
        var startMicrojoules: Double
        var maxRange: Double
    }

    private let counters: [String: Counter]
    private let clock: any FootprintClock
    private let start: Double
    private let system = SystemPowercapFileReader()

    /// `counters` maps a zone folder (as listed under the root) to its counter; two folders
    /// may share one counter's settings to serve a mirror.
    init(tree: FakePowercapTree, clock: any FootprintClock, counters: [String: Counter]) {
        var byPath: [String: Counter] = [:]
        for (relative, counter) in counters {
            byPath[(SystemPowercapFileReader().resolvedPath(tree.root + "/" + relative) ?? "") + "/energy_uj"] = counter
        }
        self.counters = byPath
        self.clock = clock
        start = clock.monotonicSeconds()
    }

    func contents(ofFile path: String) throws(PowercapReadError) -> String {
        guard let counter = counters[path] else { return try system.contents(ofFile: path) }
        // Rounded to the microjoule, so that steps of the clock give whole, repeatable deltas.
        let energy = (counter.startMicrojoules + counter.watts * (clock.monotonicSeconds() - start) * 1e6).rounded()
        return "\(UInt64(energy.truncatingRemainder(dividingBy: counter.maxRange)))\n"
    }

    func entries(ofDirectory path: String) -> [String] { system.entries(ofDirectory: path) }
    func resolvedPath(_ path: String) -> String? { system.resolvedPath(path) }
    func isDirectory(_ path: String) -> Bool { system.isDirectory(path) }
}

/// One `energy_uj` that advances by a fixed step at every read of it, whoever reads it: a
/// window's energy is then exactly one step per read it saw after its first.
final class SteppingCounterReader: PowercapFileReader {
    private let path: String
    private let stepMicrojoules: UInt64
    private let value = Mutex<UInt64>(0)
    private let system = SystemPowercapFileReader()

    init(tree: FakePowercapTree, zone: String, stepMicrojoules: UInt64) {
        path = (SystemPowercapFileReader().resolvedPath(tree.root + "/" + zone) ?? "") + "/energy_uj"
        self.stepMicrojoules = stepMicrojoules
    }

    func contents(ofFile path: String) throws(PowercapReadError) -> String {
        guard path == self.path else { return try system.contents(ofFile: path) }
        let current = value.withLock { value in
            defer { value += stepMicrojoules }
            return value
        }
        return "\(current)\n"
    }

    func entries(ofDirectory path: String) -> [String] { system.entries(ofDirectory: path) }
    func resolvedPath(_ path: String) -> String? { system.resolvedPath(path) }
    func isDirectory(_ path: String) -> Bool { system.isDirectory(path) }
}

/// A tracker for these tests on the powercap tree at `root`. The machine's own GPUs never join
/// in: GPUs are measured only through a fake NVML given by path (`nvmlLibrary`, all its GPUs
/// unless `gpus` says otherwise). With a manual clock there is no background sampler: the test
/// places every read (window boundaries, `sample()`) and moves time itself, so nothing depends
/// on how busy the machine is.
func testTracker(root: String, reader: any PowercapFileReader = SystemPowercapFileReader(), interval: Double? = nil,
                 cpuTDPWatts: Double? = nil, clock: ManualClock? = nil, nvmlLibrary: String? = nil,
                 gpus: GPUSelection = .all) -> EnergyTracker {
    var configuration = FootprintConfiguration(powercapRoot: root, sampleIntervalSeconds: interval, cpuTDPWatts: cpuTDPWatts,
                                               reader: reader, host: testHost, clock: clock ?? SystemClock(),
                                               gpus: nvmlLibrary == nil ? GPUSelection.indices([]) : gpus)
    configuration.backgroundSampling = clock == nil
    if let nvmlLibrary { configuration.nvmlLibrary = nvmlLibrary }
    return EnergyTracker(configuration: configuration)
}

/// The machine the run records and trackers of these tests describe.
let testHost = HostInfo(hostname: "test", os: "Debian 12", cpuModel: "AMD EPYC", cpuCount: 2, sockets: 1, ramTotalGB: 24)
