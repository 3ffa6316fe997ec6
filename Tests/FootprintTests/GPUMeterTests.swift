import Foundation
import Testing
@testable import Footprint

/// GPU energy through NVML, measured on the fake libnvidia-ml.so.1 (Tests/Fixtures/fake-nvml),
/// whose energy counter gains power x 100 ms at every read: window energies are whole steps,
/// on a manual clock, whatever the machine is doing.
@Suite struct GPUMeterTests {
    let folder = TemporaryDirectory()

    /// A powercap tree whose package-0 never moves, so the total is the GPUs' alone.
    func staticPackage() throws -> FakePowercapTree {
        let tree = try FakePowercapTree(root: folder.file("powercap"))
        try tree.addZone(FakePowercapTree.package0Zone, name: "package-0")
        return tree
    }

    func nvml(_ settings: [String: String], minimal: Bool = false) throws -> String {
        try FakeNVML.build(in: folder.file("nvml"), settings: settings, minimal: minimal)
    }

    /// `count` samples 0.1 s apart inside one window: count + 1 counter steps.
    func window(_ tracker: EnergyTracker, clock: ManualClock, samples count: Int) throws -> EnergyMeasurement {
        try tracker.measure("epoch") {
            for _ in 0..<count {
                clock.advance(0.1)
                tracker.sample()
            }
            clock.advance(0.1)
        }.measurement
    }

