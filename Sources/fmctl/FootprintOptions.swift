import ArgumentParser
import Foundation
import Footprint
import Reports
import RunRecords

/// The footprint options shared by `fmctl train` and `fmctl footprint measure`
/// (`@OptionGroup var footprint: FootprintOptions`). Values not given here come from
/// `fmctl.toml` in the working folder, then from the defaults.
struct FootprintOptions: ParsableArguments {
    @Option(name: .customLong("powercap-root"),
            help: ArgumentHelp("Powercap folder to read RAPL counters from (default: $FMCTL_POWERCAP_ROOT or /sys/class/powercap).", valueName: "dir"))
    var powercapRoot: String?

    // Numbers parse `.unconditional`, so `--pue -1` is a value that validate() rejects by name.
    @Option(name: .customLong("sample-interval"), parsing: .unconditional,
            help: ArgumentHelp("Seconds between background counter reads (default 1; shortened if a counter could wrap faster).", valueName: "seconds"))
    var sampleInterval: Double?

    @Option(name: .customLong("cpu-tdp"), parsing: .unconditional,
            help: ArgumentHelp("CPU thermal design power in watts per socket for the estimate when RAPL is unavailable (default: looked up from the CPU model).", valueName: "watts"))
    var cpuTDP: Double?

    @Option(name: .customLong("gpus"), parsing: .unconditional, help: ArgumentHelp(gpusHelp, valueName: "list"))
    var gpus: String?

    @Option(name: .customLong("idle-baseline"), parsing: .unconditional,
            help: ArgumentHelp("Measure the machine at rest for this many seconds first; reports then give energy above idle.", valueName: "seconds"))
    var idleBaseline: Double?

    @Option(name: .customLong("carbon-intensity"), parsing: .unconditional,
            help: ArgumentHelp("Grid carbon intensity in grams CO2e per kWh (overrides --region).", valueName: "grams"))
    var carbonIntensity: Double?

    @Option(name: .customLong("region"),
            help: ArgumentHelp("ISO 3166 alpha-3 country code whose grid intensity to use, e.g. FRA, USA (default WORLD, 475 g/kWh, IEA 2019).", valueName: "iso3"))
    var region: String?

    @Option(name: .customLong("pue"), parsing: .unconditional,
            help: ArgumentHelp("Power usage effectiveness of the facility, >= 1 (default 1.0).", valueName: "ratio"))
    var pue: Double?

    @Option(name: .customLong("price-per-kwh"), parsing: .unconditional,
            help: ArgumentHelp("Electricity price per kWh, for the cost column (default: no cost).", valueName: "price"))
    var pricePerKWh: Double?

    @Option(name: .customLong("currency"),
            help: ArgumentHelp("Currency name shown with costs, e.g. EUR.", valueName: "name"))
    var currency: String?

    @Flag(name: .customLong("no-footprint"), help: "Do not measure energy, carbon or cost.")
    var noFootprint = false

    /// The values given on the command line.
    var overrides: FootprintOverrides {
        FootprintOverrides(powercapRoot: powercapRoot, sampleIntervalSeconds: sampleInterval, cpuTDPWatts: cpuTDP,
                           idleBaselineSeconds: idleBaseline, carbonIntensityGramsPerKWh: carbonIntensity, region: region,
                           pue: pue, pricePerKWh: pricePerKWh, currency: currency, disabled: noFootprint ? true : nil,
                           gpus: gpus)
    }

    func validate() throws {
        do { try overrides.validate(table: try? CarbonIntensityTable.bundled()) }
        catch let error as FootprintError { throw ValidationError(error.description) }
    }

    /// The settings for a run: these options over `fmctl.toml` in `directory` over the defaults.
    /// Throws FootprintError (a bad fmctl.toml is 65, a bad value 64).
    func settings(directory: String = FileManager.default.currentDirectoryPath) throws -> FootprintSettings {
        try FootprintSettings.resolve(overrides: overrides, directory: directory)
    }

    /// The settings and, unless footprint is off, a tracker that has found its counters but not
    /// started: the caller creates its run folder first, then calls `start`.
    func makeTracker(directory: String = FileManager.default.currentDirectoryPath) throws -> (FootprintSettings, EnergyTracker?) {
        let settings = try settings(directory: directory)
        guard settings.enabled else { return (settings, nil) }
        let tracker = EnergyTracker(configuration: settings.configuration)
        try checkNamedTree(tracker)
        if let error = tracker.gpus.selectionError { throw error }
        return (settings, tracker)
    }

    /// A powercap tree the user named (`--powercap-root` or `FMCTL_POWERCAP_ROOT`, as
    /// `PowercapInventory.resolveRoot` reads them: an empty value names nothing) is input:
    /// a counter there that holds no valid reading (empty, garbage, negative, absurd) is bad
    /// data, exit 65 naming the file. The system's own /sys/class/powercap is not the user's
    /// input: a broken counter there is reported and the run falls back to the estimate, since
    /// a firmware quirk should not stop a training run.
    func checkNamedTree(_ tracker: EnergyTracker) throws {
        guard tracker.inventory.root != PowercapInventory.defaultRoot else { return }
        if let zone = tracker.inventory.zones.first(where: { $0.readError != nil && !$0.permissionDenied }) {
            throw FootprintError.badData(
                path: zone.energyPath,
                expected: "a RAPL counter in microjoules (an unsigned integer); \(zone.readError ?? "unreadable")")
        }
    }

    /// Prints the tracker's warnings to stderr once, starts it, measures the idle baseline if
    /// one was asked for, and records in the run folder what it measures with and the baseline
    /// (a resumed run keeps its earlier baseline unless this session measured one).
    func start(_ tracker: EnergyTracker?, settings: FootprintSettings, folder: RunFolder) throws {
        guard let tracker else { return }
        for warning in tracker.startupWarnings { printError("warning: \(warning)") }
        tracker.start()
        if settings.idleBaselineSeconds > 0 {
            printError("measuring idle baseline for \(settings.idleBaselineSeconds) s ...")
            let baseline = try tracker.measureIdleBaseline(seconds: settings.idleBaselineSeconds)
            printError("idle baseline: \(RunReport.figure(baseline.powerWatts)) W (\(baseline.source.rawValue))")
        }
        try folder.update {
            $0.measurement = tracker.provenance
            $0.idleBaseline = tracker.idleBaseline ?? $0.idleBaseline
        }
    }
}

/// `--gpus`' help, shared by `train`, `footprint measure` and `footprint probe`.
let gpusHelp = "GPUs to measure through NVML: all, none, or indices such as 0,2 (default: those CUDA_VISIBLE_DEVICES lists, else all)."
