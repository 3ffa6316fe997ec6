import Foundation
import Testing
@testable import Footprint

@Suite struct EnergyTrackerTests {
    func tracker(_ tree: FakePowercapTree, reader: any PowercapFileReader = SystemPowercapFileReader(),
                 interval: Double? = nil) -> EnergyTracker {
        EnergyTracker(configuration: FootprintConfiguration(powercapRoot: tree.root, sampleIntervalSeconds: interval,
                                                            reader: reader, host: testHost))
    }

    @Test func knownPower_measuredWithinOnePercent_throughWraps() throws {
        let tree = try FakePowercapTree()
        // Ranges of 20 J and 5 J wrap every 0.5 s at these powers; declared maxima make the
        // sampler read often enough to see each wrap.
        try tree.addZone("intel-rapl/intel-rapl:0", name: "package-0", energy: "0", maxRange: "20000000", maxPowerMicrowatts: "100000000")
        try tree.addZone("intel-rapl/intel-rapl:0/intel-rapl:0:0", name: "dram", energy: "0", maxRange: "5000000", maxPowerMicrowatts: "20000000")
        try tree.addZone("intel-rapl/intel-rapl:0/intel-rapl:0:1", name: "core", energy: "0", maxRange: "20000000", maxPowerMicrowatts: "100000000")
        try tree.addZone("intel-rapl/intel-rapl:1", name: "psys", energy: "0", maxRange: "50000000", maxPowerMicrowatts: "200000000")
        // The counters advance at 40, 10, 25 and 70 W, wrapping every 0.5 s or so.
        let reader = ClockedCounterReader(tree: tree, counters: [
            "intel-rapl:0": .init(watts: 40, startMicrojoules: 1_000, maxRange: 20_000_000),
            "intel-rapl:0:0": .init(watts: 10, startMicrojoules: 2_000, maxRange: 5_000_000),
            "intel-rapl:0:1": .init(watts: 25, startMicrojoules: 3_000, maxRange: 20_000_000),
            "intel-rapl:1": .init(watts: 70, startMicrojoules: 4_000, maxRange: 50_000_000),
        ])
        let tracker = tracker(tree, reader: reader)
        #expect(tracker.source == .rapl)
        // Shortest wrap at plausible maximum: 5 J / 20 W = 0.25 s -> at most 0.25/3 s between reads.
        #expect(tracker.sampleIntervalSeconds <= 0.25 / 3 + 1e-9)
        let (_, measurement) = try tracker.measure("window") { Thread.sleep(forTimeInterval: 1.2) }
        tracker.stop()
        let seconds = measurement.durationSeconds
        #expect(abs(measurement.energyJoules - 50 * seconds) / (50 * seconds) < 0.01)
        #expect(abs(measurement.domainJoules["package-0"]! - 40 * seconds) / (40 * seconds) < 0.01)
        #expect(abs(measurement.domainJoules["dram-0"]! - 10 * seconds) / (10 * seconds) < 0.01)
        // core is a breakdown and psys beside: read, never added.
        #expect(abs(measurement.domainJoules["psys"]! - 70 * seconds) / (70 * seconds) < 0.01)
        #expect(measurement.countedDomains == ["package-0", "dram-0"])
        #expect(measurement.sampleCount >= 10)
        #expect(measurement.missingSampleCount == 0)
        #expect(measurement.source == .rapl)
        let samples = tracker.drainPowerSamples()
        #expect(!samples.isEmpty)
        let median = samples.compactMap(\.totalWatts).sorted()[samples.count / 2]
        #expect(abs(median - 50) < 5)
        #expect(tracker.samplerOverhead >= 0 && tracker.samplerOverhead < 0.5)
    }

    @Test func wrapInsideWindow_andBetweenTwoReads_isCorrected() throws {
        let tree = try FakePowercapTree()
        try tree.addZone("intel-rapl/intel-rapl:0", name: "package-0", energy: "900000", maxRange: "1000000")
        let tracker = tracker(tree, interval: 30)
        try tracker.beginWindow("outer")              // reads 900 000
        tree.setEnergy("intel-rapl/intel-rapl:0", 980_000)
        try tracker.beginWindow("inner")              // reads 980 000
        tree.setEnergy("intel-rapl/intel-rapl:0", 50_000)   // wrapped between two reads
        let inner = try tracker.endWindow("inner")
        let outer = try tracker.endWindow("outer")
        tracker.stop()
        #expect(abs(inner.energyJoules - 0.07) < 1e-9)
        #expect(abs(outer.energyJoules - 0.15) < 1e-9)
    }

    @Test func unreadableCounter_warnsLoudlyAndFallsBackToEstimate() throws {
        let tree = try FakePowercapTree.laptop()
        let reader = FailingReader()
        let energyFile = tree.root + "/intel-rapl/intel-rapl:0/energy_uj"
        reader.fail(energyFile, .permissionDenied)
        let tracker = tracker(tree, reader: reader)
        #expect(tracker.source == .estimate)
        let warning = try #require(tracker.startupWarnings.first)
        #expect(warning.contains("permission denied on \(energyFile)"))
        #expect(warning.contains("sudo chmod o+r \(energyFile)"))
        #expect(warning.contains("SUBSYSTEM==\"powercap\""))
        #expect(tracker.startupWarnings.count == 1)
        let (_, measurement) = try tracker.measure("work") { burnCPU(seconds: 0.05) }
        tracker.stop()
        #expect(measurement.source == .estimate)
        #expect(measurement.warnings.contains(warning))
    }