    @Test func energyCounters_areAddedToTheTotal_perDomain() throws {
        let library = try nvml(["FAKE_NVML_DEVICES": "2", "FAKE_NVML_POWER_MW": "50000,30000"])
        let clock = ManualClock()
        let tracker = testTracker(root: try staticPackage().root, clock: clock, nvmlLibrary: library)
        #expect(tracker.gpus.unavailableReason == nil)
        #expect(tracker.gpus.driverVersion == "fake-1.0")
        let measurement = try window(tracker, clock: clock, samples: 3)
        let provenance = tracker.provenance
        tracker.stop()
        // Four steps between the boundary reads: 4 x 5 J and 4 x 3 J.
        #expect(measurement.domainJoules["gpu-0"] == 20)
        #expect(measurement.domainJoules["gpu-1"] == 12)
        #expect(measurement.domainJoules["package-0"] == 0)
        #expect(measurement.energyJoules == 32)
        #expect(measurement.gpuJoules == 32)
        #expect(measurement.countedDomains == ["package-0", "gpu-0", "gpu-1"])
        #expect(measurement.domainSources == ["package-0": .rapl, "gpu-0": .nvml, "gpu-1": .nvml])
        #expect(provenance.domains == ["package-0", "gpu-0", "gpu-1"])
        #expect(provenance.gpus == [GPURecord(index: 0, name: "Fake GPU 0", domain: "gpu-0", method: "energy counter"),
                                    GPURecord(index: 1, name: "Fake GPU 1", domain: "gpu-1", method: "energy counter")])
        #expect(provenance.sourceLabel == "rapl + nvml")
        #expect(provenance.method.contains("libnvidia-ml.so.1, driver fake-1.0): gpu-0 = Fake GPU 0 by energy counter, gpu-1 = Fake GPU 1"))
        #expect(tracker.domains == ["package-0", "gpu-0", "gpu-1"])
    }

    @Test func withoutEnergyCounter_powerIsSampledAndIntegrated() throws {
        let library = try nvml(["FAKE_NVML_DEVICES": "2", "FAKE_NVML_POWER_MW": "50000,30000", "FAKE_NVML_NO_ENERGY": "1"])
        let clock = ManualClock()
        let tracker = testTracker(root: try staticPackage().root, clock: clock, nvmlLibrary: library)
        #expect(tracker.gpus.devices.map(\.method) == [.energyCounter, .sampledPower])
        #expect(tracker.startupWarnings.contains { $0.contains("gpu-1 (Fake GPU 1): no NVML energy counter") })
        let measurement = try window(tracker, clock: clock, samples: 3)
        tracker.stop()
        // 30 W for the window's 0.4 s on the tracker's clock.
        #expect(abs(measurement.domainJoules["gpu-1"]! - 12) < 1e-9)
        #expect(measurement.domainSources["gpu-1"] == .sampledPower)
        #expect(tracker.provenance.domainSources["gpu-1"] == "sampled power")
        #expect(tracker.provenance.sourceLabel == "rapl + nvml + sampled power")
    }

    /// Reads 3 and 4 of GPU 0 fail (0: discovery, 1: start, 2: the epoch's begin): the epoch
    /// gets the energy of those reads through read 5, and a phase that saw only failed reads
    /// leaves gpu-0 out rather than counting zero.
    @Test func readsFailingMidRun_areMissingSamplesNeverZero() throws {
        let library = try nvml(["FAKE_NVML_POWER_MW": "50000", "FAKE_NVML_FAIL": "0:3:2"])
        let clock = ManualClock()
        let tracker = testTracker(root: try staticPackage().root, clock: clock, nvmlLibrary: library)
        try tracker.beginWindow("epoch")                   // reads 1 and 2
        clock.advance(0.1)
        let phase = try tracker.measure("phase") { clock.advance(0.1) }.measurement   // reads 3 and 4 fail
        clock.advance(0.1)
        let epoch = try tracker.endWindow("epoch")         // read 5
        tracker.stop()
        #expect(phase.domainJoules["gpu-0"] == nil)
        #expect(phase.missingSampleCount == 2)
        #expect(phase.warnings.contains { $0.contains("gpu-0: no good read inside window 'phase'") })
        #expect(epoch.domainJoules["gpu-0"] == 15)
        #expect(epoch.energyJoules == 15)
        #expect(epoch.missingSampleCount == 2)
        #expect(epoch.warnings.contains { $0.contains("missing sample of gpu-0: NVML nvmlDeviceGetTotalEnergyConsumption of GPU 0") })
    }

    /// The counter starts 12 J below 2^64 mJ and wraps during the window: modulo 2^64 the
    /// deltas stay whole steps.
    @Test func counterNear2To64_wrapsWithoutLosingEnergy() throws {
        let start = UInt64.max - 12_000 + 1
        let library = try nvml(["FAKE_NVML_POWER_MW": "50000", "FAKE_NVML_ENERGY_START_MJ": String(start)])
        let clock = ManualClock()
        let tracker = testTracker(root: try staticPackage().root, clock: clock, nvmlLibrary: library)
        #expect(tracker.gpus.devices.first?.initialEnergyMillijoules == start)
        let measurement = try window(tracker, clock: clock, samples: 4)   // reads 2 ... 7 cross 2^64 at read 3
        tracker.stop()
        #expect(measurement.domainJoules["gpu-0"] == 25)
        #expect(!measurement.warnings.contains { $0.contains("cannot follow") })
    }

    @Test func selection_measuresTheListedGPUsOnly() throws {
        let library = try nvml(["FAKE_NVML_DEVICES": "3"])
        let tracker = testTracker(root: try staticPackage().root, clock: ManualClock(), nvmlLibrary: library, gpus: .indices([0, 2]))
        tracker.stop()
        #expect(tracker.gpus.measuredDevices.map(\.domain) == ["gpu-0", "gpu-2"])
        #expect(tracker.domains == ["package-0", "gpu-0", "gpu-2"])
        #expect(tracker.gpus.selectionError == nil)
        let visible = GPUInventory.discover(selection: nil, environment: ["CUDA_VISIBLE_DEVICES": "1"], libraryName: library)
        #expect(visible.measuredDevices.map(\.index) == [1])
        #expect(visible.selectionOrigin == "CUDA_VISIBLE_DEVICES")
        // Selecting no GPU leaves NVML closed; the probe still lists them all.
        let none = GPUInventory.discover(selection: .indices([]), libraryName: library)
        #expect(none.devices.isEmpty && none.driverVersion == nil && none.unavailableReason == nil)
        #expect(GPUInventory.discover(selection: nil, environment: ["CUDA_VISIBLE_DEVICES": ""], libraryName: library,
                                      listAll: true).devices.map(\.selected) == [false, false, false])
    }

    @Test func selection_ofAnAbsentGPU_isAUsageErrorOnlyWhenAskedFor() throws {
        let library = try nvml(["FAKE_NVML_DEVICES": "2"])
        let asked = GPUInventory.discover(selection: .indices([0, 5]), libraryName: library)
        #expect(asked.selectionError == .invalidOption(option: "--gpus", value: "0,5", expected: "indices of GPUs NVML lists, 0 to 1"))
        #expect(asked.selectionError?.exitCode == 64)
        let fromCUDA = GPUInventory.discover(selection: nil, environment: ["CUDA_VISIBLE_DEVICES": "5"], libraryName: library)
        #expect(fromCUDA.selectionError == nil)
        #expect(fromCUDA.warnings.contains { $0.contains("CUDA_VISIBLE_DEVICES lists GPU(s) 5 that NVML does not") })
    }

    /// No library, or a driver that is not loaded: no GPU domain, no warning, no error, and
    /// the probe says which.
    @Test func missingLibraryOrNoDriver_isNotAnError() throws {
        let missing = testTracker(root: try staticPackage().root, clock: ManualClock(), nvmlLibrary: folder.file("none/libnvidia-ml.so.1"))
        missing.stop()
        #expect(missing.gpus.unavailableReason?.contains("not loaded") == true)
        #expect(missing.domains == ["package-0"])
        #expect(missing.startupWarnings.isEmpty)
        let noDriver = GPUInventory.discover(selection: nil, libraryName: try nvml(["FAKE_NVML_INIT_ERROR": "9"]))
        #expect(noDriver.unavailableReason?.contains("nvmlInit_v2 failed: Driver Not Loaded (NVML error 9)") == true)
        #expect(noDriver.devices.isEmpty && noDriver.warnings.isEmpty)
    }

    /// A library without the optional symbols measures the same; only the driver version and
    /// the power limit are missing.
    @Test func optionalSymbolsMissing_dropOnlyTheirDetail() throws {
        let library = try nvml(["FAKE_NVML_POWER_MW": "50000"], minimal: true)
        let clock = ManualClock()
        let tracker = testTracker(root: try staticPackage().root, clock: clock, nvmlLibrary: library)
        let measurement = try window(tracker, clock: clock, samples: 1)
        tracker.stop()
        #expect(tracker.gpus.driverVersion == nil)
        #expect(tracker.gpus.devices.first?.powerLimitWatts == nil)
        #expect(tracker.gpus.devices.first?.plausibleMaxPowerWatts == 1000)
        #expect(measurement.domainJoules["gpu-0"] == 10)
    }

    @Test(arguments: [("all", GPUSelection.all), ("none", .indices([])), ("0,2", .indices([0, 2])), (" 1 ", .indices([1])),
                      ("2,2,0", .indices([2, 0])), ("ALL", .all)])
    func gpusArgument_parses(_ case_: (text: String, selection: GPUSelection)) {
        #expect(GPUSelection(argument: case_.text) == case_.selection)
    }

    @Test(arguments: ["", "x", "1,,2", "-1", "0.5", "0,", "gpu0"])
    func gpusArgument_rejectsAnythingElse(_ text: String) {
        #expect(GPUSelection(argument: text) == nil)
        #expect(throws: FootprintError.invalidOption(option: "--gpus", value: text, expected: GPUSelection.expected)) {
            try FootprintOverrides(gpus: text).validate(table: nil)
        }
    }

    @Test func cudaVisibleDevices_readAsCUDAReadsIt() {
        #expect(GPUSelection.fromCUDAVisibleDevices("1,0").0 == .indices([1, 0]))
        #expect(GPUSelection.fromCUDAVisibleDevices("").0.description == "none")
        #expect(GPUSelection.fromCUDAVisibleDevices("-1").0.description == "none")
        #expect(GPUSelection.fromCUDAVisibleDevices("0,-1,2").0 == .indices([0]))
        let (byUUID, note) = GPUSelection.fromCUDAVisibleDevices("GPU-8f6c1a2b-0000")
        #expect(byUUID == .all)
        #expect(note?.contains("UUID") == true)
    }
}
