import Foundation
import Synchronization

/// A powercap tree laid out like sysfs (`intel-rapl/intel-rapl:0` plus a top-level link) with
/// one package-0 zone, for `fmctl train --powercap-root DIR`.
struct FakePowercapTree {
    let root: String
    static let zone = "intel-rapl/intel-rapl:0"

    var zonePath: String { root + "/" + Self.zone }
    var energyPath: String { zonePath + "/energy_uj" }

    /// `energy` is written as given (valid or not); `maxPowerMicrowatts` sets
    /// `constraint_0_max_power_uw`, from which fmctl derives its sampling interval.
    init(root: String, energy: String, maxRangeMicrojoules: UInt64 = 262_143_328_850, maxPowerMicrowatts: UInt64? = nil) throws {
        self.root = root
        let manager = FileManager.default
        try manager.createDirectory(atPath: root + "/" + Self.zone, withIntermediateDirectories: true)
        func write(_ name: String, _ text: String) throws {
            try Data(text.utf8).write(to: URL(fileURLWithPath: root + "/" + Self.zone + "/" + name))
        }
        try write("name", "package-0\n")
        try write("energy_uj", energy)
        try write("max_energy_range_uj", "\(maxRangeMicrojoules)\n")
        try write("enabled", "1\n")
        if let maxPowerMicrowatts { try write("constraint_0_max_power_uw", "\(maxPowerMicrowatts)\n") }
        try manager.createSymbolicLink(atPath: root + "/intel-rapl:0", withDestinationPath: Self.zone)
    }
}

/// Advances a fake `energy_uj` at a constant power from a background thread: every `period`
/// it writes `start + watts x elapsed` (modulo the counter's range) through a rename, as sysfs
/// never shows half a number. The value is computed from the clock at each write, so it is
/// at most one period stale whenever fmctl reads it.
final class PoweredCounter: Sendable {
    let path: String
    let watts: Double
    let maxRangeMicrojoules: UInt64
    let startMicrojoules: UInt64
    private let stopped = Atomic<Bool>(false)
    private let done = Mutex<Bool>(false)
    private let period: Double

    init(path: String, watts: Double, maxRangeMicrojoules: UInt64, startMicrojoules: UInt64 = 1_000_000, period: Double = 0.001) {
        self.path = path
        self.watts = watts
        self.maxRangeMicrojoules = maxRangeMicrojoules
        self.startMicrojoules = startMicrojoules
        self.period = period
    }

    func start() {
        write(elapsed: 0)
        let began = Date()
        let thread = Thread { [self] in
            while !stopped.load(ordering: .relaxed) {
                write(elapsed: Date().timeIntervalSince(began))
                Thread.sleep(forTimeInterval: period)
            }
            done.withLock { $0 = true }
        }
        thread.start()
    }

    func stop() {
        stopped.store(true, ordering: .relaxed)
        while !done.withLock({ $0 }) { Thread.sleep(forTimeInterval: 0.001) }
    }

    private func write(elapsed: Double) {
        let energy = (Double(startMicrojoules) + watts * elapsed * 1e6).truncatingRemainder(dividingBy: Double(maxRangeMicrojoules))
        let temporary = path + ".tmp"
        try? Data("\(UInt64(energy))\n".utf8).write(to: URL(fileURLWithPath: temporary))
        rename(temporary, path)
    }
}
