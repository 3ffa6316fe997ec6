import Foundation
import Synchronization

/// Advances a fake `energy_uj` at a constant power from a background thread: every `period`
/// it writes `start + watts x elapsed` (modulo the counter's range) through a rename, as sysfs
/// never shows half a number. The value is computed from the clock at each write, so it is
/// at most one period stale whenever fmctl reads it.
public final class PoweredCounter: Sendable {
    private let path: String
    private let watts: Double
    private let maxRangeMicrojoules: UInt64
    private let startMicrojoules: UInt64
    private let stopped = Atomic<Bool>(false)
    private let done = Mutex<Bool>(false)
    private let period: Double

    public init(path: String, watts: Double, maxRangeMicrojoules: UInt64, startMicrojoules: UInt64 = 1_000_000, period: Double = 0.001) {
        self.path = path
        self.watts = watts
        self.maxRangeMicrojoules = maxRangeMicrojoules
        self.startMicrojoules = startMicrojoules
        self.period = period
    }

    public func start() {
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

    public func stop() {
        stopped.store(true, ordering: .relaxed)
        while !done.withLock({ $0 }) { Thread.sleep(forTimeInterval: 0.001) }
    }

    private func write(elapsed: Double) {
        let energy = (Double(startMicrojoules) + watts * elapsed * 1e6).truncatingRemainder(dividingBy: Double(maxRangeMicrojoules))
        replaceCounter(path, microjoules: UInt64(energy))
    }
}
