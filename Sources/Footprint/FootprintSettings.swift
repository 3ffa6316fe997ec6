import FMSupport
import Foundation

/// Footprint settings as given on the command line or in `fmctl.toml`; nil means "not given".
/// Command-line values override the file's.
public struct FootprintOverrides: Sendable, Equatable {
    public var powercapRoot: String?
    public var sampleIntervalSeconds: Double?
    public var cpuTDPWatts: Double?
    public var idleBaselineSeconds: Double?
    public var carbonIntensityGramsPerKWh: Double?
    public var region: String?
    public var pue: Double?
    public var pricePerKWh: Double?
    public var currency: String?
    public var disabled: Bool?
    /// `--gpus` as given: `all`, `none` or indices such as `0,2` (``GPUSelection``).
    public var gpus: String?

    public init(powercapRoot: String? = nil, sampleIntervalSeconds: Double? = nil, cpuTDPWatts: Double? = nil,
                idleBaselineSeconds: Double? = nil, carbonIntensityGramsPerKWh: Double? = nil, region: String? = nil,
                pue: Double? = nil, pricePerKWh: Double? = nil, currency: String? = nil, disabled: Bool? = nil,
                gpus: String? = nil) {
        self.powercapRoot = powercapRoot
        self.sampleIntervalSeconds = sampleIntervalSeconds
        self.cpuTDPWatts = cpuTDPWatts
        self.idleBaselineSeconds = idleBaselineSeconds
        self.carbonIntensityGramsPerKWh = carbonIntensityGramsPerKWh
        self.region = region
        self.pue = pue
        self.pricePerKWh = pricePerKWh
        self.currency = currency
        self.disabled = disabled
        self.gpus = gpus
    }

    /// The keys `fmctl.toml` may set (other keys belong to other commands and are left alone).
    public static let tomlKeys = ["powercap_root", "sample_interval", "cpu_tdp", "idle_baseline", "carbon_intensity",
                                  "region", "pue", "price_per_kwh", "currency", "no_footprint", "gpus"]

    /// Reads the footprint keys of a parsed `fmctl.toml`, validating each against its line.
    public init(toml: FlatTOML) throws {
        self.init(powercapRoot: try toml.string("powercap_root"), sampleIntervalSeconds: try toml.number("sample_interval"),
                  cpuTDPWatts: try toml.number("cpu_tdp"), idleBaselineSeconds: try toml.number("idle_baseline"),
                  carbonIntensityGramsPerKWh: try toml.number("carbon_intensity"), region: try toml.string("region"),
                  pue: try toml.number("pue"), pricePerKWh: try toml.number("price_per_kwh"),
                  currency: try toml.string("currency"), disabled: try toml.bool("no_footprint"), gpus: try toml.string("gpus"))
        let table = try? CarbonIntensityTable.bundled()
        do { try validate(table: table) } catch let FootprintError.invalidOption(option, _, expected) {
            let key = option.dropFirst(2).replacingOccurrences(of: "-", with: "_")
            let line = toml.entries[key]?.line ?? 0
            throw FootprintError.invalidConfigFile(path: toml.path, line: line, expected: "\(key): \(expected)")
        }
    }

    /// `other`'s values where given, else these.
    public func overridden(by other: FootprintOverrides) -> FootprintOverrides {
        FootprintOverrides(
            powercapRoot: other.powercapRoot ?? powercapRoot,
            sampleIntervalSeconds: other.sampleIntervalSeconds ?? sampleIntervalSeconds,
            cpuTDPWatts: other.cpuTDPWatts ?? cpuTDPWatts,
            idleBaselineSeconds: other.idleBaselineSeconds ?? idleBaselineSeconds,
            carbonIntensityGramsPerKWh: other.carbonIntensityGramsPerKWh ?? carbonIntensityGramsPerKWh,
            region: other.region ?? region, pue: other.pue ?? pue,
            pricePerKWh: other.pricePerKWh ?? pricePerKWh, currency: other.currency ?? currency,
            disabled: other.disabled ?? disabled, gpus: other.gpus ?? gpus)
    }

