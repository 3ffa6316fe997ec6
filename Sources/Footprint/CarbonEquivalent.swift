/// A run's CO2e expressed as something familiar, with the factor and where it comes from.
///
/// The factors are the US EPA's (Greenhouse Gas Equivalencies Calculator, "Calculations and
/// References"): they describe US averages, so they are a sense of scale, not an offset.
public struct CarbonEquivalent: Sendable, Equatable {
    /// What one unit is, e.g. `km driven by an average gasoline passenger car`.
    public var description: String
    /// Grams of CO2e per unit.
    public var gramsPerUnit: Double
    /// The factor as its source states it, and the source.
    public var citation: String

    public func amount(co2eGrams: Double) -> Double { co2eGrams / gramsPerUnit }

    /// EPA: 3.93 x 10^-4 metric tons CO2e per mile (average gasoline-powered passenger
    /// vehicle); EPA gives miles only, so 393 g / 1.609344 km = 244.2 g per km.
    public static let carKilometres = CarbonEquivalent(
        description: "km driven by an average gasoline passenger car", gramsPerUnit: 393 / 1.609344,
        citation: "US EPA Greenhouse Gas Equivalencies Calculator: 3.93 x 10^-4 metric tons CO2e per mile driven "
            + "by the average gasoline-powered passenger vehicle (converted at 1.609344 km per mile)")

    /// EPA: 1.24 x 10^-5 metric tons CO2 per smartphone charged (US grid electricity).
    public static let smartphoneCharges = CarbonEquivalent(
        description: "smartphone charges", gramsPerUnit: 12.4,
        citation: "US EPA Greenhouse Gas Equivalencies Calculator: 1.24 x 10^-5 metric tons CO2 per smartphone charged")

    public static let all = [carKilometres, smartphoneCharges]
}
