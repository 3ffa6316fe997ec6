import Foundation

/// The powercap zones under a root, each physical counter once, with the domain algebra
/// decided: total = sum(package-N) + sum(dram); core/uncore a breakdown; psys beside.
public struct PowercapInventory: Sendable {
    public static let defaultRoot = "/sys/class/powercap"
    /// Environment variable that overrides the default root (for tests and odd systems).
    public static let rootEnvironmentVariable = "FMCTL_POWERCAP_ROOT"

    /// First readings within this many microjoules nominate two zones as one counter listed
    /// twice (multi-die mirrors agree within one hardware update, ~1 ms, well under a joule at
    /// package power); the mirror check then decides by how they advance.
    static let mirrorToleranceMicrojoules: UInt64 = 1_000_000

    public var root: String
    public var rootExists: Bool
    /// Every physical zone found, sorted by id, with its role.
    public var zones: [PowercapZone]

    public var countedZones: [PowercapZone] { zones.filter { $0.role == .counted } }
    /// Zones the sampler reads: counted, breakdown and beside.
    public var sampledZones: [PowercapZone] { zones.filter { $0.role.isSampled } }
    /// Domain labels whose sum is the total.
    public var countedDomains: [String] { countedZones.map(\.domain) }
    /// Counted zones whose `energy_uj` is root-only: RAPL cannot be used until access is granted.
    public var permissionDeniedZones: [PowercapZone] {
        zones.filter { $0.permissionDenied && ($0.kind == .package || $0.kind == .dram || $0.kind == .psys) }
    }
    /// True when the counted zones can be read: RAPL can measure.
    public var isUsable: Bool { !countedZones.isEmpty }
    /// The shortest wrap period among sampled zones at their plausible maximum power.
    public var shortestWrapSeconds: Double? { sampledZones.compactMap(\.wrapSeconds).min() }

    /// Resolves the root: explicit value, then `FMCTL_POWERCAP_ROOT`, then `/sys/class/powercap`.
    public static func resolveRoot(_ explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let fromEnvironment = environment[rootEnvironmentVariable], !fromEnvironment.isEmpty { return fromEnvironment }
        return defaultRoot
    }

