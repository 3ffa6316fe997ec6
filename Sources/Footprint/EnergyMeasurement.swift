import Foundation

/// The energy of one window, with how it was obtained.
public struct EnergyMeasurement: Codable, Sendable, Equatable {
    public var name: String
    public var startedAt: Date
    public var durationSeconds: Double
    /// Sum of the counted domains (package + dram, or the estimate's cpu + ram).
    public var energyJoules: Double
    /// Joules of every domain read, including breakdown (core, uncore) and beside (psys) ones.
    public var domainJoules: [String: Double]
    public var countedDomains: [String]
    /// How the CPU side was measured (RAPL or the estimate).
    public var source: EnergySource
    public var method: String
    public var warnings: [String]
    /// Reads inside the window, both exact boundary reads included.
    public var sampleCount: Int
    /// Domain reads that failed inside the window (missing samples, never zeros).
    public var missingSampleCount: Int
    /// CPU seconds of the process (and its tracked children) during the window.
    public var cpuSeconds: Double
    public var logicalCPUs: Int
    /// `energyJoules` less the idle baseline's power x duration; nil without a baseline.
    public var energyAboveIdleJoules: Double?
    /// How each domain was obtained: `rapl`, `estimate`, `nvml`, `sampled power`.
    public var domainSources: [String: DomainSource] = [:]

    public var energyKWh: Double { energyJoules / EnergyUnits.joulesPerKWh }
    public var averagePowerWatts: Double { durationSeconds > 0 ? energyJoules / durationSeconds : 0 }
    /// Share of the available CPUs the process used: CPU seconds / (wall seconds x logical CPUs).
    public var cpuUtilization: Double {
        durationSeconds > 0 ? cpuSeconds / (durationSeconds * Double(max(1, logicalCPUs))) : 0
    }
    /// Joules of the processor domains (package-N, or the estimate's cpu).
    public var cpuJoules: Double {
        countedDomains.filter { $0.hasPrefix("package") || $0 == "cpu" }.compactMap { domainJoules[$0] }.reduce(0, +)
    }
    /// Joules of the memory domains (dram, or the estimate's ram).
    public var ramJoules: Double {
        countedDomains.filter { $0.hasPrefix("dram") || $0 == "ram" }.compactMap { domainJoules[$0] }.reduce(0, +)
    }
    /// Joules of the GPU domains (gpu-N).
    public var gpuJoules: Double {
        countedDomains.filter(MeasurementProvenance.isGPUDomain).compactMap { domainJoules[$0] }.reduce(0, +)
    }
}

public enum EnergyUnits {
    public static let joulesPerKWh = 3_600_000.0
}

/// One point of the power timeline (power.csv): mean watts since the previous read.
public struct PowerSample: Sendable, Equatable {
    public var timestamp: Date
    /// Seconds since the tracker started.
    public var elapsedSeconds: Double
    /// Watts per domain; a domain whose read failed is absent (never zero).
    public var watts: [String: Double]
    /// Sum of the counted domains, nil if one of them is missing.
    public var totalWatts: Double?
    public var source: EnergySource
}

/// Power at rest, measured before work begins.
public struct IdleBaseline: Codable, Sendable, Equatable {
    public var powerWatts: Double
    public var seconds: Double
    public var source: EnergySource

    enum CodingKeys: String, CodingKey {
        case powerWatts = "power_w", seconds = "duration_s", source
    }

    public init(powerWatts: Double, seconds: Double, source: EnergySource) {
        self.powerWatts = powerWatts
        self.seconds = seconds
        self.source = source
    }
}

/// A GPU a run measured (run.json `measurement.gpus`).
public struct GPURecord: Codable, Sendable, Equatable {
    /// NVML's index.
    public var index: Int
    public var name: String
    /// `gpu-N`.
    public var domain: String
    /// `energy counter` or `sampled power`.
    public var method: String

    public init(index: Int, name: String, domain: String, method: String) {
        self.index = index
        self.name = name
        self.domain = domain
        self.method = method
    }
}

