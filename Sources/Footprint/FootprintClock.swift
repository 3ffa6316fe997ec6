import Foundation

/// Time as the footprint reads it: a monotonic clock and a way to wait on it.
///
/// Window durations, power between reads, the plausibility bound on counter deltas, sampled
/// GPU power and the mirror check all take their time from one clock. A test hands the tracker
/// a clock it advances itself (with background sampling off, placing each read where it wants),
/// so its figures are the same on a loaded machine as on an idle one.
public protocol FootprintClock: Sendable {
    /// Seconds on a monotonic scale; only differences mean anything.
    func monotonicSeconds() -> Double
    /// Waits `seconds` on this clock.
    func sleep(seconds: Double)
}

/// `CLOCK_MONOTONIC` and a real sleep.
public struct SystemClock: FootprintClock {
    public init() {}

    public func monotonicSeconds() -> Double { ProcessUsage.monotonicSeconds() }

    public func sleep(seconds: Double) { Thread.sleep(forTimeInterval: max(0, seconds)) }
}
