import Testing
@testable import Projection

@Suite struct ProjectionArithmeticTests {
    /// 1e21 FLOPs on 100 H100s at 40 % of 989.5 TFLOP/s, 700 W, PUE 1.2, 400 g/kWh, 2 per
    /// kWh, 3 per accelerator-hour, 0.05 kg embodied per accelerator-hour, worked by hand.
    @Test func training_fromFLOPs_byHand() throws {
        let projection = try project([(\.flops, "1e21"), (\.accelerator, "h100-sxm"), (\.count, "100"), (\.mfu, "0.4"),
                                      (\.pue, "1.2"), (\.carbonIntensity, "400"), (\.pricePerKWh, "2"),
                                      (\.pricePerAcceleratorHour, "3"), (\.embodiedKgPerAcceleratorHour, "0.05")])
        let training = try #require(projection.training)
        let hours = 1e21 / (989.5e12 * 0.4) / 3600
        let kWh = hours * 700 * 1.2 / 1000
        expectClose(training.cost.acceleratorHours, hours)
        expectClose(training.days, hours / 100 / 24)
        expectClose(training.cost.energyKWh, kWh)
        expectClose(training.cost.co2eKg, kWh * 0.4)
        expectClose(try #require(training.cost.energyCost), kWh * 2)
        expectClose(try #require(training.cost.computeCost), hours * 3)
        // Embodied carbon is its own figure: the operational CO2e does not include it.
        expectClose(try #require(training.cost.embodiedCO2eKg), hours * 0.05)
        #expect(training.impliedMFU == nil)
    }

    /// Without prices or embodied carbon, those figures are absent, not zero.
    @Test func training_withoutPrices_hasNoCosts() throws {
        let training = try #require(try project([(\.flops, "1e21"), (\.accelerator, "a100-80gb")]).training)
        #expect(training.cost.energyCost == nil && training.cost.computeCost == nil && training.cost.embodiedCO2eKg == nil)
    }

    /// fp32 uses the fp32 peak; mixed precision on a CPU (no tensor unit) falls back to fp32.
    @Test func precision_choosesThePeak() throws {
        let fp32 = try #require(try project([(\.flops, "1e18"), (\.accelerator, "a100-40gb")], precision: .fp32).training)
        let mixed = try #require(try project([(\.flops, "1e18"), (\.accelerator, "a100-40gb")]).training)
        expectClose(fp32.cost.acceleratorHours / mixed.cost.acceleratorHours, 312 / 19.5)
        let cpu = try inputs([(\.flops, "1e18"), (\.accelerator, "epyc-7763")])
        guard case let .accelerator(_, peak) = cpu.hardware else { Issue.record("not an accelerator"); return }
        #expect(peak.value == Interval(5.0176e12))
        #expect(peak.source.contains("no fp16/bf16 tensor unit"))
    }

    /// Inference: 2·N FLOPs per token; per 1,000 queries of L tokens, 2·N·L·1000 FLOPs.
    @Test func inference_perDayAndPerThousandQueries() throws {
        let projection = try project([(\.params, "7e9"), (\.inferenceTokensPerDay, "1e10"), (\.accelerator, "h100-sxm"),
                                      (\.mfu, "0.1"), (\.pue, "1"), (\.carbonIntensity, "300"), (\.queryTokens, "500")])
        #expect(projection.training == nil)
        let inference = try #require(projection.inference)
        let rate = 989.5e12 * 0.1
        expectClose(inference.flopsPerDay, 2 * 7e9 * 1e10)
        expectClose(inference.perDay.acceleratorHours, 2 * 7e9 * 1e10 / rate / 3600)
        expectClose(inference.acceleratorsBusy, 2 * 7e9 * 1e10 / rate / 86400)
        expectClose(inference.perDay.energyKWh, 2 * 7e9 * 1e10 / rate / 3600 * 700 / 1000)
        expectClose(inference.flopsPerThousandQueries, 2 * 7e9 * 500 * 1000)
        let thousand = 2 * 7e9 * 500 * 1000 / rate / 3600 * 700 / 1000
        expectClose(inference.perThousandQueries.energyKWh, thousand)
        expectClose(inference.perThousandQueries.co2eKg, thousand * 0.3)
    }

    @Test func inference_defaultQueryIsAnAssumption() throws {
        let resolved = try inputs([(\.params, "7e9"), (\.inferenceTokensPerDay, "1e9"), (\.accelerator, "v100")])
        #expect(resolved.queryTokens?.value == Interval(1000))
        #expect(resolved.queryTokens?.origin == .assumed)
    }

    /// Training and inference from one command: both projected.
    @Test func trainingAndInference_together() throws {
        let projection = try project([(\.params, "1e9"), (\.tokens, "2e10"), (\.inferenceTokensPerDay, "1e9"), (\.accelerator, "v100")])
        #expect(projection.training != nil && projection.inference != nil)
        expectClose(try #require(projection.training?.flops), 1.2e20)
    }

    /// `--days` wins over the FLOPs: the duration is the one given, the MFU is implied.
    @Test func days_winOverTheFLOPs() throws {
        let training = try #require(try project([(\.flops, "1e21"), (\.accelerator, "v100"), (\.count, "10"), (\.days, "2"),
                                                 (\.mfu, "0.9")]).training)
        #expect(training.days == Interval(2))
        #expect(training.cost.acceleratorHours == Interval(480))
        expectClose(try #require(training.impliedMFU), 1e21 / (480 * 3600 * 125e12))
    }

    /// Only a duration, no FLOPs: energy from the accelerator-hours, no implied MFU.
    @Test func days_alone() throws {
        let training = try #require(try project([(\.accelerator, "tpu-v4"), (\.count, "8"), (\.days, "1")]).training)
        #expect(training.flops == nil && training.impliedMFU == nil)
        expectClose(training.cost.energyKWh, 8 * 24 * 192 * 1.1 / 1000)
    }

    /// Defaults: MFU 0.3, PUE 1.1, the TDP, one accelerator, the world-average grid, each an assumption.
    @Test func defaults_areAssumptionsWithSources() throws {
        let resolved = try inputs([(\.flops, "1e20"), (\.accelerator, "h200")])
        #expect(resolved.mfu.value == Interval(0.3) && resolved.mfu.origin == .assumed && resolved.mfu.source.contains("PaLM"))
        #expect(resolved.pue.value == Interval(1.1) && resolved.pue.origin == .assumed && resolved.pue.source.contains("Patterson"))
        #expect(resolved.averagePowerWatts.value == Interval(700) && resolved.averagePowerWatts.origin == .catalogue)
        #expect(resolved.count.value == Interval(1) && resolved.count.origin == .assumed)
        #expect(resolved.carbonIntensity.value == Interval(475) && resolved.carbonIntensity.origin == .assumed)
        #expect(resolved.precision == .mixed && resolved.precisionOrigin == .assumed)
        #expect(resolved.flops?.origin == .given)
    }

    @Test func region_setsTheIntensity() throws {
        let resolved = try inputs([(\.flops, "1e20"), (\.accelerator, "h200"), (\.region, "fra")])
        #expect(resolved.carbonIntensity.value.low > 0 && resolved.carbonIntensity.value.low < 200)
        #expect(resolved.carbonIntensity.source.hasPrefix("FRA"))
        // A given intensity overrides the region's, as in `fmctl train`.
        let given = try inputs([(\.flops, "1e20"), (\.accelerator, "h200"), (\.region, "FRA"), (\.carbonIntensity, "30")])
        #expect(given.carbonIntensity.value == Interval(30) && given.carbonIntensity.origin == .given)
    }

    /// `--from-run`: this machine's FLOP/s and FLOP/J replace peak x MFU and the TDP, and the
    /// catalogue's accelerators are listed beside it at peak x MFU / TDP.
    @Test func fromRun_projectsAtTheMeasuredRate() throws {
        let run = MeasuredRate(flops: 2e12, energyJoules: 100, durationSeconds: 20, label: "run test")
        let projection = try project([(\.flops, "1e15")], measured: run)
        let training = try #require(projection.training)
        expectClose(training.cost.acceleratorHours, 1e15 / 1e11 / 3600)
        expectClose(training.cost.energyKWh, 1e15 / 2e10 * 1.1 / 3.6e6)
        let rows = try #require(projection.efficiency)
        #expect(rows.first?.name == "this machine")
        #expect(rows.first?.flopsPerJoule == Interval(2e10))
        let v100 = try #require(rows.first { $0.name == "v100" })
        expectClose(v100.flopsPerJoule, 125e12 * 0.3 / 300)
        // TPUs publish no fp32 peak: with --precision fp32 they drop out of the comparison.
        let fp32 = try #require(try project([], precision: .fp32, measured: run).efficiency)
        #expect(!fp32.contains { $0.name.hasPrefix("tpu") })
        #expect(fp32.contains { $0.name == "epyc-7763" })
    }
}

func expectClose(_ interval: Interval, _ expected: Double, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(interval.isExact, "\(interval) should be exact", sourceLocation: sourceLocation)
    #expect(relativeError(interval.low, expected) < 1e-12, "\(interval) != \(expected)", sourceLocation: sourceLocation)
}
