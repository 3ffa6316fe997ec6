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

    /// Units between two readings of a 64-bit counter that counts modulo 2^64, as NVML's total
    /// energy (mJ) does: exact across one wrap. A counter that restarted (the driver was
    /// reloaded) looks like a wrap to a huge delta, which the plausibility bound refuses.
    public static func deltaModulo64(previous: UInt64, current: UInt64) -> UInt64 {
        current &- previous
    }
}

/// The running total of one counter, fed by successive readings.
struct CounterAccumulator: Sendable {
    /// How the counter starts again from zero.
    enum Wrap: Sendable, Equatable {
        /// After `max_energy_range_uj` (RAPL); nil when the range is unknown.
        case atRange(UInt64?)
        /// Modulo 2^64 (NVML).
        case modulo64
    }

    let wrap: Wrap
    /// Microjoules per counter unit: 1 for RAPL's µJ, 1000 for NVML's mJ.
    let microjoulesPerUnit: Double
    private(set) var lastRaw: UInt64?
    private(set) var totalMicrojoules: Double = 0
    private(set) var wraps = 0

    init(wrap: Wrap, microjoulesPerUnit: Double = 1, initial: UInt64?) {
        self.wrap = wrap
        self.microjoulesPerUnit = microjoulesPerUnit
        self.lastRaw = initial
    }

    /// A RAPL counter in microjoules.
    init(maxRange: UInt64?, initial: UInt64?) {
        self.init(wrap: .atRange(maxRange), initial: initial)
    }

    enum Update: Equatable { case advanced, wrapped, unreconcilable, first }

    /// Adds the energy since the last good reading. `plausibleMaxMicrojoules` bounds a delta
    /// (power x elapsed time, with margin): a larger one is garbage, not energy.
    mutating func update(raw: UInt64, plausibleMaxMicrojoules: Double) -> Update {
        guard let previous = lastRaw else {
            lastRaw = raw
            return .first
        }
        let delta: UInt64? = switch wrap {
        case let .atRange(maxRange): EnergyCounter.deltaMicrojoules(previous: previous, current: raw, maxRange: maxRange)
        case .modulo64: EnergyCounter.deltaModulo64(previous: previous, current: raw)
        }
        guard let delta, Double(delta) * microjoulesPerUnit <= plausibleMaxMicrojoules else {
            // Start again from this reading; the interval is lost and reported, never zeroed.
            lastRaw = raw
            return .unreconcilable
        }
        lastRaw = raw
        totalMicrojoules += Double(delta) * microjoulesPerUnit
        if raw < previous {
            wraps += 1
            return .wrapped
        }
        return .advanced
    }
}
