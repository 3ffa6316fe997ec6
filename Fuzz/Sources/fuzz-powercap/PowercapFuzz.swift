import FuzzerDriver
import Footprint

/// A fixed sysfs-like powercap tree whose file contents and links come from the fuzz input.
///
/// Layout (real folders):
///
///     root/intel-rapl/intel-rapl:0[/intel-rapl:0:0, /intel-rapl:0:1]
///     root/intel-rapl/intel-rapl:1[/intel-rapl:1:0]
///     root/intel-rapl-mmio/intel-rapl-mmio:0
///
/// plus one top-level link per zone, `root/<id>`. The input is split at zero bytes into fields,
/// five per zone in order: `name`, `energy_uj`, `max_energy_range_uj`,
/// `constraint_0_max_power_uw`, and the link, whose first byte picks the folder `root/<id>`
/// resolves to (any zone's, or none: a dangling link). A missing field is a missing file;
/// a field `!P` is a permission-denied read, `!I` an I/O error.
struct FuzzedPowercapTree: PowercapFileReader {
    static let root = "/fuzz/powercap"
    static let zonePaths = [
        "intel-rapl/intel-rapl:0", "intel-rapl/intel-rapl:0/intel-rapl:0:0", "intel-rapl/intel-rapl:0/intel-rapl:0:1",
        "intel-rapl/intel-rapl:1", "intel-rapl/intel-rapl:1/intel-rapl:1:0", "intel-rapl-mmio/intel-rapl-mmio:0",
    ].map { root + "/" + $0 }
    static let fileNames = ["name", "energy_uj", "max_energy_range_uj", "constraint_0_max_power_uw"]

    /// Real folder -> its entries.
    let folders: [String: [String]]
    /// Real file -> contents (nil: the field was absent).
    let files: [String: [UInt8]]
    /// `root/<id>` -> the real folder it resolves to (nil: dangling).
    let links: [String: String?]

    init(_ input: UnsafeBufferPointer<UInt8>) {
        var fields = input.split(separator: 0, omittingEmptySubsequences: false).map(Array.init).makeIterator()
        var files: [String: [UInt8]] = [:]
        var links: [String: String?] = [:]
        for zone in Self.zonePaths {
            for file in Self.fileNames {
                if let field = fields.next() { files[zone + "/" + file] = field }
            }
            let id = String(zone.split(separator: "/").last!)
            let pick = fields.next()?.first.map(Int.init) ?? Self.zonePaths.firstIndex(of: zone)!
            links[Self.root + "/" + id] = pick < Self.zonePaths.count ? Self.zonePaths[pick] : nil
        }
        var folders: [String: [String]] = [Self.root: ["intel-rapl", "intel-rapl-mmio"] + links.keys.map { String($0.split(separator: "/").last!) }]
        for zone in Self.zonePaths {
            let parent = String(zone[..<zone.lastIndex(of: "/")!])
            folders[parent, default: []].append(String(zone.split(separator: "/").last!))
            folders[zone, default: []] += Self.fileNames.filter { files[zone + "/" + $0] != nil }
        }
        self.folders = folders
        self.files = files
        self.links = links
    }

    /// The real path: a leading `root/<id>` link replaced by its target.
    func resolvedPath(_ path: String) -> String? {
        var real = path
        for (link, target) in links where path == link || path.hasPrefix(link + "/") {
            guard let target else { return nil }
            real = target + path.dropFirst(link.count)
            break
        }
        return folders[real] != nil || files[real] != nil ? real : nil
    }

    func isDirectory(_ path: String) -> Bool {
        resolvedPath(path).map { folders[$0] != nil } ?? false
    }

    func entries(ofDirectory path: String) -> [String] {
        resolvedPath(path).flatMap { folders[$0] } ?? []
    }

    func contents(ofFile path: String) throws(PowercapReadError) -> String {
        guard let real = resolvedPath(path), let bytes = files[real] else { throw .notFound }
        if bytes == Array("!P".utf8) { throw .permissionDenied }
        if bytes == Array("!I".utf8) { throw .io(code: 5, message: "Input/output error") }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A clock that never moves and never waits: the mirror check reads its counters without
/// sleeping, so no input slows the fuzzer down.
struct StoppedClock: FootprintClock {
    func monotonicSeconds() -> Double { 0 }
    func sleep(seconds: Double) {}
}

@main enum PowercapFuzz {
    static func main() { runFuzzer { data, size in fuzz(data, size) } }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let tree = FuzzedPowercapTree(UnsafeBufferPointer(start: data, count: size))
    let inventory = PowercapInventory.discover(root: FuzzedPowercapTree.root, reader: tree, clock: StoppedClock())
    // What the sampler relies on: each physical zone once, and one distinct label per sampled
    // zone (readings are keyed by label, so two zones under one label would lose energy).
    let ids = inventory.zones.map(\.path)
    precondition(Set(ids).count == ids.count, "a zone listed twice: \(ids)")
    let domains = inventory.sampledZones.map(\.domain)
    precondition(Set(domains).count == domains.count, "duplicate domain labels: \(domains)")
    for zone in inventory.sampledZones {
        if let wrap = zone.wrapSeconds { precondition(wrap > 0 && wrap.isFinite, "wrap period \(wrap) for \(zone.id)") }
    }
    return 0
}
