import Footprint
import Testing
@testable import Projection

/// Every bad input is a one-line error naming the option, exit 64.
@Suite struct BadInputTests {
    static let work: OptionValues = [(\.flops, "1e21"), (\.accelerator, "v100")]

    /// A value that is not a number, zero or negative where a quantity must be positive, out of
    /// range, or a range with low > high.
    @Test(arguments: [
        (\ProjectionOptions.flops, "0", "--flops"), (\.flops, "-1e21", "--flops"), (\.flops, "lots", "--flops"),
        (\.count, "0", "--count"), (\.count, "-8", "--count"), (\.count, "8..4", "--count"),
        (\.mfu, "0", "--mfu"), (\.mfu, "1.5", "--mfu"), (\.mfu, "0.5..0.2", "--mfu"), (\.mfu, "0.2..1.2", "--mfu"),
        (\.days, "0", "--days"), (\.days, "-3", "--days"), (\.averagePowerWatts, "0", "--avg-power-w"),
        (\.pue, "0.9", "--pue"), (\.carbonIntensity, "-1", "--carbon-intensity"), (\.pricePerKWh, "-0.1", "--price-per-kwh"),
        (\.pricePerAcceleratorHour, "-2", "--price-per-accelerator-hour"),
        (\.embodiedKgPerAcceleratorHour, "-0.01", "--embodied-kg-per-accelerator-hour"),
        (\.mfu, "0.1..0.2..0.3", "--mfu"), (\.mfu, "..0.3", "--mfu"), (\.region, "XYZ", "--region"), (\.currency, "", "--currency"),
    ])
    func badValue_isInvalidOption(_ path: any WritableKeyPath<ProjectionOptions, String?> & Sendable, _ value: String, _ option: String) {
        expectInvalidOption(option) { try inputs(Self.work + [(path, value)]) }
    }

    @Test(arguments: [
        ([(\ProjectionOptions.params, "0"), (\.tokens, "1e9")], "--params"),
        ([(\ProjectionOptions.params, "1e9"), (\.tokens, "-1")], "--tokens"),
        ([(\ProjectionOptions.params, "1e9"), (\.inferenceTokensPerDay, "0")], "--inference-tokens-per-day"),
        ([(\ProjectionOptions.params, "1e9"), (\.inferenceTokensPerDay, "1e9"), (\.queryTokens, "0")], "--query-tokens"),
    ] as [(OptionValues, String)])
    func badWork_isInvalidOption(_ values: OptionValues, _ option: String) {
        expectInvalidOption(option) { try inputs(values + [(\.accelerator, "v100")]) }
    }

    /// An unknown accelerator: the error lists the known ones.
    @Test func unknownAccelerator_listsTheKnownOnes() throws {
        do {
            _ = try inputs([(\.flops, "1e21"), (\.accelerator, "x100")])
            Issue.record("x100 was accepted")
        } catch let error as FootprintError {
            #expect(error.exitCode == 64)
            for name in ["v100", "a100-40gb", "a100-80gb", "h100-sxm", "h200", "tpu-v3", "tpu-v4", "epyc-7763", "xeon-8380"] {
                #expect(error.description.contains(name), "\(error.description)")
            }
            #expect(error.description.hasPrefix("--accelerator 'x100'"))
        }
    }

    @Test func fp32OnATPU_isRefused() {
        expectInvalidOption("--precision") { try inputs([(\.flops, "1e21"), (\.accelerator, "tpu-v4")], precision: .fp32) }
    }

    /// Contradictory or incomplete combinations: one line naming the options.
    @Test(arguments: [
        ([(\ProjectionOptions.flops, "1e21"), (\.params, "1e9"), (\.tokens, "1e10"), (\.accelerator, "v100")], "--flops and --params"),
        ([(\ProjectionOptions.flops, "1e21"), (\.tokens, "1e10"), (\.accelerator, "v100")], "--flops and --params"),
        ([(\ProjectionOptions.tokens, "1e10"), (\.accelerator, "v100")], "--tokens needs --params"),
        ([(\ProjectionOptions.params, "1e9"), (\.accelerator, "v100")], "--params needs --tokens"),
        ([(\ProjectionOptions.flops, "1e21"), (\.inferenceTokensPerDay, "1e9"), (\.accelerator, "v100")], "--inference-tokens-per-day needs --params"),
        ([(\ProjectionOptions.flops, "1e21"), (\.queryTokens, "100"), (\.accelerator, "v100")], "--query-tokens needs"),
        ([(\ProjectionOptions.flops, "1e21")], "--accelerator"),
        ([(\ProjectionOptions.accelerator, "v100")], "nothing to project"),
    ] as [(OptionValues, String)])
    func contradictoryOrMissing_isUsageError(_ values: OptionValues, _ message: String) {
        expectUsageError(message) { try inputs(values) }
    }

    @Test func fromRun_withAcceleratorOrPower_isContradictory() {
        let run = MeasuredRate(flops: 1e12, energyJoules: 10, durationSeconds: 1, label: "run")
        expectUsageError("--from-run and --accelerator") { try inputs([(\.flops, "1e15"), (\.accelerator, "v100")], measured: run) }
        expectUsageError("--from-run and --avg-power-w") { try inputs([(\.flops, "1e15"), (\.averagePowerWatts, "50")], measured: run) }
    }

    @Test func badCatalogueRow_isBadData() {
        let csv = "name,description,fp32_peak_flops,tensor_peak_flops,tdp_w,source\nx,no peaks,,,300,somewhere\n"
        #expect(throws: FootprintError.invalidConfigFile(path: "test.csv", line: 2, expected: AcceleratorCatalogue.columns.joined(separator: ","))) {
            try AcceleratorCatalogue.parse(csv: csv, path: "test.csv")
        }
    }

    func expectInvalidOption(_ option: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Any) {
        do {
            _ = try body()
            Issue.record("\(option) was accepted", sourceLocation: sourceLocation)
        } catch let error as FootprintError {
            #expect(error.exitCode == 64, sourceLocation: sourceLocation)
            #expect(error.description.hasPrefix(option), "\(error.description)", sourceLocation: sourceLocation)
            #expect(!error.description.contains("\n"), sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
        }
    }

    func expectUsageError(_ message: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Any) {
        do {
            _ = try body()
            Issue.record("accepted, expected '\(message)'", sourceLocation: sourceLocation)
        } catch let error as ProjectionUsageError {
            #expect(error.description.contains(message), "\(error.description)", sourceLocation: sourceLocation)
            #expect(!error.description.contains("\n"), sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
        }
    }
}
