import Foundation
import Testing
@testable import Footprint
import Reports

@Suite struct PowercapInventoryTests {
    @Test func twoSocketServer_countsEachCounterOnce() throws {
        let tree = try FakePowercapTree.twoSocketServer()
        let inventory = PowercapInventory.discover(root: tree.root)
        #expect(inventory.countedDomains == ["package-0", "dram-0", "package-1", "dram-1"])
        #expect(inventory.sampledZones.filter { $0.role == .breakdown }.map(\.domain) == ["core-0", "core-1"])
        let mmio = try #require(inventory.zones.first { $0.id == "intel-rapl-mmio:0" })
        #expect(mmio.role == .duplicate(of: "intel-rapl:0"))
        // Each intel-rapl zone is listed twice (nested folder and top-level link) but found once.
        #expect(inventory.zones.filter { $0.controlType == "intel-rapl" }.count == 6)
        #expect(inventory.zones.filter { $0.controlType == "intel-rapl" }.allSatisfy { $0.listedPaths.count == 2 })
        let dram = try #require(inventory.zones.first { $0.id == "intel-rapl:0:1" })
        #expect(dram.declaredMaxPowerWatts == 122)
        #expect(abs(dram.wrapSeconds! - 65712.999613 / 122) < 1e-6)
    }

    @Test func laptop_psysBesideCoreUncoreBreakdown() throws {
        let tree = try FakePowercapTree.laptop()
        let inventory = PowercapInventory.discover(root: tree.root)
        #expect(inventory.countedDomains == ["package-0"])
        #expect(inventory.zones.first { $0.name == "psys" }?.role == .beside)
        #expect(inventory.zones.filter { $0.role == .breakdown }.map(\.domain).sorted() == ["core-0", "uncore-0"])
    }

    @Test func amdMultiDie_mirroredCounterCountedOnce() throws {
        let tree = try FakePowercapTree.amdMultiDie()
        let inventory = PowercapInventory.discover(root: tree.root)
        #expect(inventory.countedDomains == ["package-0"])
        #expect(inventory.zones[1].role == .mirror(of: "intel-rapl:0"))
        #expect(PowercapProbe(inventory: inventory).diagnosis.contains { $0.contains("mirror") })
    }

    @Test func distinctDies_areBothCounted() throws {
        let tree = try FakePowercapTree()
        try tree.addZone("intel-rapl/intel-rapl:0", name: "package-0-die-0", energy: "100000000000")
        try tree.addZone("intel-rapl/intel-rapl:1", name: "package-0-die-1", energy: "250000000000")
        let inventory = PowercapInventory.discover(root: tree.root)
        #expect(inventory.countedDomains == ["package-0-die-0", "package-0-die-1"])
    }

    @Test func hexIDs_sortNumerically_andNamesNotIndicesDecide() throws {
        #expect(PowercapInventory.isZoneID("intel-rapl:a"))
        #expect(PowercapInventory.isZoneID("intel-rapl:0:1"))
        #expect(!PowercapInventory.isZoneID("intel-rapl"))
        #expect(!PowercapInventory.isZoneID("intel-rapl:x"))
        #expect(PowercapInventory.zoneOrder("intel-rapl:9", "intel-rapl:a"))
        let tree = try FakePowercapTree()
        // Index 1 is the dram-less package-0, index 0 is psys: names decide, not indices.
        try tree.addZone("intel-rapl/intel-rapl:0", name: "psys", energy: "5")
        try tree.addZone("intel-rapl/intel-rapl:a", name: "package-0", energy: "7")
        let inventory = PowercapInventory.discover(root: tree.root)
        #expect(inventory.countedZones.map(\.id) == ["intel-rapl:a"])
    }

    @Test(arguments: ["", "garbage", "-5", "99999999999999999999999", "12 34"])
    func badEnergyFile_isUnreadableNotZero(content: String) throws {
        let tree = try FakePowercapTree()
        try tree.addZone("intel-rapl/intel-rapl:0", name: "package-0", energy: content)
        let inventory = PowercapInventory.discover(root: tree.root)
        #expect(inventory.zones[0].role == .unreadable)
        #expect(inventory.zones[0].initialEnergyMicrojoules == nil)
        #expect(!inventory.isUsable)
        let tracker = EnergyTracker(configuration: FootprintConfiguration(powercapRoot: tree.root, host: testHost))
        #expect(tracker.source == .estimate)
        #expect(tracker.startupWarnings.contains { $0.contains("no readable package") })
    }

    @Test func missingOrAbsurdMaxRange_hasNoWrapTime() throws {
        let tree = try FakePowercapTree()
        try tree.addZone("intel-rapl/intel-rapl:0", name: "package-0", maxRange: nil)
        try tree.addZone("intel-rapl/intel-rapl:1", name: "package-1", energy: "5000000", maxRange: "banana")
        let inventory = PowercapInventory.discover(root: tree.root)
        #expect(inventory.countedZones.count == 2)
        #expect(inventory.zones.allSatisfy { $0.wrapSeconds == nil })
        let tracker = EnergyTracker(configuration: FootprintConfiguration(powercapRoot: tree.root, host: testHost))
        #expect(tracker.source == .rapl)
        #expect(tracker.startupWarnings.contains { $0.contains("max_energy_range_uj missing") })
    }

    @Test func missingRoot_isReportedNotThrown() {
        let inventory = PowercapInventory.discover(root: "/nonexistent/powercap")
        #expect(!inventory.rootExists)
        #expect(PowercapProbe(inventory: inventory).rendered().contains("does not exist"))
    }

    @Test func rootResolution_explicitThenEnvironmentThenDefault() {
        #expect(PowercapInventory.resolveRoot("/a", environment: ["FMCTL_POWERCAP_ROOT": "/b"]) == "/a")
        #expect(PowercapInventory.resolveRoot(nil, environment: ["FMCTL_POWERCAP_ROOT": "/b"]) == "/b")
        #expect(PowercapInventory.resolveRoot(nil, environment: [:]) == "/sys/class/powercap")
    }

    @Test func probe_rendersEveryZoneWithRoleAndWrap() throws {
        let tree = try FakePowercapTree.twoSocketServer()
        let text = PowercapProbe(inventory: PowercapInventory.discover(root: tree.root)).rendered()
        #expect(text.contains("intel-rapl-mmio:0"))
        #expect(text.contains("duplicate"))
        #expect(text.contains("RAPL usable: total = package-0 + dram-0 + package-1 + dram-1"))
    }
}
