import Footprint

/// A data-parallel run's processes and hosts (run.json `distributed`, docs/run-folder.md):
/// each host measured once, by its lowest rank, and the run's totals are the sum over hosts.
public struct DistributedRecord: Codable, Sendable, Equatable {
    /// Processes in the job.
    public var worldSize: Int
    public var hosts: [HostEnergyRecord]

    enum CodingKeys: String, CodingKey {
        case hosts
        case worldSize = "world_size"
    }

    public init(worldSize: Int, hosts: [HostEnergyRecord]) {
        self.worldSize = worldSize
        self.hosts = hosts
    }
}

/// One host of a data-parallel run: its ranks and what its measurement counted so far.
public struct HostEnergyRecord: Codable, Sendable, Equatable {
    /// The host's name (or the identity `FMCTL_HOST_ID` gave it).
    public var host: String
    public var ranks: [Int]
    /// Joules over the run's epochs; nil without a footprint.
    public var energyJoules: Double?
    public var source: EnergySource?
    /// Joules per domain over the run's epochs.
    public var domains: [String: Double]

    enum CodingKeys: String, CodingKey {
        case host, ranks, source, domains
        case energyJoules = "energy_j"
    }

    public init(host: String, ranks: [Int], energyJoules: Double? = nil, source: EnergySource? = nil, domains: [String: Double] = [:]) {
        self.host = host
        self.ranks = ranks
        self.energyJoules = energyJoules
        self.source = source
        self.domains = domains
    }

    /// Adds one window's measurement of this host.
    public mutating func add(_ m: EnergyMeasurement) {
        energyJoules = (energyJoules ?? 0) + m.energyJoules
        source = source == nil || source == m.source ? m.source : .estimate
        for (domain, joules) in m.domainJoules { domains[domain, default: 0] += joules }
    }
}

extension EnergyMeasurement {
    /// The measurements of one window on several hosts as one: joules and counts summed
    /// (per domain too), counted domains united, the longest duration, the CPUs of all hosts;
    /// the source is `rapl` only if every host read RAPL (a total with any estimated part is
    /// an estimate), and each host's warnings are kept with its name.
    /// - Parameter hosts: each host's name and measurement, first host first.
    /// - Returns: the combined measurement, named and started as the first host's.
    public static func combined(_ hosts: [(host: String, measurement: EnergyMeasurement)]) -> EnergyMeasurement {
        precondition(!hosts.isEmpty)
        var m = hosts[0].measurement
        guard hosts.count > 1 else { return m }
        m.energyJoules = hosts.map(\.measurement.energyJoules).reduce(0, +)
        m.domainJoules = [:]
        m.countedDomains = []
        m.domainSources = [:]
        m.warnings = []
        for (host, h) in hosts {
            for (domain, joules) in h.domainJoules { m.domainJoules[domain, default: 0] += joules }
            for domain in h.countedDomains where !m.countedDomains.contains(domain) { m.countedDomains.append(domain) }
            for (domain, source) in h.domainSources {
                // The same domain name measured on one host and estimated on another is an estimate.
                let known = m.domainSources[domain]
                m.domainSources[domain] = known == nil || known == source || source.isMeasured ? (known ?? source) : source
            }
            m.warnings += h.warnings.map { "\(host): \($0)" }
        }
        m.durationSeconds = hosts.map(\.measurement.durationSeconds).max()!
        m.source = hosts.allSatisfy { $0.measurement.source == .rapl } ? .rapl : .estimate
        let methods = Set(hosts.map(\.measurement.method))
        m.method = methods.count == 1 ? m.method : hosts.map { "\($0.host): \($0.measurement.method)" }.joined(separator: "; ")
        m.sampleCount = hosts.map(\.measurement.sampleCount).reduce(0, +)
        m.missingSampleCount = hosts.map(\.measurement.missingSampleCount).reduce(0, +)
        m.cpuSeconds = hosts.map(\.measurement.cpuSeconds).reduce(0, +)
        m.logicalCPUs = hosts.map(\.measurement.logicalCPUs).reduce(0, +)
        let aboveIdle = hosts.map(\.measurement.energyAboveIdleJoules)
        m.energyAboveIdleJoules = aboveIdle.contains { $0 == nil } ? nil : aboveIdle.map { $0! }.reduce(0, +)
        return m
    }
}
