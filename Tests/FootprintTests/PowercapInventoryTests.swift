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

    /// One socket counter listed once per die advances in lockstep over the check: counted once,
    /// and the probe shows the deltas it compared.
    @Test func amdMultiDie_mirroredCounterCountedOnce() throws {
        let tree = try FakePowercapTree.amdMultiDie()
        let clock = ManualClock()
        let socket = ClockedCounterReader.Counter(watts: 180, startMicrojoules: 123_456_789_000, maxRange: 262_143_328_850)
        let reader = ClockedCounterReader(tree: tree, clock: clock, counters: ["intel-rapl:0": socket, "intel-rapl:1": socket])
        let inventory = PowercapInventory.discover(root: tree.root, reader: reader, clock: clock)
        #expect(inventory.countedDomains == ["package-0"])
        #expect(inventory.zones[1].role == .mirror(of: "intel-rapl:0"))
        let check = try #require(inventory.zones[1].mirrorCheck)
        #expect(check.isMirror)
        #expect(check.intervalSeconds.count == PowercapInventory.mirrorCheckReads - 1)
        #expect(check.deltasMicrojoules == Array(repeating: 3_600_000, count: 5))
        #expect(check.otherDeltasMicrojoules == check.deltasMicrojoules)
        let probe = PowercapProbe(inventory: inventory)
        #expect(probe.diagnosis.contains { $0.contains("mirror") })
        #expect(probe.rendered().contains("intel-rapl:1 against intel-rapl:0: 3600000/3600000, 3600000/3600000"))
    }

    /// Defect 1: two DRAM counters that happen to start within a joule of each other but draw
    /// 20 W and 23 W are two counters. Both are counted, so a window's total has both (the
    /// merge dropped one socket's DRAM: 58 W reported where the counters advanced at 61 W).
    @Test func distinctCountersStartingWithinAJoule_areBothCounted() throws {
        let tree = try FakePowercapTree.twoSocketServer()
        let clock = ManualClock()
        let reader = ClockedCounterReader(tree: tree, clock: clock, counters: [
            "intel-rapl:0:1": .init(watts: 20, startMicrojoules: 700_000_000, maxRange: 65_712_999_613),
            "intel-rapl:1:1": .init(watts: 23, startMicrojoules: 700_400_000, maxRange: 65_712_999_613),
        ])
        let inventory = PowercapInventory.discover(root: tree.root, reader: reader, clock: clock)
        #expect(inventory.countedDomains == ["package-0", "dram-0", "package-1", "dram-1"])
        let check = try #require(inventory.zones.first { $0.id == "intel-rapl:1:1" }?.mirrorCheck)
        #expect(!check.isMirror)
        #expect(check.otherID == "intel-rapl:0:1")
        #expect(check.deltasMicrojoules.first == 460_000 && check.otherDeltasMicrojoules.first == 400_000)
        #expect(check.verdict.contains("distinct counters"))
        #expect(PowercapProbe(inventory: inventory).rendered().contains("intel-rapl:1:1 against intel-rapl:0:1: 460000/400000"))

        let tracker = testTracker(root: tree.root, reader: reader, clock: clock)
        let (_, window) = try tracker.measure("epoch") { clock.advance(2) }
        tracker.stop()
        // The packages are static files here; the two DRAM counters give 40 J + 46 J.
        #expect(abs(window.energyJoules - 86) < 1e-5)
    }

    /// Two DRAM counters 0.4 J apart at nearly the same power (20 W and 20.2 W: over the check
    /// they drift 20 mJ apart, within what a power-times-slack tolerance would allow) are two
    /// counters: the zone's value never lies between two reads of the other.
    @Test func distinctCountersAtNearlyTheSamePower_areBothCounted() throws {
        let tree = try FakePowercapTree.twoSocketServer()
        let clock = ManualClock()
        let reader = ClockedCounterReader(tree: tree, clock: clock, counters: [
            "intel-rapl:0:1": .init(watts: 20, startMicrojoules: 700_000_000, maxRange: 65_712_999_613),
            "intel-rapl:1:1": .init(watts: 20.2, startMicrojoules: 700_400_000, maxRange: 65_712_999_613),
        ])
        let inventory = PowercapInventory.discover(root: tree.root, reader: reader, clock: clock)
        #expect(inventory.countedDomains == ["package-0", "dram-0", "package-1", "dram-1"])
        let check = try #require(inventory.zones.first { $0.id == "intel-rapl:1:1" }?.mirrorCheck)
        #expect(!check.isMirror)
        #expect(check.verdict.contains("not between two reads of the other"))
    }

    /// A counter that does not advance during the check cannot prove it mirrors another:
    /// counted, with the reason in the probe.
    @Test func counterNotAdvancingDuringTheCheck_isCountedNotMerged() throws {
        let tree = try FakePowercapTree.amdMultiDie()   // static files: neither counter moves
        let inventory = PowercapInventory.discover(root: tree.root, clock: ManualClock())
        #expect(inventory.countedDomains == ["package-0-die-0", "package-0-die-1"])
        let check = try #require(inventory.zones[1].mirrorCheck)
        #expect(!check.isMirror)
        #expect(check.deltasMicrojoules == Array(repeating: 0, count: 5))
        #expect(inventory.zones[1].reason.contains("did not advance"))
        #expect(PowercapProbe(inventory: inventory).rendered().contains("not a mirror, the counters did not advance"))
    }

    /// Zones that start more than a joule apart are never read twice at start-up.
    @Test func countersStartingApart_needNoCheck() throws {
        let tree = try FakePowercapTree.twoSocketServer()
        let inventory = PowercapInventory.discover(root: tree.root, clock: ManualClock())
        #expect(inventory.zones.allSatisfy { $0.mirrorCheck == nil })
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
        let tracker = testTracker(root: tree.root)
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
        let tracker = testTracker(root: tree.root)
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
