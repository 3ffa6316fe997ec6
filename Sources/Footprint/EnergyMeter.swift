import Foundation

/// How a figure was obtained.
public enum EnergySource: String, Codable, Sendable {
    /// Counter deltas of the RAPL energy registers (powercap `energy_uj`).
    case rapl
    /// A model (TDP x CPU utilisation, plus RAM), not a measurement.
    case estimate
}

/// How one domain's energy is obtained (`measurement.domain_sources`).
public enum DomainSource: String, Codable, Sendable {
    /// RAPL counter deltas (package, dram, core, uncore, psys).
    case rapl
    /// The CPU and RAM model (cpu, ram).
    case estimate
    /// NVML's GPU energy counter, read at every window boundary.
    case nvml
    /// NVML's GPU power readings integrated between reads.
    case sampledPower = "sampled power"

    /// Everything but the estimate is a measurement.
    public var isMeasured: Bool { self != .estimate }
}

/// One read of every domain: cumulative joules since the meter started. A domain whose read
/// failed is absent (a missing sample), never zero.
struct MeterReading {
    var joules: [String: Double] = [:]
    /// Domain -> why its read failed.
    var failures: [String: String] = [:]
    /// Events worth a warning, e.g. an interval that could not be reconciled.
    var notes: [String] = []
    /// The process CPU seconds the estimate read, so that a window's CPU time and its
    /// estimated energy come from one sample; nil for meters that do not read it.
    var cpuSeconds: Double?
}

/// A source of cumulative energy per domain: RAPL or the estimate for the CPU side, NVML for
/// GPUs, or several of them read together. Used only under the tracker's lock.
protocol EnergyMeter: AnyObject {
    /// Every domain the meter reports, counted ones first.
    var domains: [String] { get }
    /// Domains whose sum is the total.
    var countedDomains: [String] { get }
    /// How each domain is obtained.
    var domainSources: [String: DomainSource] { get }
    var method: String { get }
    func read(monotonicSeconds: Double) -> MeterReading
    /// Processes (besides this one) whose usage the estimate includes.
    func track(childProcess pid: Int32)
}

/// Reads RAPL counters of the sampled zones and accumulates them through wraps.
final class RAPLMeter: EnergyMeter {
    let zones: [PowercapZone]
    let reader: any PowercapFileReader
    private var accumulators: [CounterAccumulator]
    private var lastGoodRead: [Double?]
    let domains: [String]
    let countedDomains: [String]
    let domainSources: [String: DomainSource]
    let method: String

    init(inventory: PowercapInventory, reader: any PowercapFileReader, startMonotonic: Double) {
        zones = inventory.sampledZones.sorted { ($0.role == .counted ? 0 : 1, $0.id) < ($1.role == .counted ? 0 : 1, $1.id) }
        self.reader = reader
        accumulators = zones.map { CounterAccumulator(maxRange: $0.maxEnergyRangeMicrojoules, initial: nil) }
        lastGoodRead = zones.map { _ in nil }
        domains = zones.map(\.domain)
        countedDomains = zones.filter { $0.role == .counted }.map(\.domain)
        domainSources = Dictionary(uniqueKeysWithValues: domains.map { ($0, .rapl) })
        method = "RAPL energy counters (powercap \(inventory.root)): counter deltas with wrap correction; total = "
            + (countedDomains.isEmpty ? "none" : countedDomains.joined(separator: " + "))
    }

    func read(monotonicSeconds now: Double) -> MeterReading {
        var reading = MeterReading()
        for index in zones.indices {
            let zone = zones[index]
            switch reader.unsignedValue(ofFile: zone.energyPath) {
            case let .failure(error):
                reading.failures[zone.domain] = "\(zone.energyPath): \(error)"
            case let .success(raw):
                // A delta beyond twice the plausible maximum power (plus a joule of counter
                // granularity) over the time since the last good read is garbage, not energy.
                let elapsed = lastGoodRead[index].map { max(0, now - $0) } ?? 0
                let bound = 2 * zone.plausibleMaxPowerWatts * elapsed * 1e6 + 1e6
                switch accumulators[index].update(raw: raw, plausibleMaxMicrojoules: bound) {
                case .unreconcilable:
                    reading.notes.append("\(zone.energyPath): reading \(raw) cannot follow the previous one "
                        + (zone.maxEnergyRangeMicrojoules == nil ? "(decrease without max_energy_range_uj)" : "(beyond the counter range or plausible power)")
                        + "; that interval is missing, not zero")
                case .first, .advanced, .wrapped: break
                }
                lastGoodRead[index] = now
                reading.joules[zone.domain] = accumulators[index].totalMicrojoules / 1e6
            }
        }
        return reading
    }

