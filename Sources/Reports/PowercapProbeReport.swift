import Footprint

extension PowercapProbe {
    /// The text `fmctl footprint probe` prints: the root, a table of the zones (role, counter
    /// range, plausible maximum power, wrap time, why), their paths, the evidence of each mirror
    /// check, and the diagnosis.
    ///
    /// - Returns: lines ending in newlines.
    public func rendered() -> String {
        var out = "powercap root: \(inventory.root)" + (inventory.rootExists ? "" : " (missing)") + "\n"
        if !inventory.zones.isEmpty {
            let header = ["zone", "name", "domain", "readable", "energy_uj", "range_uj", "max W", "wrap s", "role", "listed as", "why"]
            let rows: [[String]] = inventory.zones.map { zone in
                let listedNames = zone.listedPaths.map { path -> String in
                    path.hasPrefix(inventory.root + "/") ? String(path.dropFirst(inventory.root.count + 1)) : path
                }
                return [zone.id, zone.name.isEmpty ? "?" : zone.name, zone.role.isSampled ? zone.domain : "-",
                        zone.initialEnergyMicrojoules != nil ? "yes" : (zone.permissionDenied ? "no (permission)" : "no"),
                        zone.initialEnergyMicrojoules.map(String.init) ?? "-",
                        zone.maxEnergyRangeMicrojoules.map(String.init) ?? "missing",
                        RunReport.figure(zone.plausibleMaxPowerWatts, 3) + (zone.declaredMaxPowerWatts == nil ? " (assumed)" : ""),
                        zone.wrapSeconds.map { RunReport.figure($0, 3) } ?? "-",
                        zone.role.label, listedNames.joined(separator: ", "), zone.reason]
            }
            out += "\n" + RunReport.table(header: header, rows: rows, markdown: false)
            out += "\npaths:\n" + inventory.zones.map { "  \($0.id): \($0.path)\n" }.joined()
            let checks = inventory.zones.compactMap(\.mirrorCheck)
            if !checks.isEmpty {
                out += "\nmirror checks (first readings within 1 J; both counters read \(PowercapInventory.mirrorCheckReads) times, "
                    + "\(RunReport.figure(PowercapInventory.mirrorCheckSpacingSeconds * 1000, 3)) ms apart; deltas in µJ, this/other):\n"
                out += checks.map { check in
                    "  \(check.zoneID) against \(check.otherID): \(check.deltasText): "
                        + (check.isMirror ? "mirror" : "not a mirror") + ", \(check.verdict)\n"
                }.joined()
            }
        }
        if let wrap = inventory.shortestWrapSeconds {
            out += "\nshortest wrap at plausible maximum power: \(RunReport.figure(wrap, 3)) s; sampler interval: \(RunReport.figure(sampleIntervalSeconds, 3)) s\n"
        }
        out += "\ndiagnosis:\n" + diagnosis.map { "  - \($0)\n" }.joined()
        return out
    }
}
