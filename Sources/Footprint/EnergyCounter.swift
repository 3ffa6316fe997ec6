/// Wrap arithmetic for one `energy_uj` counter.
///
/// The counter counts microjoules up to `max_energy_range_uj` and then starts again from zero,
/// so a reading lower than the previous one means it wrapped: the energy in between is what was
/// left to the top of the range plus what has been counted since, `max - previous + current`.
/// That holds only if it wrapped once, which is why the sampler reads at least twice per wrap
/// period at a plausible maximum power.
public enum EnergyCounter {
    /// Microjoules between two readings, or nil when they cannot be reconciled (a decrease
    /// without a known range, or a previous value beyond the range): a missing interval, never zero.
    public static func deltaMicrojoules(previous: UInt64, current: UInt64, maxRange: UInt64?) -> UInt64? {
        if current >= previous { return current - previous }
        guard let maxRange, maxRange >= previous else { return nil }
        let (toTop, _) = maxRange.subtractingReportingOverflow(previous)
        let (sum, overflow) = toTop.addingReportingOverflow(current)
        return overflow ? nil : sum
    }
}

/// The running total of one counter, fed by successive readings.
struct CounterAccumulator: Sendable {
    let maxRange: UInt64?
    private(set) var lastRaw: UInt64?
    private(set) var totalMicrojoules: Double = 0
    private(set) var wraps = 0

    init(maxRange: UInt64?, initial: UInt64?) {
        self.maxRange = maxRange
        self.lastRaw = initial
    }

    enum Update: Equatable { case advanced, wrapped, unreconcilable, first }

    /// Adds the energy since the last good reading. `plausibleMaxMicrojoules` bounds a delta
    /// (power x elapsed time, with margin): a larger one is garbage, not energy.
    mutating func update(raw: UInt64, plausibleMaxMicrojoules: Double) -> Update {
        guard let previous = lastRaw else {
            lastRaw = raw
            return .first
        }
        guard let delta = EnergyCounter.deltaMicrojoules(previous: previous, current: raw, maxRange: maxRange),
              Double(delta) <= plausibleMaxMicrojoules else {
            // Start again from this reading; the interval is lost and reported, never zeroed.
            lastRaw = raw
            return .unreconcilable
        }
        lastRaw = raw
        totalMicrojoules += Double(delta)
        if raw < previous {
            wraps += 1
            return .wrapped
        }
        return .advanced
    }
}
