import Foundation

/// What `fmctl footprint probe` says about a powercap tree: each zone, whether it counts and
/// why, its counter range and wrap time, and a diagnosis with the fix.
public struct PowercapProbe: Sendable {
    public var inventory: PowercapInventory
    /// The interval the sampler would use with the default request (1 s).
    public var sampleIntervalSeconds: Double
    public var diagnosis: [String]

    public init(inventory: PowercapInventory, requestedSampleInterval: Double = FootprintConfiguration.defaultSampleIntervalSeconds) {
        self.inventory = inventory
        sampleIntervalSeconds = EnergyTracker.sampleInterval(requested: requestedSampleInterval, explicit: false, inventory: inventory).0
        diagnosis = Self.diagnose(inventory)
    }

    static func diagnose(_ inventory: PowercapInventory) -> [String] {
        var lines: [String] = []
        if let reason = EnergyTracker.fallbackReason(inventory) {
            lines.append(reason)
        } else {
            lines.append("RAPL usable: total = \(inventory.countedDomains.joined(separator: " + "))")
        }
        let mirrors = inventory.zones.filter { if case .mirror = $0.role { return true } else { return false } }
        if !mirrors.isEmpty {
            lines.append("\(mirrors.count) zone(s) mirror another zone's counter (multi-die parts list one socket counter per die); each counted once, so the total is not multiplied by the die count")
        }
        let duplicates = inventory.zones.filter { if case .duplicate = $0.role { return true } else { return false } }
        if !duplicates.isEmpty {
            lines.append("\(duplicates.count) zone(s) repeat a package through intel-rapl-mmio; counted once through intel-rapl")
        }
        if inventory.zones.contains(where: { $0.role == .beside }) {
            lines.append("psys (platform) is reported beside the total and never added: it already contains package and dram")
        }
        let unreadable = inventory.zones.filter { $0.role == .unreadable && !$0.permissionDenied }
        for zone in unreadable { lines.append("\(zone.energyPath): \(zone.readError ?? "unreadable")") }
        if !inventory.zones.isEmpty, !inventory.zones.contains(where: { $0.kind == .dram }) {
            lines.append("no dram zone: memory energy is not covered (common on client CPUs and AMD)")
        }
        return lines
    }
}
