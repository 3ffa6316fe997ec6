import Foundation
import Synchronization
@testable import Footprint

/// A powercap tree in a temporary folder, laid out like sysfs: control-type folder with nested
/// zones, plus top-level links to every zone.
final class FakePowercapTree: Sendable {
    let root: String

    init() throws {
        root = NSTemporaryDirectory() + "fmctl-powercap-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    /// Adds a zone at `relative` (e.g. `intel-rapl/intel-rapl:0/intel-rapl:0:0`) and, unless
    /// `link` is false, a top-level link named after its last component.
    @discardableResult
    func addZone(_ relative: String, name: String, energy: String = "1000000", maxRange: String? = "262143328850",
                 maxPowerMicrowatts: String? = nil, link: Bool = true) throws -> String {
        let path = root + "/" + relative
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try write(path + "/name", name + "\n")
        try write(path + "/energy_uj", energy + "\n")
        if let maxRange { try write(path + "/max_energy_range_uj", maxRange + "\n") }
        if let maxPowerMicrowatts { try write(path + "/constraint_0_max_power_uw", maxPowerMicrowatts + "\n") }
        try write(path + "/enabled", "1\n")
        if link {
            let id = (relative as NSString).lastPathComponent
            try FileManager.default.createSymbolicLink(atPath: root + "/" + id, withDestinationPath: relative)
        }
        return path
    }

    func write(_ path: String, _ text: String) throws {
        try text.write(toFile: path, atomically: false, encoding: .utf8)
    }

    /// Replaces a counter atomically (rename), as sysfs never shows half a number.
    func setEnergy(_ relative: String, _ microjoules: UInt64) {
        let path = root + "/" + relative + "/energy_uj"
        let temporary = path + ".tmp"
        try? "\(microjoules)\n".write(toFile: temporary, atomically: false, encoding: .utf8)
        rename(temporary, path)
    }

    /// A two-socket server: package-0/1 with nested dram and core, top-level links, and the
    /// same package-0 again through intel-rapl-mmio.
    static func twoSocketServer() throws -> FakePowercapTree {
        let tree = try FakePowercapTree()
        try FileManager.default.createDirectory(atPath: tree.root + "/intel-rapl", withIntermediateDirectories: true)
        try tree.addZone("intel-rapl/intel-rapl:0", name: "package-0", energy: "5000000000", maxPowerMicrowatts: "764000000")
        try tree.addZone("intel-rapl/intel-rapl:0/intel-rapl:0:0", name: "core", energy: "3000000000")
        try tree.addZone("intel-rapl/intel-rapl:0/intel-rapl:0:1", name: "dram", energy: "700000000", maxRange: "65712999613",
                         maxPowerMicrowatts: "122000000")
        try tree.addZone("intel-rapl/intel-rapl:1", name: "package-1", energy: "6100000000", maxPowerMicrowatts: "764000000")
        try tree.addZone("intel-rapl/intel-rapl:1/intel-rapl:1:0", name: "core", energy: "3300000000")
        try tree.addZone("intel-rapl/intel-rapl:1/intel-rapl:1:1", name: "dram", energy: "800000000", maxRange: "65712999613")
        try tree.addZone("intel-rapl-mmio/intel-rapl-mmio:0", name: "package-0", energy: "5000100000")
        return tree
    }

    /// A laptop: package-0 with core and uncore, and psys.
    static func laptop() throws -> FakePowercapTree {
        let tree = try FakePowercapTree()
        try tree.addZone("intel-rapl/intel-rapl:0", name: "package-0", energy: "90000000")
        try tree.addZone("intel-rapl/intel-rapl:0/intel-rapl:0:0", name: "core", energy: "40000000")
        try tree.addZone("intel-rapl/intel-rapl:0/intel-rapl:0:1", name: "uncore", energy: "2000000")
        try tree.addZone("intel-rapl/intel-rapl:1", name: "psys", energy: "300000000")
        return tree
    }

    /// A multi-die AMD part: one socket counter listed once per die.
    static func amdMultiDie() throws -> FakePowercapTree {
        let tree = try FakePowercapTree()
        try tree.addZone("intel-rapl/intel-rapl:0", name: "package-0-die-0", energy: "123456789000")
        try tree.addZone("intel-rapl/intel-rapl:1", name: "package-0-die-1", energy: "123456789000")
        return tree
    }
}

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

let testHost = HostInfo(hostname: "test", os: "Debian 12", cpuModel: "AMD EPYC", cpuCount: 2, sockets: 1, ramTotalGB: 24)

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
