import Foundation

/// A powercap tree in a folder, laid out like sysfs: a control-type folder (`intel-rapl`) with
/// nested zones, plus a top-level link to every zone.
public final class FakePowercapTree: Sendable {
    /// What `--powercap-root` or `PowercapInventory.discover(root:)` is given.
    public let root: String
    /// The folder holding `root` when the tree made its own; released (removed) with the tree.
    private let folder: TemporaryDirectory?

    /// The zone where the presets put package 0.
    public static let package0Zone = "intel-rapl/intel-rapl:0"

    /// An empty tree in a temporary folder of its own, removed with the tree.
    public convenience init() throws {
        let folder = TemporaryDirectory()
        try self.init(root: folder.file("powercap"), folder: folder)
    }

    /// An empty tree at `root` (created), left for whoever owns the folder around it to remove.
    public convenience init(root: String) throws {
        try self.init(root: root, folder: nil)
    }

    private init(root: String, folder: TemporaryDirectory?) throws {
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        self.root = root
        self.folder = folder
    }

    /// Adds a zone at `relative` (e.g. `intel-rapl/intel-rapl:0/intel-rapl:0:0`) and, unless
    /// `link` is false, a top-level link named after its last component. Each value is one
    /// line of its file, as sysfs shows it.
    @discardableResult
    public func addZone(_ relative: String, name: String, energy: String = "1000000", maxRange: String? = "262143328850",
                        maxPowerMicrowatts: String? = nil, link: Bool = true) throws -> String {
        let path = root + "/" + relative
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try write(path + "/name", name + "\n")
        try write(path + "/energy_uj", energy + "\n")
        if let maxRange { try write(path + "/max_energy_range_uj", maxRange + "\n") }
        if let maxPowerMicrowatts { try write(path + "/constraint_0_max_power_uw", maxPowerMicrowatts + "\n") }
        try write(path + "/enabled", "1\n")
        if link {
            let id = (relative as NSString).lastPathComponent
            try FileManager.default.createSymbolicLink(atPath: root + "/" + id, withDestinationPath: relative)
        }
        return path
    }

    /// The `energy_uj` file of the zone at `relative`.
    public func energyPath(_ relative: String) -> String { root + "/" + relative + "/energy_uj" }

    /// Replaces the counter of the zone at `relative`.
    public func setEnergy(_ relative: String, _ microjoules: UInt64) {
        replaceCounter(energyPath(relative), microjoules: microjoules)
    }

    private func write(_ path: String, _ text: String) throws {
        try text.write(toFile: path, atomically: false, encoding: .utf8)
    }

    /// A two-socket server: package-0/1 with nested dram and core, top-level links, and the
    /// same package-0 again through intel-rapl-mmio.
    public static func twoSocketServer() throws -> FakePowercapTree {
        let tree = try FakePowercapTree()
        try FileManager.default.createDirectory(atPath: tree.root + "/intel-rapl", withIntermediateDirectories: true)
        try tree.addZone("intel-rapl/intel-rapl:0", name: "package-0", energy: "5000000000", maxPowerMicrowatts: "764000000")
        try tree.addZone("intel-rapl/intel-rapl:0/intel-rapl:0:0", name: "core", energy: "3000000000")
        try tree.addZone("intel-rapl/intel-rapl:0/intel-rapl:0:1", name: "dram", energy: "700000000", maxRange: "65712999613",
                         maxPowerMicrowatts: "122000000")
        try tree.addZone("intel-rapl/intel-rapl:1", name: "package-1", energy: "6100000000", maxPowerMicrowatts: "764000000")
        try tree.addZone("intel-rapl/intel-rapl:1/intel-rapl:1:0", name: "core", energy: "3300000000")
        try tree.addZone("intel-rapl/intel-rapl:1/intel-rapl:1:1", name: "dram", energy: "800000000", maxRange: "65712999613")
        try tree.addZone("intel-rapl-mmio/intel-rapl-mmio:0", name: "package-0", energy: "5000100000")
        return tree
    }

    /// A laptop: package-0 with core and uncore, and psys.
    public static func laptop() throws -> FakePowercapTree {
        let tree = try FakePowercapTree()
        try tree.addZone("intel-rapl/intel-rapl:0", name: "package-0", energy: "90000000")
        try tree.addZone("intel-rapl/intel-rapl:0/intel-rapl:0:0", name: "core", energy: "40000000")
        try tree.addZone("intel-rapl/intel-rapl:0/intel-rapl:0:1", name: "uncore", energy: "2000000")
        try tree.addZone("intel-rapl/intel-rapl:1", name: "psys", energy: "300000000")
        return tree
    }

    /// A multi-die AMD part: one socket counter listed once per die.
    public static func amdMultiDie() throws -> FakePowercapTree {
        let tree = try FakePowercapTree()
        try tree.addZone("intel-rapl/intel-rapl:0", name: "package-0-die-0", energy: "123456789000")
        try tree.addZone("intel-rapl/intel-rapl:1", name: "package-0-die-1", energy: "123456789000")
        return tree
    }

    /// A machine with package 0 alone (at `package0Zone`), for `fmctl --powercap-root` at
    /// `root`. `energyFile` is the whole of `energy_uj`, written as given (valid or not);
    /// `maxPowerMicrowatts` sets `constraint_0_max_power_uw`, from which fmctl derives its
    /// sampling interval.
    public static func onePackage(root: String, energyFile: String, maxRangeMicrojoules: UInt64 = 262_143_328_850,
                                  maxPowerMicrowatts: UInt64? = nil) throws -> FakePowercapTree {
        let tree = try FakePowercapTree(root: root)
        try tree.addZone(package0Zone, name: "package-0", maxRange: "\(maxRangeMicrojoules)",
                         maxPowerMicrowatts: maxPowerMicrowatts.map { "\($0)" })
        try tree.write(tree.energyPath(package0Zone), energyFile)
        return tree
    }
}

/// Writes a counter through a rename, as sysfs never shows half a number.
func replaceCounter(_ path: String, microjoules: UInt64) {
    let temporary = path + ".tmp"
    try? Data("\(microjoules)\n".utf8).write(to: URL(fileURLWithPath: temporary))
    rename(temporary, path)
}