    func track(childProcess pid: Int32) {}   // RAPL measures the whole package already
}

/// The estimate: CPU from TDP x utilisation, RAM from resident memory.
final class EstimateMeter: EnergyMeter {
    let domains = ["cpu", "ram"]
    let countedDomains = ["cpu", "ram"]
    let domainSources: [String: DomainSource] = ["cpu": .estimate, "ram": .estimate]
    let cpuModel: CPUPowerModel
    private var children: [Int32] = []
    private var startCPUSeconds: Double
    private var ramJoules = 0.0
    private var lastTime: Double
    private var lastResidentBytes: Double

    init(cpuModel: CPUPowerModel, startMonotonic: Double) {
        self.cpuModel = cpuModel
        startCPUSeconds = ProcessUsage.cpuSeconds(children: [])
        lastTime = startMonotonic
        lastResidentBytes = ProcessUsage.residentBytes(children: [])
    }

    var method: String {
        "estimate: cpu = \(CPUPowerModel.format(cpuModel.fullLoadWatts)) W at full load (\(cpuModel.origin)) "
            + "x process CPU utilisation (CPU seconds / (wall seconds x \(cpuModel.logicalCPUs) logical CPUs)); "
            + "ram = \(RAMPowerModel.wattsPerGigabyte) W/GB (3 W per 8 GB) x resident memory"
    }

    func read(monotonicSeconds now: Double) -> MeterReading {
        let cpuSeconds = ProcessUsage.cpuSeconds(children: children)
        let resident = ProcessUsage.residentBytes(children: children)
        // Trapezoid between reads: resident memory changes slowly next to the sampling interval.
        ramJoules += RAMPowerModel.wattsPerGigabyte * (lastResidentBytes + resident) / 2 / 1e9 * max(0, now - lastTime)
        lastTime = now
        lastResidentBytes = resident
        return MeterReading(joules: ["cpu": cpuModel.joules(cpuSeconds: cpuSeconds - startCPUSeconds), "ram": ramJoules],
                            cpuSeconds: cpuSeconds)
    }

    func track(childProcess pid: Int32) {
        if !children.contains(pid) { children.append(pid) }
    }
}

/// Meters read together as one: the CPU side (RAPL or the estimate) and the GPUs. Counted
/// domains of every part come first, then the rest.
final class CombinedMeter: EnergyMeter {
    let parts: [any EnergyMeter]
    let domains: [String]
    let countedDomains: [String]
    let domainSources: [String: DomainSource]
    let method: String

    init(_ parts: [any EnergyMeter]) {
        self.parts = parts
        let counted = parts.flatMap(\.countedDomains)
        countedDomains = counted
        domains = counted + parts.flatMap(\.domains).filter { !counted.contains($0) }
        domainSources = parts.reduce(into: [:]) { sources, part in sources.merge(part.domainSources) { first, _ in first } }
        method = parts.map(\.method).joined(separator: "; ")
    }

    func read(monotonicSeconds now: Double) -> MeterReading {
        parts.reduce(into: MeterReading()) { reading, part in
            let partReading = part.read(monotonicSeconds: now)
            reading.joules.merge(partReading.joules) { first, _ in first }
            reading.failures.merge(partReading.failures) { first, _ in first }
            reading.notes += partReading.notes
            reading.cpuSeconds = reading.cpuSeconds ?? partReading.cpuSeconds
        }
    }

    func track(childProcess pid: Int32) {
        for part in parts { part.track(childProcess: pid) }
    }
}
