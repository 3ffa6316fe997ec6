import ArgumentParser
import FMSupport
import Footprint
import Reports
import RunRecords
import Projection

extension ProjectionFormat: ExpressibleByArgument {}
extension Precision: ExpressibleByArgument {}

/// `fmctl footprint project`: what a training run or an inference service would cost in days,
/// MWh, tCO2e and money on catalogue accelerators (or at this machine's measured rate), with
/// every assumption shown beside its source. Numbers parse `.unconditional` as text, so that
/// `--mfu -1` is a value refused by name and any of them may be a range `a..b`.
struct FootprintProjectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "project",
        abstract: "Project a training or inference workload: days, MWh, tCO2e and cost, with every assumption and its source.",
        discussion: "Any number may be a range a..b; the figures then come out as ranges. docs/projection.md gives the formulas, "
            + "the defaults and the catalogue's sources.")

    /// The catalogue's names for the help text.
    static let acceleratorNames = (try? AcceleratorCatalogue.bundled().names.joined(separator: ", ")) ?? "see docs/projection.md"

    @Option(name: .customLong("params"), parsing: .unconditional,
            help: ArgumentHelp("Model parameters N (training FLOPs = 6·N·D; inference 2·N per token).", valueName: "n"))
    var params: String?

    @Option(name: .customLong("tokens"), parsing: .unconditional,
            help: ArgumentHelp("Training tokens D, with --params.", valueName: "d"))
    var tokens: String?

    @Option(name: .customLong("flops"), parsing: .unconditional,
            help: ArgumentHelp("Training FLOPs, instead of --params and --tokens.", valueName: "f"))
    var flops: String?

    @Option(name: .customLong("from-run"),
            help: ArgumentHelp("Project at the FLOPs per second and per joule a run measured on this machine, and compare them with the catalogue.", valueName: "run-dir"))
    var fromRun: String?

    @Option(name: .customLong("accelerator"),
            help: ArgumentHelp("Catalogue accelerator: \(Self.acceleratorNames).", valueName: "name"))
    var accelerator: String?

    @Option(name: .customLong("count"), parsing: .unconditional,
            help: ArgumentHelp("Accelerators (or, with --from-run, machines) working together (default 1).", valueName: "k"))
    var count: String?

    @Option(name: .customLong("precision"),
            help: "fp32, or mixed: fp16/bf16 tensor math (default mixed; fp32 on chips without tensor units).")
    var precision: Precision?

    @Option(name: .customLong("mfu"), parsing: .unconditional,
            help: ArgumentHelp("Model FLOPs utilisation of the precision's peak, in (0, 1] (default \(ProjectionInputs.defaultMFU)).", valueName: "u"))
    var mfu: String?

    @Option(name: .customLong("days"), parsing: .unconditional,
            help: ArgumentHelp("Training duration, when known: it wins over the one the FLOPs and --mfu give.", valueName: "days"))
    var days: String?

    @Option(name: .customLong("avg-power-w"), parsing: .unconditional,
            help: ArgumentHelp("Average power per accelerator in watts (default: its TDP).", valueName: "watts"))
    var averagePowerWatts: String?

    @Option(name: .customLong("pue"), parsing: .unconditional,
            help: ArgumentHelp("Power usage effectiveness of the datacentre, >= 1 (default \(ProjectionInputs.defaultPUE)).", valueName: "ratio"))
    var pue: String?

    @Option(name: .customLong("carbon-intensity"), parsing: .unconditional,
            help: ArgumentHelp("Grid carbon intensity in grams CO2e per kWh (overrides --region).", valueName: "grams"))
    var carbonIntensity: String?

    @Option(name: .customLong("region"),
            help: ArgumentHelp("ISO 3166 alpha-3 code of the grid, e.g. FRA, USA (default WORLD, 475 g/kWh).", valueName: "iso3"))
    var region: String?

    @Option(name: .customLong("price-per-kwh"), parsing: .unconditional,
            help: ArgumentHelp("Electricity price per kWh, for the energy cost.", valueName: "price"))
    var pricePerKWh: String?

    @Option(name: .customLong("price-per-accelerator-hour"), parsing: .unconditional,
            help: ArgumentHelp("Rental price per accelerator-hour, for the compute cost.", valueName: "price"))
    var pricePerAcceleratorHour: String?

    @Option(name: .customLong("currency"), help: ArgumentHelp("Currency name shown with costs, e.g. USD.", valueName: "name"))
    var currency: String?

    @Option(name: .customLong("embodied-kg-per-accelerator-hour"), parsing: .unconditional,
            help: ArgumentHelp("Embodied (manufacturing) carbon in kg CO2e per accelerator-hour, reported apart from the operational CO2e.", valueName: "kg"))
    var embodiedKgPerAcceleratorHour: String?

    @Option(name: .customLong("inference-tokens-per-day"), parsing: .unconditional,
            help: ArgumentHelp("Tokens served per day, with --params: energy, CO2e and cost per day and per 1,000 queries.", valueName: "t"))
    var inferenceTokensPerDay: String?

    @Option(name: .customLong("query-tokens"), parsing: .unconditional,
            help: ArgumentHelp("Tokens per query (prompt and answer) for the per-1,000-queries figures (default \(Int(ProjectionInputs.defaultQueryTokens))).", valueName: "l"))
    var queryTokens: String?

    @Option(help: "Output format: table, json, markdown or html (one self-contained page).")
    var format: ProjectionFormat = .table

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Write the projection to this file instead of stdout.", valueName: "file"))
    var output: String?

    var options: ProjectionOptions {
        var o = ProjectionOptions()
        o.params = params
        o.tokens = tokens
        o.flops = flops
        o.accelerator = accelerator
        o.count = count
        o.precision = precision
        o.mfu = mfu
        o.days = days
        o.averagePowerWatts = averagePowerWatts
        o.pue = pue
        o.carbonIntensity = carbonIntensity
        o.region = region
        o.pricePerKWh = pricePerKWh
        o.pricePerAcceleratorHour = pricePerAcceleratorHour
        o.currency = currency
        o.embodiedKgPerAcceleratorHour = embodiedKgPerAcceleratorHour
        o.inferenceTokensPerDay = inferenceTokensPerDay
        o.queryTokens = queryTokens
        return o
    }

    func run() throws {
        try withUserErrors {
            do {
                let catalogue = try AcceleratorCatalogue.bundled()
                let inputs = try ProjectionInputs(options: options, catalogue: catalogue, carbonTable: CarbonIntensityTable.bundled(),
                                                  measured: try fromRun.map(measuredRate(runFolder:)))
                try writeReport(ProjectionReport.render(Projection(inputs: inputs, catalogue: catalogue), format: format), to: output)
            } catch let error as ProjectionUsageError {
                throw UsageError(message: error.description)
            }
        }
    }
}

/// This machine's rate from a run folder's run.json: its total FLOPs, energy and duration.
/// The one place `project` reads a run record. A run without measured energy or counted FLOPs
/// (`--no-footprint`, a `footprint measure` run) is bad data for this purpose, exit 65.
func measuredRate(runFolder path: String) throws -> MeasuredRate {
    let record = try RunFolder.load(path: path)
    let total = record.total
    guard let flops = total.flops, flops > 0, let joules = total.energyJoules, joules > 0, total.durationSeconds > 0 else {
        throw FootprintError.badData(path: path.hasSuffix(".json") ? path : path + "/run.json",
                                     expected: "a run with counted FLOPs, measured energy and a duration (a training run with its footprint)")
    }
    let source = record.measurement?.source.rawValue ?? "unmeasured"
    return MeasuredRate(flops: flops, energyJoules: joules, durationSeconds: total.durationSeconds,
                        label: "run \(record.runID) (\(record.model), \(record.epochs.count) epoch(s), energy: \(source))")
}
