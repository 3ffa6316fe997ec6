import Foundation

/// What a powercap zone measures, from its `name` file (never from its index).
public enum PowercapDomainKind: String, Sendable, Codable {
    /// `package-N` (or `package-N-die-M`): the whole socket, which contains core and uncore.
    case package
    /// `dram`: memory attached to a package; not inside the package figure.
    case dram
    /// `core`, `uncore`: parts of a package, a breakdown only.
    case core, uncore
    /// `psys`: the platform (package, DRAM and more); reported beside, never added.
    case psys
    case unknown
}

/// Whether a zone adds to the total, and why (or why not).
public enum PowercapZoneRole: Sendable, Equatable {
    /// Summed into the total: package-N and dram.
    case counted
    /// Inside a counted package (core, uncore): shown as a breakdown, never added.
    case breakdown
    /// psys covers the platform: shown beside the total, never added.
    case beside
    /// The same package exposed again through `intel-rapl-mmio`.
    case duplicate(of: String)
    /// A zone whose counter mirrors another's (multi-die parts exposing one socket counter per die).
    case mirror(of: String)
    /// Its `energy_uj` cannot be read or parsed.
    case unreadable
    /// A name fmctl does not know; not counted.
    case unknown

    public var label: String {
        switch self {
        case .counted: return "counted"
        case .breakdown: return "breakdown"
        case .beside: return "beside"
        case .duplicate: return "duplicate"
        case .mirror: return "mirror"
        case .unreadable: return "unreadable"
        case .unknown: return "unknown"
        }
    }

    /// True for zones the sampler reads (everything with a distinct, readable counter).
    public var isSampled: Bool {
        switch self {
        case .counted, .breakdown, .beside: return true
        default: return false
        }
    }
}

/// One physical powercap counter, found once however many paths list it.
public struct PowercapZone: Sendable, Equatable {
    /// Directory name of the zone, e.g. `intel-rapl:0:2`; indices are hexadecimal (`intel-rapl:a`).
    public var id: String
    /// The control type the id starts with: `intel-rapl`, `intel-rapl-mmio`, ...
    public var controlType: String
    /// Contents of the `name` file.
    public var name: String
    public var kind: PowercapDomainKind
    /// Socket number from `package-N` (of this zone or of its parent package).
    public var packageIndex: Int?
    public var dieIndex: Int?
    /// The zone id of the enclosing zone, for nested zones.
    public var parentID: String?
    /// Canonical path (links resolved).
    public var path: String
    /// Every path under the root through which this zone was listed (nested folder, top-level link).
    public var listedPaths: [String]
    /// Label used in measurements: `package-0`, `dram-0`, `core-1`, `psys`.
    public var domain: String
    public var maxEnergyRangeMicrojoules: UInt64?
    /// The largest `constraint_*_max_power_uw` the zone declares, in watts.
    public var declaredMaxPowerWatts: Double?
    /// The power used for wrap arithmetic: declared if present, otherwise `assumedMaxPower(for:)`.
    public var plausibleMaxPowerWatts: Double
    /// The first reading of `energy_uj`, or why it failed.
    public var initialEnergyMicrojoules: UInt64?
    public var readError: String?
    public var permissionDenied: Bool
    public var role: PowercapZoneRole
    /// One line saying why the zone has its role.
    public var reason: String
    /// For a zone whose first reading was within a joule of a kept one: how the two advanced.
    public var mirrorCheck: MirrorCheck?

    public var energyPath: String { path + "/energy_uj" }

    /// Seconds until the counter wraps at the plausible maximum power; nil without a range.
    public var wrapSeconds: Double? {
        guard let range = maxEnergyRangeMicrojoules, range > 0, plausibleMaxPowerWatts > 0 else { return nil }
        return Double(range) / 1e6 / plausibleMaxPowerWatts
    }

    /// A conservative (high) power for zones that declare no maximum, so the wrap period derived
    /// from it is short and the sampler reads often enough. Packages of current server parts stay
    /// under 500 W; DRAM and uncore of one socket well under 250 W.
    public static func assumedMaxPowerWatts(for kind: PowercapDomainKind) -> Double {
        switch kind {
        case .package, .core, .psys, .unknown: return 500
        case .dram, .uncore: return 250
        }
    }
}
