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

/// Where every figure of a run came from (run.json `measurement`).
public struct MeasurementProvenance: Codable, Sendable, Equatable {
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

    enum CodingKeys: String, CodingKey {
        case source, domains, warnings, method
        case breakdownDomains = "breakdown_domains", besideDomains = "beside_domains"
        case sampleIntervalSeconds = "sample_interval_s", samplerOverhead = "sampler_overhead"
        case missingSamples = "missing_samples"
    }

    public init(source: EnergySource, domains: [String], breakdownDomains: [String] = [], besideDomains: [String] = [],
                sampleIntervalSeconds: Double, warnings: [String], method: String, samplerOverhead: Double = 0,
                missingSamples: Int = 0) {
        self.source = source
        self.domains = domains
        self.breakdownDomains = breakdownDomains
        self.besideDomains = besideDomains
        self.sampleIntervalSeconds = sampleIntervalSeconds
        self.warnings = warnings
        self.method = method
        self.samplerOverhead = samplerOverhead
        self.missingSamples = missingSamples
    }
}