    /// Checks ranges; errors name the command-line option (`--pue`) and what was expected.
    public func validate(table: CarbonIntensityTable?) throws {
        func check(_ value: Double?, _ option: String, _ expected: String, _ valid: (Double) -> Bool) throws {
            if let value, !(value.isFinite && valid(value)) {
                throw FootprintError.invalidOption(option: option, value: JSONText.number(value), expected: expected)
            }
        }
        try check(carbonIntensityGramsPerKWh, "--carbon-intensity", "grams CO2e per kWh, >= 0") { $0 >= 0 }
        try check(pue, "--pue", "a power usage effectiveness >= 1 (1.0 = no facility overhead)") { $0 >= 1 }
        try check(pricePerKWh, "--price-per-kwh", "a price per kWh >= 0") { $0 >= 0 }
        try check(sampleIntervalSeconds, "--sample-interval", "seconds > 0") { $0 > 0 }
        try check(cpuTDPWatts, "--cpu-tdp", "watts per socket > 0") { $0 > 0 }
        try check(idleBaselineSeconds, "--idle-baseline", "seconds >= 0") { $0 >= 0 }
        if let region, table?.row(iso3: region) == nil {
            throw FootprintError.invalidOption(option: "--region", value: region,
                                               expected: "an ISO 3166 alpha-3 code such as FRA, USA or WORLD (see carbon-intensity.csv)")
        }
        if let gpus, GPUSelection(argument: gpus) == nil {
            throw FootprintError.invalidOption(option: "--gpus", value: gpus, expected: GPUSelection.expected)
        }
        if let currency, currency.isEmpty || currency.contains(where: { $0.isNewline }) {
            throw FootprintError.invalidOption(option: "--currency", value: currency, expected: "a currency name such as EUR")
        }
    }
}

/// Everything a run needs to measure and price itself.
public struct FootprintSettings: Sendable {
    public var enabled: Bool
    public var configuration: FootprintConfiguration
    public var carbon: CarbonSettings
    public var idleBaselineSeconds: Double
    /// The `fmctl.toml` that was read, if any.
    public var configFile: String?

    public static let configFileName = "fmctl.toml"

    /// Merges `fmctl.toml` in `directory` (if present) with `overrides` (which win), validates,
    /// and resolves the carbon intensity: `--carbon-intensity`, else `--region`, else WORLD 475.
    public static func resolve(overrides: FootprintOverrides, directory: String = FileManager.default.currentDirectoryPath,
                               reader: any PowercapFileReader = SystemPowercapFileReader(),
                               host: HostInfo = .current()) throws -> FootprintSettings {
        let table = try CarbonIntensityTable.bundled()
        let path = (directory as NSString).appendingPathComponent(configFileName)
        var merged = overrides
        var configFile: String?
        var fromFile = FootprintOverrides()
        if FileManager.default.fileExists(atPath: path) {
            fromFile = try FootprintOverrides(toml: FlatTOML.load(path: path))
            merged = fromFile.overridden(by: overrides)
            configFile = path
        }
        try merged.validate(table: table)

        var carbon: CarbonSettings
        if let intensity = merged.carbonIntensityGramsPerKWh {
            let origin = overrides.carbonIntensityGramsPerKWh != nil ? "--carbon-intensity" : "\(configFileName) carbon_intensity"
            carbon = CarbonSettings(intensityGramsPerKWh: intensity, region: merged.region?.uppercased() ?? "custom",
                                    source: "user-supplied (\(origin))", year: nil)
        } else if let region = merged.region, let settings = table.settings(region: region) {
            carbon = settings
        } else {
            carbon = table.settings(region: "WORLD") ?? .worldAverage
        }
        carbon.pue = merged.pue ?? 1
        carbon.pricePerKWh = merged.pricePerKWh
        carbon.currency = merged.currency

        let configuration = FootprintConfiguration(powercapRoot: merged.powercapRoot,
                                                   sampleIntervalSeconds: merged.sampleIntervalSeconds,
                                                   cpuTDPWatts: merged.cpuTDPWatts, reader: reader, host: host,
                                                   gpus: merged.gpus.flatMap(GPUSelection.init(argument:)))
        return FootprintSettings(enabled: !(merged.disabled ?? false), configuration: configuration, carbon: carbon,
                                 idleBaselineSeconds: merged.idleBaselineSeconds ?? 0, configFile: configFile)
    }
}
