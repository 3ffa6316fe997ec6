import Foundation
import FMSupport
import Footprint
import Reports

/// One input of a projection: its value (exact or a range), its unit, and where it comes from.
public struct ProjectionInput: Sendable, Equatable {
    /// Where a value comes from. Everything but `given` is an assumption of the projection.
    public enum Origin: String, Sendable {
        case given, assumed, catalogue, derived, measured
    }

    public var value: Interval
    public var unit: String
    public var origin: Origin
    /// `given`, or the default's justification, the datasheet, the formula or the run.
    public var source: String

    public init(_ value: Interval, unit: String, origin: Origin = .given, source: String = "given") {
        self.value = value
        self.unit = unit
        self.origin = origin
        self.source = source
    }
}

/// This machine's measured rate, from a run's run.json (`--from-run`): its FLOPs, energy and duration.
public struct MeasuredRate: Sendable, Equatable {
    public var flops: Double
    public var energyJoules: Double
    public var durationSeconds: Double
    /// Names the run, e.g. `run runs/X (cnn, 3 epochs, estimate)`.
    public var label: String

    public init(flops: Double, energyJoules: Double, durationSeconds: Double, label: String) {
        self.flops = flops
        self.energyJoules = energyJoules
        self.durationSeconds = durationSeconds
        self.label = label
    }

    public var flopsPerSecond: Double { flops / durationSeconds }
    public var flopsPerJoule: Double { flops / energyJoules }
    public var averagePowerWatts: Double { energyJoules / durationSeconds }
}

/// The command line's values as typed: numbers are text, since any of them may be a range `a..b`.
public struct ProjectionOptions: Sendable {
    public var params: String?
    public var tokens: String?
    public var flops: String?
    public var accelerator: String?
    public var count: String?
    public var precision: Precision?
    public var mfu: String?
    public var days: String?
    public var averagePowerWatts: String?
    public var pue: String?
    public var carbonIntensity: String?
    public var region: String?
    public var pricePerKWh: String?
    public var pricePerAcceleratorHour: String?
    public var currency: String?
    public var embodiedKgPerAcceleratorHour: String?
    public var inferenceTokensPerDay: String?
    public var queryTokens: String?

    public init() {}
}

/// A missing or contradictory combination of options (exit 64), in one line.
public struct ProjectionUsageError: Error, Equatable, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Every input of a projection, resolved: given values, defaults with their justification,
/// catalogue figures with their datasheet.
public struct ProjectionInputs: Sendable {
    /// What the work runs on: a catalogue accelerator at `mfu` of its peak, or this machine at
    /// the rate a run measured.
    public enum Hardware: Sendable {
        case accelerator(Accelerator, peak: ProjectionInput)
        case measured(MeasuredRate)
    }

    public var parameters: ProjectionInput?
    public var tokens: ProjectionInput?
    /// Training FLOPs: given, or 6·N·D.
    public var flops: ProjectionInput?
    public var hardware: Hardware
    /// With `--from-run`, the precision and the utilisation apply to the catalogue's
    /// accelerators the report compares this machine with.
    public var precision: Precision
    public var precisionOrigin: ProjectionInput.Origin
    public var mfu: ProjectionInput
    public var count: ProjectionInput
    /// The duration, when known: it wins over the one the FLOPs and the rate give.
    public var days: ProjectionInput?
    public var averagePowerWatts: ProjectionInput
    public var pue: ProjectionInput
    public var carbonIntensity: ProjectionInput
    public var pricePerKWh: ProjectionInput?
    public var pricePerAcceleratorHour: ProjectionInput?
    public var currency: String?
    public var embodiedKgPerAcceleratorHour: ProjectionInput?
    public var inferenceTokensPerDay: ProjectionInput?
    public var queryTokens: ProjectionInput?

    // MARK: - Defaults, each with its reason

