import FMSupport
import Foundation

/// Carbon intensity, PUE and price: how energy becomes grams of CO2e and money.
///
/// `co2e_g = energy_kwh x pue x intensity` and `cost = energy_kwh x pue x price`: the PUE
/// (power usage effectiveness, >= 1) scales the IT energy to what the building drew.
public struct CarbonSettings: Codable, Sendable, Equatable {
    public var intensityGramsPerKWh: Double
    /// ISO3 code of the grid (`WORLD` for the world average, `custom` for a given intensity).
    public var region: String
    /// Where the intensity comes from.
    public var source: String
    public var year: Int?
    public var pue: Double
    public var pricePerKWh: Double?
    public var currency: String?

    enum CodingKeys: String, CodingKey {
        case region, source, year, pue, currency
        case intensityGramsPerKWh = "intensity_g_per_kwh", pricePerKWh = "price_per_kwh"
    }

    public init(intensityGramsPerKWh: Double, region: String, source: String, year: Int?,
                pue: Double = 1, pricePerKWh: Double? = nil, currency: String? = nil) {
        self.intensityGramsPerKWh = intensityGramsPerKWh
        self.region = region
        self.source = source
        self.year = year
        self.pue = pue
        self.pricePerKWh = pricePerKWh
        self.currency = currency
    }

    /// The default: IEA Global Energy & CO2 Status Report 2019 world average, as CodeCarbon uses.
    public static let worldAverage = CarbonSettings(
        intensityGramsPerKWh: 475, region: "WORLD",
        source: "IEA Global Energy & CO2 Status Report 2019 (world average)", year: 2019)

    public func co2eGrams(energyKWh: Double) -> Double { energyKWh * pue * intensityGramsPerKWh }

    /// Nil when no price was set.
    public func cost(energyKWh: Double) -> Double? { pricePerKWh.map { energyKWh * pue * $0 } }
}

/// Grid carbon intensity per country (`Resources/carbon-intensity.csv`).
public struct CarbonIntensityTable: Sendable {
    public struct Row: Sendable, Equatable {
        public var iso3: String
        public var country: String
        public var gramsPerKWh: Double
        public var year: Int?
    }

    public var rows: [String: Row]

    public static func bundled() throws -> CarbonIntensityTable {
        try parse(csv: ResourceFiles.text(named: "carbon-intensity.csv"), path: "carbon-intensity.csv")
    }

    public static func parse(csv: String, path: String) throws -> CarbonIntensityTable {
        var rows: [String: Row] = [:]
        for (number, fields) in CSV.parse(csv).enumerated() where number > 0 && !fields.allSatisfy(\.isEmpty) {
            guard fields.count >= 4, let grams = Double(fields[2]), grams >= 0 else {
                throw FootprintError.invalidConfigFile(path: path, line: number + 1, expected: "iso3,country,g_co2e_per_kwh,year")
            }
            rows[fields[0].uppercased()] = Row(iso3: fields[0].uppercased(), country: fields[1], gramsPerKWh: grams, year: Int(fields[3]))
        }
        return CarbonIntensityTable(rows: rows)
    }

    public func row(iso3: String) -> Row? { rows[iso3.uppercased()] }

    /// Carbon settings for a region code; nil for an unknown one.
    public func settings(region iso3: String) -> CarbonSettings? {
        guard let row = row(iso3: iso3) else { return nil }
        let source = row.iso3 == "WORLD" ? CarbonSettings.worldAverage.source
            : "Our World in Data / Ember (via CodeCarbon global_energy_mix), \(row.country)"
        return CarbonSettings(intensityGramsPerKWh: row.gramsPerKWh, region: row.iso3, source: source, year: row.year)
    }
}
