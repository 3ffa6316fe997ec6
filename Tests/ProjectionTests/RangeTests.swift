import Testing
@testable import Projection

/// Ranges `a..b` through the formulas: each end of each output is the formula at the ends of
/// the inputs that give it, in the direction the formula moves.
@Suite struct RangeTests {
    static let base: OptionValues = [(\.flops, "3e23"), (\.accelerator, "a100-80gb"), (\.count, "1000"), (\.pricePerKWh, "0.1")]

    /// Days fall as the MFU rises: the low end of the days comes from the high end of the MFU.
    @Test func days_decreaseWithMFU() throws {
        let range = try #require(try project(Self.base + [(\.mfu, "0.2..0.5")]).training)
        let atLow = try #require(try project(Self.base + [(\.mfu, "0.2")]).training)
        let atHigh = try #require(try project(Self.base + [(\.mfu, "0.5")]).training)
        #expect(range.days == Interval(low: atHigh.days.low, high: atLow.days.low))
        #expect(range.days.low < range.days.high)
        #expect(range.cost.energyKWh == Interval(low: atHigh.cost.energyKWh.low, high: atLow.cost.energyKWh.low))
        #expect(range.cost.co2eKg.low < range.cost.co2eKg.high)
        #expect(try #require(range.cost.energyCost).low < (try #require(range.cost.energyCost)).high)
    }

    /// Energy rises with power, PUE and the FLOPs; CO2e also with the intensity; days do not move with power.
    @Test func energy_increasesWithPowerPUEAndFLOPs() throws {
        let single = try #require(try project(Self.base).training)
        let power = try #require(try project(Self.base + [(\.averagePowerWatts, "300..400")]).training)
        #expect(power.days == single.days)
        #expect(power.cost.energyKWh.low < power.cost.energyKWh.high)
        #expect(abs(power.cost.energyKWh.high / power.cost.energyKWh.low - 4.0 / 3.0) < 1e-12)
        let pue = try #require(try project(Self.base + [(\.pue, "1.1..1.5")]).training)
        #expect(abs(pue.cost.energyKWh.high / pue.cost.energyKWh.low - 1.5 / 1.1) < 1e-12)
        let intensity = try #require(try project(Self.base + [(\.carbonIntensity, "100..500")]).training)
        #expect(intensity.cost.energyKWh.isExact)
        #expect(abs(intensity.cost.co2eKg.high / intensity.cost.co2eKg.low - 5) < 1e-12)
        let work = try #require(try project([(\.params, "1e9..2e9"), (\.tokens, "1e10..3e10"), (\.accelerator, "v100")]).training)
        #expect(try #require(work.flops) == Interval(low: 6e19, high: 3.6e20))
    }

    /// A range of accelerator counts changes the days, not the energy: the same FLOPs at the
    /// same rate cost the same accelerator-hours however many share them.
    @Test func count_changesDaysNotEnergy() throws {
        let training = try #require(try project([(\.flops, "3e23"), (\.accelerator, "h100-sxm"), (\.count, "500..2000")]).training)
        #expect(training.cost.energyKWh.isExact && training.cost.acceleratorHours.isExact)
        #expect(abs(training.days.high / training.days.low - 4) < 1e-12)
    }

    /// With `--days`, more accelerators or days mean more energy; a range of days gives a range of MFU implied.
    @Test func givenDays_rangeOfCount() throws {
        let training = try #require(try project([(\.flops, "1e22"), (\.accelerator, "v100"), (\.count, "100..200"),
                                                 (\.days, "10..20")]).training)
        #expect(abs(training.cost.energyKWh.high / training.cost.energyKWh.low - 4) < 1e-12)
        let implied = try #require(training.impliedMFU)
        #expect(abs(implied.high / implied.low - 4) < 1e-12)
    }

    @Test func inference_rangeOfTokens() throws {
        let inference = try #require(try project([(\.params, "7e9"), (\.inferenceTokensPerDay, "1e9..4e9"),
                                                   (\.accelerator, "a100-40gb"), (\.queryTokens, "200..800")]).inference)
        #expect(abs(inference.perDay.energyKWh.high / inference.perDay.energyKWh.low - 4) < 1e-12)
        #expect(abs(inference.perThousandQueries.energyKWh.high / inference.perThousandQueries.energyKWh.low - 4) < 1e-12)
    }

    @Test(arguments: [("3", Interval(3)), ("0.3..0.5", Interval(low: 0.3, high: 0.5)), ("1e9..1e9", Interval(1e9)),
                      (" 2 .. 4 ", Interval(low: 2, high: 4))])
    func parse_numbersAndRanges(_ text: String, _ expected: Interval) throws {
        #expect(try Interval.parse(text, option: "--x", expected: "a number > 0") { $0 > 0 } == expected)
    }

    @Test func intervalArithmetic_atTheEnds() {
        let a = Interval(low: 2, high: 4), b = Interval(low: 1, high: 8)
        #expect(a * b == Interval(low: 2, high: 32))
        #expect(a / b == Interval(low: 0.25, high: 4))
        #expect(a * 3 == Interval(low: 6, high: 12))
    }
}