    /// Model FLOPs utilisation when none is given: near the middle of what large dense training
    /// runs achieved, as Chowdhery et al. 2022 (PaLM), Table 3, reports them.
    public static let defaultMFU = 0.3
    static let defaultMFUSource = "near the median model FLOPs utilisation of large dense training runs "
        + "in Chowdhery et al. 2022 (PaLM), Table 3: GPT-3 21.3 %, Megatron-Turing NLG 30.2 %, Gopher 32.5 %, PaLM 46.2 %"
    /// PUE when none is given: the cloud datacentres of Patterson et al. 2021, Table 4.
    public static let defaultPUE = 1.1
    static let defaultPUESource = "the cloud datacentres that trained T5, Meena, GShard, Switch Transformer and GPT-3 "
        + "ran at PUE 1.09-1.12 (Patterson et al. 2021, Table 4); a typical enterprise datacentre runs higher"
    public static let defaultQueryTokens = 1000.0
    static let defaultQueryTokensSource = "an assumed query of 1,000 tokens (prompt and answer together)"

    /// The effective FLOP/s of one accelerator (or of one machine like the measured one).
    public var ratePerAccelerator: Interval {
        switch hardware {
        case let .accelerator(_, peak): return peak.value * mfu.value
        case let .measured(rate): return Interval(rate.flopsPerSecond)
        }
    }

    // MARK: - Resolving the command line