    /// A zone directory is named `<control type>:<hex>[:<hex>...]`, e.g. `intel-rapl:0:1`.
    static func isZoneID(_ name: String) -> Bool {
        let parts = name.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count >= 2, !parts[0].isEmpty else { return false }
        return parts.dropFirst().allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isHexDigit) }
    }

    /// Walks `root` and classifies every zone. Never throws: what cannot be read is recorded
    /// in the zone's `readError` and role. Zones nominated as mirrors are read over 0.1 s of
    /// `clock` (see ``MirrorCheck``); without candidates discovery does not wait.
    public static func discover(root: String, reader: some PowercapFileReader = SystemPowercapFileReader(),
                                clock: any FootprintClock = SystemClock()) -> PowercapInventory {
        guard reader.isDirectory(root) else { return PowercapInventory(root: root, rootExists: false, zones: []) }

        // 1. Every path that names a zone: top-level links, control-type folders, nested folders.
        var listed: [String: [String]] = [:]   // real path -> listed paths
        var order: [String] = []
        func visit(_ path: String, depth: Int) {
            guard depth < 8, let real = reader.resolvedPath(path), reader.isDirectory(path) else { return }
            let firstVisit = listed[real] == nil
            if firstVisit { order.append(real) }
            listed[real, default: []].append(path)
            guard firstVisit else { return }
            for child in reader.entries(ofDirectory: path).sorted() where isZoneID(child) {
                visit(path + "/" + child, depth: depth + 1)
            }
        }
        for entry in reader.entries(ofDirectory: root).sorted() {
            let path = root + "/" + entry
            if isZoneID(entry) {
                visit(path, depth: 0)
            } else if reader.isDirectory(path) {
                // A control-type folder such as `intel-rapl`: its zones are its children.
                for child in reader.entries(ofDirectory: path).sorted() where isZoneID(child) {
                    visit(path + "/" + child, depth: 1)
                }
            }
        }

        // 2. Read each zone's files.
        var zones: [PowercapZone] = order.map { real in
            readZone(realPath: real, listedPaths: listed[real] ?? [], reader: reader)
        }
        let byPath = Dictionary(zones.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
        for index in zones.indices {
            let parentPath = (zones[index].path as NSString).deletingLastPathComponent
            if let parent = byPath[parentPath] {
                zones[index].parentID = parent.id
                if zones[index].kind != .package, zones[index].packageIndex == nil {
                    zones[index].packageIndex = parent.packageIndex
                }
            }
        }
        zones.sort { zoneOrder($0.id, $1.id) }
        let checks = checkMirrors(mirrorCandidates(zones), zones: zones, reader: reader, clock: clock)
        assignRoles(&zones, mirrorChecks: checks)
        assignDomainLabels(&zones)
        return PowercapInventory(root: root, rootExists: true, zones: zones)
    }

    static func readZone(realPath: String, listedPaths: [String], reader: some PowercapFileReader) -> PowercapZone {
        let id = (realPath as NSString).lastPathComponent
        let controlType = String(id.prefix(while: { $0 != ":" }))
        let name = reader.trimmedContents(ofFile: realPath + "/name") ?? ""
        let (kind, packageIndex, dieIndex) = classify(name: name)

        var maxRange: UInt64?
        if case let .success(value) = reader.unsignedValue(ofFile: realPath + "/max_energy_range_uj"), value > 0 {
            maxRange = value
        }
        // Declared limits; unreadable ones (ENODATA is common) are simply absent.
        var declared: Double?
        for constraint in 0..<4 {
            if case let .success(microwatts) = reader.unsignedValue(ofFile: realPath + "/constraint_\(constraint)_max_power_uw"),
               microwatts > 0, microwatts < 100_000_000_000 {
                declared = max(declared ?? 0, Double(microwatts) / 1e6)
            }
        }
        var energy: UInt64?
        var readError: String?
        var denied = false
        switch reader.unsignedValue(ofFile: realPath + "/energy_uj") {
        case let .success(value): energy = value
        case let .failure(error):
            readError = error.description
            denied = error == .read(.permissionDenied)
        }
        return PowercapZone(
            id: id, controlType: controlType, name: name, kind: kind,
            packageIndex: packageIndex, dieIndex: dieIndex, parentID: nil,
            path: realPath, listedPaths: listedPaths, domain: name,
            maxEnergyRangeMicrojoules: maxRange, declaredMaxPowerWatts: declared,
            plausibleMaxPowerWatts: declared ?? PowercapZone.assumedMaxPowerWatts(for: kind),
            initialEnergyMicrojoules: energy, readError: readError, permissionDenied: denied,
            role: .unknown, reason: "")
    }

    /// Kind, package and die from a `name` file: `package-0`, `package-1-die-0`, `dram`, `psys` ...
    static func classify(name: String) -> (PowercapDomainKind, Int?, Int?) {
        let lower = name.lowercased()
        switch lower {
        case "dram": return (.dram, nil, nil)
        case "core": return (.core, nil, nil)
        case "uncore": return (.uncore, nil, nil)
        case "psys": return (.psys, nil, nil)
        default: break
        }
        guard lower.hasPrefix("package-") else { return (.unknown, nil, nil) }
        let parts = lower.dropFirst("package-".count).components(separatedBy: "-die-")
        guard let package = Int(parts[0]) else { return (.unknown, nil, nil) }
        if parts.count == 2 {
            guard let die = Int(parts[1]) else { return (.unknown, nil, nil) }
            return (.package, package, die)
        }
        return parts.count == 1 ? (.package, package, nil) : (.unknown, nil, nil)
    }

    /// Orders ids by control type, then numerically by each hex index (`intel-rapl:a` after `:9`).
    static func zoneOrder(_ a: String, _ b: String) -> Bool {
        let left = a.split(separator: ":"), right = b.split(separator: ":")
        if left.first != right.first { return (left.first ?? "") < (right.first ?? "") }
        for (x, y) in zip(left.dropFirst(), right.dropFirst()) where x != y {
            return (Int(x, radix: 16) ?? 0) < (Int(y, radix: 16) ?? 0)
        }
        return left.count < right.count
    }

    static func assignRoles(_ zones: inout [PowercapZone], mirrorChecks: [MirrorCheck]) {
        let ids = zones.map(\.id)
        func index(of id: String?) -> Int? { id.flatMap { ids.firstIndex(of: $0) } }
        /// The kept zone `zone` mirrors, if a check proved one; the evidence is kept on the zone
        /// either way.
        func mirrorTwin(of zone: Int, among kept: [Int]) -> Int? {
            let checks = kept.compactMap { twin in mirrorChecks.first { $0.zoneID == zones[zone].id && $0.otherID == zones[twin].id } }
            let proven = checks.first(where: \.isMirror)
            zones[zone].mirrorCheck = proven ?? checks.first
            return proven.flatMap { check in kept.first { zones[$0].id == check.otherID } }
        }

        // Packages first: unreadable, mmio duplicates, then mirrors.
        var keptPackages: [Int] = []
        for i in zones.indices where zones[i].kind == .package {
            if zones[i].initialEnergyMicrojoules == nil {
                zones[i].role = .unreadable
                zones[i].reason = "energy_uj unreadable: \(zones[i].readError ?? "unknown error")"
                continue
            }
            if zones[i].controlType.hasSuffix("-mmio"),
               let original = zones.first(where: { $0.kind == .package && !$0.controlType.hasSuffix("-mmio")
                   && $0.name == zones[i].name && $0.initialEnergyMicrojoules != nil }) {
                zones[i].role = .duplicate(of: original.id)
                zones[i].reason = "same package as \(original.id) (\(original.name)) exposed again through \(zones[i].controlType)"
                continue
            }
            if let twin = mirrorTwin(of: i, among: keptPackages) {
                zones[i].role = .mirror(of: zones[twin].id)
                zones[i].reason = "reads the same counter as \(zones[twin].id) (\(zones[twin].name)): one socket counter mirrored per die"
                continue
            }
            zones[i].role = .counted
            zones[i].reason = "package: counted in the total (contains core and uncore)" + distinctNote(zones[i])
            keptPackages.append(i)
        }

        var keptDram: [Int] = []
        for i in zones.indices where zones[i].kind != .package {
            let parent = index(of: zones[i].parentID).map { zones[$0] }
            if let parent, case .duplicate = parent.role {
                zones[i].role = .duplicate(of: parent.id)
                zones[i].reason = "inside \(parent.id), a duplicate of another package's zones"
                continue
            }
            if let parent, case .mirror = parent.role {
                zones[i].role = .mirror(of: parent.id)
                zones[i].reason = "inside \(parent.id), a mirrored package"
                continue
            }
            if zones[i].initialEnergyMicrojoules == nil {
                zones[i].role = .unreadable
                zones[i].reason = "energy_uj unreadable: \(zones[i].readError ?? "unknown error")"
                continue
            }
            switch zones[i].kind {
            case .dram:
                if let twin = mirrorTwin(of: i, among: keptDram) {
                    zones[i].role = .mirror(of: zones[twin].id)
                    zones[i].reason = "reads the same counter as \(zones[twin].id)"
                } else {
                    zones[i].role = .counted
                    zones[i].reason = "dram: counted in the total (memory is outside the package figure)" + distinctNote(zones[i])
                    keptDram.append(i)
                }
            case .core, .uncore:
                zones[i].role = .breakdown
                zones[i].reason = "\(zones[i].name): inside its package, breakdown only (never added)"
            case .psys:
                zones[i].role = .beside
                zones[i].reason = "psys covers the platform (package, dram and more): reported beside, never added"
            case .package, .unknown:
                zones[i].role = .unknown
                zones[i].reason = "unknown zone name '\(zones[i].name)': not counted"
            }
        }

        // Without any package or dram counter, psys is the only total there is.
        if !zones.contains(where: { $0.role == .counted }),
           let psys = zones.firstIndex(where: { $0.role == .beside }) {
            zones[psys].role = .counted
            zones[psys].reason = "psys: no readable package or dram zone, so the platform counter is the total"
        }
    }

    /// For a counted zone that started within a joule of a kept one: why it still counts.
    static func distinctNote(_ zone: PowercapZone) -> String {
        zone.mirrorCheck.map { "; started within 1 J of \($0.otherID), but \($0.verdict)" } ?? ""
    }

    static func assignDomainLabels(_ zones: inout [PowercapZone]) {
        // Dies of one package that are each counted (distinct counters) keep their die suffix.
        let countedDiesPerPackage = Dictionary(grouping: zones.filter { $0.kind == .package && $0.role == .counted },
                                               by: { $0.packageIndex ?? -1 }).mapValues(\.count)
        var used: Set<String> = []
        for i in zones.indices {
            let zone = zones[i]
            var label: String
            switch zone.kind {
            case .package:
                let package = zone.packageIndex ?? 0
                label = "package-\(package)"
                if let die = zone.dieIndex, (countedDiesPerPackage[package] ?? 0) > 1 { label += "-die-\(die)" }
            case .dram, .core, .uncore:
                label = zone.packageIndex.map { "\(zone.kind.rawValue)-\($0)" } ?? zone.kind.rawValue
            case .psys: label = "psys"
            case .unknown: label = zone.name.isEmpty ? zone.id : zone.name
            }
            if !zone.role.isSampled { label = zone.id }   // not in measurements; keep the id
            if used.contains(label) { label += "@" + zone.id }
            used.insert(label)
            zones[i].domain = label
        }
    }
}
