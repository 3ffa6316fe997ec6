import Foundation

/// Reads the measured GPUs through NVML: the energy counter where there is one (exact at
/// every boundary, like RAPL), else the power, integrated between reads. A failed read is a
/// missing sample: the counter's energy, or the power's interval, is carried to the next good
/// read, never counted as zero.
final class GPUMeter: EnergyMeter {
    /// Slack in the plausibility bound for how coarsely NVML updates its counter: a delta may
    /// cover up to this long before the previous read at the board's plausible maximum power.
    static let counterUpdateSeconds = 0.5

    private let library: NVMLLibrary
    private let devices: [(device: GPUInventory.Device, handle: NVMLLibrary.Device)]
    private var counters: [CounterAccumulator]
    /// Per device: time of the last good read, and for sampled power its power (W) and the
    /// joules integrated so far.
    private var lastGoodRead: [Double?]
    private var lastPowerWatts: [Double?]
    private var integratedJoules: [Double]
    let domains: [String]
    let countedDomains: [String]
    let domainSources: [String: DomainSource]
    let method: String

    /// Nil when no GPU of the inventory is measured (or a handle no longer resolves).
    init?(inventory: GPUInventory) {
        guard let library = inventory.library else { return nil }
        let devices = inventory.measuredDevices.compactMap { device in
            (try? library.device(at: device.index).get()).map { (device: device, handle: $0) }
        }
        guard !devices.isEmpty, let method = inventory.method else { return nil }
        self.library = library
        self.devices = devices
        counters = devices.map { _ in CounterAccumulator(wrap: .modulo64, microjoulesPerUnit: 1000, initial: nil) }
        lastGoodRead = devices.map { _ in nil }
        lastPowerWatts = devices.map { _ in nil }
        integratedJoules = devices.map { _ in 0 }
        domains = devices.map(\.device.domain)
        countedDomains = domains
        domainSources = Dictionary(uniqueKeysWithValues: devices.map { ($0.device.domain, $0.device.method?.domainSource ?? .nvml) })
        self.method = method
    }

    func read(monotonicSeconds now: Double) -> MeterReading {
        var reading = MeterReading()
        for index in devices.indices {
            let (device, handle) = devices[index]
            let elapsed = lastGoodRead[index].map { max(0, now - $0) }
            switch device.method {
            case .energyCounter?:
                switch library.totalEnergyMillijoules(handle) {
                case let .failure(error):
                    reading.failures[device.domain] = "NVML nvmlDeviceGetTotalEnergyConsumption of GPU \(device.index): \(error)"
                    continue
                case let .success(raw):
                    let bound = 2 * device.plausibleMaxPowerWatts * ((elapsed ?? 0) + Self.counterUpdateSeconds) * 1e6
                    if counters[index].update(raw: raw, plausibleMaxMicrojoules: bound) == .unreconcilable {
                        reading.notes.append("\(device.domain): NVML energy counter reading \(raw) mJ cannot follow the previous one "
                            + "(a reset, or beyond the plausible power); that interval is missing, not zero")
                    }
                    reading.joules[device.domain] = counters[index].totalMicrojoules / 1e6
                }
            case .sampledPower?:
                switch library.powerMilliwatts(handle) {
                case let .failure(error):
                    reading.failures[device.domain] = "NVML nvmlDeviceGetPowerUsage of GPU \(device.index): \(error)"
                    continue
                case let .success(milliwatts):
                    let watts = Double(milliwatts) / 1000
                    if let elapsed, let previous = lastPowerWatts[index] { integratedJoules[index] += (previous + watts) / 2 * elapsed }
                    lastPowerWatts[index] = watts
                    reading.joules[device.domain] = integratedJoules[index]
                }
            case nil:
                continue
            }
            lastGoodRead[index] = now
        }
        return reading
    }

    func track(childProcess pid: Int32) {}   // NVML measures the whole board already
}
