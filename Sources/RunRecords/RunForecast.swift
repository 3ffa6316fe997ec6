import Footprint

/// The whole run's energy and CO2e, forecast after an epoch.
///
/// Point: the energy so far plus the remaining epochs at the mean energy of the finished ones.
/// Range: the remaining epochs at the lowest and highest epoch energy seen so far, widened to at
/// least +-10 % of the mean, because after one or two epochs the spread seen says little
/// (shuffling, caches and CPU frequency move epoch energy by a few percent; the first epoch also
/// pays warm-up). Carbontracker forecasts after epoch 1 with no range at all.
public struct RunForecast: Codable, Sendable, Equatable {
    public static let minimumRelativeSpread = 0.10

    public var afterEpoch: Int
    public var plannedEpochs: Int
    public var energyKWh: Double
    public var energyKWhLow: Double
    public var energyKWhHigh: Double
    public var co2eGrams: Double
    public var co2eGramsLow: Double
    public var co2eGramsHigh: Double
    public var durationSeconds: Double
    public var method: String

    enum CodingKeys: String, CodingKey {
        case method
        case afterEpoch = "after_epoch", plannedEpochs = "planned_epochs", energyKWh = "energy_kwh"
        case energyKWhLow = "energy_kwh_low", energyKWhHigh = "energy_kwh_high", co2eGrams = "co2e_g"
        case co2eGramsLow = "co2e_g_low", co2eGramsHigh = "co2e_g_high", durationSeconds = "duration_s"
    }

    /// Nil without finished, measured epochs or when `plannedEpochs` is unknown.
    public static func make(after epochs: [EpochRecord], plannedEpochs: Int, carbon: CarbonSettings) -> RunForecast? {
        let finished = epochs.filter { !$0.interrupted }
        let energies = finished.compactMap(\.energyKWh)
        guard plannedEpochs > 0, !energies.isEmpty, energies.count == finished.count, let last = finished.last else { return nil }
        let done = energies.reduce(0, +)
        let remaining = Double(max(0, plannedEpochs - finished.count))
        let mean = done / Double(energies.count)
        let low = min(energies.min()!, mean * (1 - minimumRelativeSpread))
        let high = max(energies.max()!, mean * (1 + minimumRelativeSpread))
        let meanDuration = finished.map(\.durationSeconds).reduce(0, +) / Double(finished.count)
        let point = done + remaining * mean
        let lowTotal = done + remaining * low
        let highTotal = done + remaining * high
        return RunForecast(
            afterEpoch: last.epoch, plannedEpochs: plannedEpochs, energyKWh: point, energyKWhLow: lowTotal,
            energyKWhHigh: highTotal, co2eGrams: carbon.co2eGrams(energyKWh: point),
            co2eGramsLow: carbon.co2eGrams(energyKWh: lowTotal), co2eGramsHigh: carbon.co2eGrams(energyKWh: highTotal),
            durationSeconds: finished.map(\.durationSeconds).reduce(0, +) + remaining * meanDuration,
            method: "done + remaining epochs x mean epoch energy; range: min/max epoch energy so far, at least +-10 % of the mean")
    }
}