    @Test func failedReadMidRun_isMissingSampleCarriedNotZero() throws {
        let tree = try FakePowercapTree()
        try tree.addZone("intel-rapl/intel-rapl:0", name: "package-0", energy: "1000000")
        let reader = FailingReader()
        let tracker = tracker(tree, reader: reader, interval: 30)
        try tracker.beginWindow("epoch")                       // 1 J
        reader.fail(tree.root + "/intel-rapl/intel-rapl:0/energy_uj", .ioError)
        tree.setEnergy("intel-rapl/intel-rapl:0", 2_000_000)
        let blind = try tracker.measure("phase") {}.measurement   // two failed reads
        reader.fail(tree.root + "/intel-rapl/intel-rapl:0/energy_uj", .none)
        tree.setEnergy("intel-rapl/intel-rapl:0", 3_000_000)
        let epoch = try tracker.endWindow("epoch")             // 3 J
        tracker.stop()
        #expect(blind.missingSampleCount == 2)
        #expect(blind.warnings.contains { $0.contains("missing sample of package-0") })
        #expect(abs(epoch.energyJoules - 2.0) < 1e-9)
        #expect(epoch.missingSampleCount == 2)
        #expect(tracker.provenance.missingSamples == 2)
    }

    @Test func noPowercap_estimateIsLabelledWithWarningAndMethod() throws {
        let tracker = EnergyTracker(configuration: FootprintConfiguration(powercapRoot: "/nonexistent/powercap", cpuTDPWatts: 100, host: testHost))
        #expect(tracker.source == .estimate)
        let (_, measurement) = try tracker.measure("burn") { burnCPU(seconds: 0.2) }
        tracker.stop()
        #expect(measurement.source == .estimate)
        #expect(measurement.method.contains("estimate"))
        #expect(measurement.method.contains("--cpu-tdp 100 W"))
        #expect(measurement.warnings.contains { $0.contains("/nonexistent/powercap does not exist") })
        // CPU energy = 100 W x CPU seconds / 2 CPUs, whatever the wall time.
        let cpu = try #require(measurement.domainJoules["cpu"])
        #expect(abs(cpu - 100 * measurement.cpuSeconds / 2) < 0.5)
        #expect(cpu > 0)
        #expect(measurement.domainJoules["ram"]! > 0)
        #expect(tracker.provenance.source == .estimate)
    }

    @Test func windows_nestAndRejectMisuse() throws {
        let tracker = EnergyTracker(configuration: FootprintConfiguration(powercapRoot: "/nonexistent", host: testHost))
        try tracker.beginWindow("a")
        #expect(throws: FootprintError.windowMisuse(name: "a", reason: "already open")) { try tracker.beginWindow("a") }
        #expect(throws: FootprintError.windowMisuse(name: "b", reason: "not open")) { try tracker.endWindow("b") }
        let (value, inner) = try tracker.measure("b") { 42 }
        let outer = try tracker.endWindow("a")
        tracker.stop()
        #expect(value == 42)
        #expect(outer.durationSeconds >= inner.durationSeconds)
    }

    @Test func idleBaseline_givesEnergyAboveIdle() throws {
        let tree = try FakePowercapTree()
        try tree.addZone("intel-rapl/intel-rapl:0", name: "package-0", energy: "0", maxRange: "1000000000")
        let reader = ClockedCounterReader(tree: tree, counters: ["intel-rapl:0": .init(watts: 20, startMicrojoules: 0, maxRange: 1e9)])
        let tracker = tracker(tree, reader: reader)
        let baseline = try tracker.measureIdleBaseline(seconds: 0.3)
        #expect(abs(baseline.powerWatts - 20) < 1)
        let (_, measurement) = try tracker.measure("work") { Thread.sleep(forTimeInterval: 0.3) }
        tracker.stop()
        let above = try #require(measurement.energyAboveIdleJoules)
        #expect(abs(above) < 0.05 * measurement.energyJoules + 0.2)
    }

    @Test func sampleInterval_shortenedForFastWraps_andWarnsWhenAskedTooLong() throws {
        let tree = try FakePowercapTree()
        // 30 J range at an assumed 500 W wraps every 0.06 s.
        try tree.addZone("intel-rapl/intel-rapl:0", name: "package-0", maxRange: "30000000")
        let inventory = PowercapInventory.discover(root: tree.root)
        let (interval, warning) = EnergyTracker.sampleInterval(requested: 1, explicit: true, inventory: inventory)
        #expect(abs(interval - 0.02) < 1e-9)
        #expect(warning?.contains("too long") == true)
        #expect(EnergyTracker.sampleInterval(requested: 0.01, explicit: true, inventory: inventory).0 == 0.01)
    }
}

func burnCPU(seconds: Double) {
    let end = Date().addingTimeInterval(seconds)
    var x = 0.0
    while Date() < end { for i in 0..<10_000 { x += Double(i).squareRoot() } }
    #expect(x > 0)
}
