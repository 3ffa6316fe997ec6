import Footprint

extension GPUInventory {
    /// The GPU part of `fmctl footprint probe`: whether NVML could be used and why not, each GPU
    /// (name, domain, how its energy is obtained, readable or why not, counter, power and
    /// limit), and what the total gains.
    ///
    /// - Returns: lines ending in newlines, starting with an empty line.
    public func rendered() -> String {
        var out = "\nnvml: "
        if let unavailableReason { return out + unavailableReason + "\n" }
        out += "\(libraryName) loaded" + (driverVersion.map { ", driver \($0)" } ?? "")
            + ", \(devices.count) GPU(s); selection: \(selection) (\(selectionOrigin))\n"
        if !devices.isEmpty {
            let header = ["gpu", "name", "domain", "method", "readable", "energy_mj", "power W", "limit W", "why"]
            let rows: [[String]] = devices.map { device in
                [String(device.index), device.name ?? "?", device.isMeasured ? device.domain : "-",
                 device.method?.rawValue ?? "-", device.method != nil ? "yes" : "no",
                 device.initialEnergyMillijoules.map(String.init) ?? "-",
                 RunReport.figure(device.powerWatts, 4), RunReport.figure(device.powerLimitWatts, 4), device.reason]
            }
            out += "\n" + RunReport.table(header: header, rows: rows, markdown: false)
        }
        var lines = warnings
        let measured = measuredDevices
        lines.append(measured.isEmpty
            ? "no GPU is measured"
            : "GPUs added to the total: " + measured.map { "\($0.domain) (\($0.method?.rawValue ?? ""))" }.joined(separator: " + "))
        return out + "\ngpu diagnosis:\n" + lines.map { "  - \($0)\n" }.joined()
    }
}