    /// Resolves the options against the catalogue and the carbon table; `measured` is the rate
    /// of the run `--from-run` names, read by the caller. A bad value (not a number, zero or
    /// negative, a range with low > high), an unknown accelerator or region throws
    /// `FootprintError.invalidOption`; missing or contradictory options throw
    /// `ProjectionUsageError`. Both are one line and exit 64.
    public init(options o: ProjectionOptions, catalogue: AcceleratorCatalogue, carbonTable: CarbonIntensityTable,
                measured: MeasuredRate?) throws {
        func positive(_ text: String?, _ option: String, unit: String) throws -> ProjectionInput? {
            try text.map { ProjectionInput(try Interval.parse($0, option: option, expected: "a number > 0") { $0 > 0 }, unit: unit) }
        }
        func nonNegative(_ text: String?, _ option: String, unit: String) throws -> ProjectionInput? {
            try text.map { ProjectionInput(try Interval.parse($0, option: option, expected: "a number >= 0") { $0 >= 0 }, unit: unit) }
        }

        // The work.
        parameters = try positive(o.params, "--params", unit: "parameters")
        tokens = try positive(o.tokens, "--tokens", unit: "tokens")
        let givenFLOPs = try positive(o.flops, "--flops", unit: "FLOP")
        inferenceTokensPerDay = try positive(o.inferenceTokensPerDay, "--inference-tokens-per-day", unit: "tokens/day")
        queryTokens = try positive(o.queryTokens, "--query-tokens", unit: "tokens")
        days = try positive(o.days, "--days", unit: "days")
        if givenFLOPs != nil, parameters != nil || tokens != nil {
            throw ProjectionUsageError("--flops and --params/--tokens contradict each other: give the FLOPs or the model and data sizes")
        }
        if tokens != nil, parameters == nil { throw ProjectionUsageError("--tokens needs --params (training FLOPs = 6·N·D)") }
        if inferenceTokensPerDay != nil, parameters == nil {
            throw ProjectionUsageError("--inference-tokens-per-day needs --params (2·N FLOPs per token)")
        }
        if parameters != nil, tokens == nil, inferenceTokensPerDay == nil {
            throw ProjectionUsageError("--params needs --tokens (training) or --inference-tokens-per-day (inference)")
        }
        if queryTokens != nil, inferenceTokensPerDay == nil {
            throw ProjectionUsageError("--query-tokens needs --inference-tokens-per-day")
        }
        if measured == nil, givenFLOPs == nil, tokens == nil, days == nil, inferenceTokensPerDay == nil {
            throw ProjectionUsageError("nothing to project: give --params with --tokens, --flops, --days, "
                                       + "--inference-tokens-per-day, or --from-run RUN")
        }
        if let parameters, let tokens {
            flops = ProjectionInput(parameters.value * tokens.value * 6, unit: "FLOP", origin: .derived,
                                    source: "6·N·D (Kaplan et al. 2020, Scaling Laws for Neural Language Models)")
        } else {
            flops = givenFLOPs
        }
        if inferenceTokensPerDay != nil, queryTokens == nil {
            queryTokens = ProjectionInput(Interval(Self.defaultQueryTokens), unit: "tokens", origin: .assumed, source: Self.defaultQueryTokensSource)
        }

        // The hardware.
        precision = o.precision ?? .mixed
        precisionOrigin = o.precision == nil ? .assumed : .given
        mfu = try o.mfu.map {
            ProjectionInput(try Interval.parse($0, option: "--mfu", expected: "a utilisation in (0, 1]") { $0 > 0 && $0 <= 1 },
                            unit: "of peak")
        } ?? ProjectionInput(Interval(Self.defaultMFU), unit: "of peak", origin: .assumed, source: Self.defaultMFUSource)
        let givenPower = try positive(o.averagePowerWatts, "--avg-power-w", unit: "W")
        if let measured {
            if o.accelerator != nil {
                throw ProjectionUsageError("--from-run and --accelerator contradict each other: the run measured this machine")
            }
            if givenPower != nil {
                throw ProjectionUsageError("--from-run and --avg-power-w contradict each other: the run measured this machine's power")
            }
            hardware = .measured(measured)
            averagePowerWatts = ProjectionInput(Interval(measured.averagePowerWatts), unit: "W", origin: .measured, source: measured.label)
        } else {
            guard let name = o.accelerator else {
                throw ProjectionUsageError("give --accelerator NAME (one of \(catalogue.names.joined(separator: ", "))) or --from-run RUN")
            }
            let accelerator = try catalogue.accelerator(named: name)
            guard let peak = accelerator.peak(precision) else {
                throw FootprintError.invalidOption(option: "--precision", value: precision.rawValue,
                                                   expected: "mixed: \(accelerator.name) publishes no \(precision.rawValue) peak")
            }
            hardware = .accelerator(accelerator, peak: ProjectionInput(
                Interval(peak.flopsPerSecond), unit: "FLOP/s", origin: .catalogue, source: "\(accelerator.name) \(peak.column): \(accelerator.source)"))
            averagePowerWatts = givenPower ?? ProjectionInput(Interval(accelerator.tdpWatts), unit: "W",
                                                             origin: .catalogue, source: "the TDP of \(accelerator.name): \(accelerator.source)")
        }
        let countUnit = measured == nil ? "accelerators" : "machines"
        count = try positive(o.count, "--count", unit: countUnit)
            ?? ProjectionInput(Interval(1), unit: countUnit, origin: .assumed, source: "default")

        // The facility, the grid and the prices.
        pue = try o.pue.map {
            ProjectionInput(try Interval.parse($0, option: "--pue", expected: "a power usage effectiveness >= 1") { $0 >= 1 }, unit: "")
        } ?? ProjectionInput(Interval(Self.defaultPUE), unit: "", origin: .assumed, source: Self.defaultPUESource)
        // Region and currency are checked as `fmctl train` checks them.
        try FootprintOverrides(region: o.region, currency: o.currency).validate(table: carbonTable)
        currency = o.currency
        if let intensity = try nonNegative(o.carbonIntensity, "--carbon-intensity", unit: "g CO2e/kWh") {
            carbonIntensity = intensity
        } else {
            let settings = carbonTable.settings(region: o.region ?? "WORLD") ?? .worldAverage
            carbonIntensity = ProjectionInput(Interval(settings.intensityGramsPerKWh), unit: "g CO2e/kWh",
                                              origin: o.region == nil ? .assumed : .catalogue,
                                              source: "\(settings.region): " + settings.source + (settings.year.map { ", \($0)" } ?? ""))
        }
        pricePerKWh = try nonNegative(o.pricePerKWh, "--price-per-kwh", unit: "per kWh")
        pricePerAcceleratorHour = try nonNegative(o.pricePerAcceleratorHour, "--price-per-accelerator-hour", unit: "per accelerator-hour")
        embodiedKgPerAcceleratorHour = try nonNegative(o.embodiedKgPerAcceleratorHour, "--embodied-kg-per-accelerator-hour",
                                                       unit: "kg CO2e per accelerator-hour")
    }
}
