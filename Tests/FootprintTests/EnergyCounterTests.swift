import Testing
@testable import Footprint

@Suite struct EnergyCounterTests {
    @Test func delta_withoutWrap() {
        #expect(EnergyCounter.deltaMicrojoules(previous: 100, current: 350, maxRange: 1000) == 250)
    }

    @Test func delta_acrossWrap_isMaxMinusPreviousPlusCurrent() {
        #expect(EnergyCounter.deltaMicrojoules(previous: 900, current: 50, maxRange: 1000) == 150)
        #expect(EnergyCounter.deltaMicrojoules(previous: UInt64.max - 1, current: 3, maxRange: UInt64.max) == 4)
    }

    @Test func delta_unreconcilable_isNilNotZero() {
        // A decrease with no known range, or a previous value beyond the range.
        #expect(EnergyCounter.deltaMicrojoules(previous: 900, current: 50, maxRange: nil) == nil)
        #expect(EnergyCounter.deltaMicrojoules(previous: 2000, current: 50, maxRange: 1000) == nil)
    }

    @Test func accumulator_sumsThroughWrapsAndRejectsGarbageJumps() {
        var counter = CounterAccumulator(maxRange: 1_000_000, initial: nil)
        #expect(counter.update(raw: 900_000, plausibleMaxMicrojoules: 1e9) == .first)
        #expect(counter.update(raw: 100_000, plausibleMaxMicrojoules: 1e9) == .wrapped)
        #expect(counter.update(raw: 300_000, plausibleMaxMicrojoules: 1e9) == .advanced)
        #expect(counter.totalMicrojoules == 400_000)
        #expect(counter.wraps == 1)
        // A jump far beyond plausible power is a lost interval, not energy.
        #expect(counter.update(raw: 999_999, plausibleMaxMicrojoules: 10_000) == .unreconcilable)
        #expect(counter.totalMicrojoules == 400_000)
        #expect(counter.update(raw: 999_999 + 0, plausibleMaxMicrojoules: 10_000) == .advanced)
    }
}