/// Where every figure of a run came from (run.json `measurement`).
public struct MeasurementProvenance: Codable, Sendable, Equatable {
    /// How the CPU side was measured: `rapl` or `estimate`.
    public var source: EnergySource
    /// Domains summed into the total.
    public var domains: [String]
    /// Inside a package, never added (core, uncore).
    public var breakdownDomains: [String]
    /// Reported beside the total, never added (psys).
    public var besideDomains: [String]
    public var sampleIntervalSeconds: Double
    public var warnings: [String]
    public var method: String
    /// CPU time of the sampler thread / wall time (a fraction of one CPU).
    public var samplerOverhead: Double
    public var missingSamples: Int
    /// Domain -> how it was obtained (`DomainSource`'s raw values); empty in runs recorded
    /// before GPUs were measured, whose every domain has `source`.
    public var domainSources: [String: String]
    /// The GPUs measured.
    public var gpus: [GPURecord]

    enum CodingKeys: String, CodingKey {
        case source, domains, warnings, method, gpus
        case breakdownDomains = "breakdown_domains", besideDomains = "beside_domains"
        case sampleIntervalSeconds = "sample_interval_s", samplerOverhead = "sampler_overhead"
        case missingSamples = "missing_samples", domainSources = "domain_sources"
    }

    public init(source: EnergySource, domains: [String], breakdownDomains: [String] = [], besideDomains: [String] = [],
                sampleIntervalSeconds: Double, warnings: [String], method: String, samplerOverhead: Double = 0,
                missingSamples: Int = 0, domainSources: [String: String] = [:], gpus: [GPURecord] = []) {
        self.source = source
        self.domains = domains
        self.breakdownDomains = breakdownDomains
        self.besideDomains = besideDomains
        self.sampleIntervalSeconds = sampleIntervalSeconds
        self.warnings = warnings
        self.method = method
        self.samplerOverhead = samplerOverhead
        self.missingSamples = missingSamples
        self.domainSources = domainSources
        self.gpus = gpus
    }

    public init(from decoder: any Decoder) throws {
        let values = try decoder.container(keyedBy: CodingKeys.self)
        self.init(source: try values.decode(EnergySource.self, forKey: .source),
                  domains: try values.decode([String].self, forKey: .domains),
                  breakdownDomains: try values.decode([String].self, forKey: .breakdownDomains),
                  besideDomains: try values.decode([String].self, forKey: .besideDomains),
                  sampleIntervalSeconds: try values.decode(Double.self, forKey: .sampleIntervalSeconds),
                  warnings: try values.decode([String].self, forKey: .warnings),
                  method: try values.decode(String.self, forKey: .method),
                  samplerOverhead: try values.decode(Double.self, forKey: .samplerOverhead),
                  missingSamples: try values.decode(Int.self, forKey: .missingSamples),
                  domainSources: try values.decodeIfPresent([String: String].self, forKey: .domainSources) ?? [:],
                  gpus: try values.decodeIfPresent([GPURecord].self, forKey: .gpus) ?? [])
    }

    /// A GPU domain: `gpu-0`, `gpu-1`, ...
    public static func isGPUDomain(_ domain: String) -> Bool { domain.hasPrefix("gpu-") }

    /// How `domain` was obtained: its recorded source, else the run's.
    public func source(of domain: String) -> String { domainSources[domain] ?? source.rawValue }

    /// Counted domains obtained by measurement (RAPL, NVML) and by the estimate.
    public var measuredDomains: [String] { domains.filter { source(of: $0) != DomainSource.estimate.rawValue } }
    public var estimatedDomains: [String] { domains.filter { source(of: $0) == DomainSource.estimate.rawValue } }

    /// `rapl`, `estimate`, or with GPUs e.g. `rapl + nvml`: the distinct sources of the
    /// counted domains, in order.
    public var sourceLabel: String {
        var labels: [String] = []
        for domain in domains where !labels.contains(source(of: domain)) { labels.append(source(of: domain)) }
        return labels.isEmpty ? source.rawValue : labels.joined(separator: " + ")
    }

    /// The counted domains, `package-0 + dram-0`; with more than one source, grouped by it:
    /// `package-0 + dram-0 (rapl), gpu-0 (nvml)`.
    public var domainsBySource: String {
        guard Set(domains.map(source(of:))).count > 1 else { return domains.joined(separator: " + ") }
        var groups: [(source: String, domains: [String])] = []
        for domain in domains {
            let source = source(of: domain)
            if let last = groups.indices.last, groups[last].source == source { groups[last].domains.append(domain) }
            else { groups.append((source, [domain])) }
        }
        return groups.map { "\($0.domains.joined(separator: " + ")) (\($0.source))" }.joined(separator: ", ")
    }
}
