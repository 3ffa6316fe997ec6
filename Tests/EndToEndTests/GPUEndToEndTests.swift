import Foundation
import Testing

/// fmctl measuring GPUs through the fake libnvidia-ml.so.1 (Tests/Fixtures/fake-nvml), compiled
/// into the test's folder and found through LD_LIBRARY_PATH, configured by FAKE_NVML_*
/// variables. Its counter gains power x 100 ms at every read, so energies are whole steps.
@Suite struct GPUEndToEndTests {
    let work = TemporaryDirectory()

    /// The environment of a run that finds the fake: `settings` plus LD_LIBRARY_PATH, and
    /// CUDA_VISIBLE_DEVICES unset (the default selection is then every GPU).
    func fakeNVML(_ settings: [String: String]) throws -> [String: String?] {
        try FakeNVML.build(in: work.file("nvml"))
        var environment: [String: String?] = settings
        environment["LD_LIBRARY_PATH"] = work.file("nvml")
        environment["CUDA_VISIBLE_DEVICES"] = .some(nil)
        return environment
    }

    @Test func probe_listsEachGPU_methodAndWhyNot() throws {
        let environment = try fakeNVML(["FAKE_NVML_DEVICES": "3", "FAKE_NVML_NO_ENERGY": "1", "FAKE_NVML_FAIL": "2:0:100"])
        let result = try Fmctl.run(["footprint", "probe"], in: work.path, environment: environment)
        expectSuccess(result)
        #expect(result.stdout.contains("nvml: libnvidia-ml.so.1 loaded, driver fake-1.0, 3 GPU(s); selection: all (default)"))
        let lines = result.stdout.split(separator: "\n").map(String.init)
        let row = { (gpu: String) in lines.first { $0.hasPrefix("  \(gpu)  Fake GPU \(gpu)") } ?? "" }
        #expect(row("0").contains("gpu-0") && row("0").contains("energy counter") && row("0").contains("yes"))
        #expect(row("1").contains("gpu-1") && row("1").contains("sampled power") && row("1").contains("NOT_SUPPORTED"))
        #expect(row("2").contains(" no ") && row("2").contains("Unknown Error (NVML error 999)"))
        #expect(result.stdout.contains("GPUs added to the total: gpu-0 (energy counter) + gpu-1 (sampled power)"))
        // --gpus narrows it, and the probe says so.
        let one = try Fmctl.run(["footprint", "probe", "--gpus", "1"], in: work.path, environment: environment)
        #expect(one.stdout.contains("selection: 1 (--gpus)") && one.stdout.contains("GPUs added to the total: gpu-1 (sampled power)"))
    }

    @Test func probe_withoutNVML_saysSoAndSucceeds() throws {
        let result = try Fmctl.run(["footprint", "probe"], in: work.path, environment: ["LD_LIBRARY_PATH": work.path])
        expectSuccess(result)
        #expect(result.stdout.contains("nvml: libnvidia-ml.so.1 not loaded ("))
        #expect(result.stdout.contains("no NVIDIA driver, GPUs are not measured"))
        let noDriver = try Fmctl.run(["footprint", "probe"], in: work.path, environment: try fakeNVML(["FAKE_NVML_INIT_ERROR": "9"]))
        #expect(noDriver.stdout.contains("nvml: nvmlInit_v2 failed: Driver Not Loaded (NVML error 9)"))
    }

    /// `footprint measure` of a command: gpu-0 at 50 W is one step (5 J) between the window's
    /// two reads; gpu-1's read at the window's start fails (fake read 2: 0 is discovery, 1
    /// the tracker's start), so its window runs from the start read: two steps of 3 J, a
    /// missing sample carried, never zero.
    @Test func measure_addsEachGPUToTheTotalAndTheRunFiles() throws {
        let environment = try fakeNVML(["FAKE_NVML_DEVICES": "2", "FAKE_NVML_POWER_MW": "50000,30000", "FAKE_NVML_FAIL": "1:2:1"])
        let result = try Fmctl.run(["footprint", "measure", "--sample-interval", "30", "--run-dir", "m", "--", "sleep", "0.3"],
                                   in: work.path, environment: environment)
        expectSuccess(result)
        #expect(result.stderr.contains("estimate + nvml"), "\(result.stderr)")
        let run = try work.json("m/run.json")
        let measurement = run["measurement"] as? [String: Any] ?? [:]
        #expect(measurement["domains"] as? [String] == ["cpu", "ram", "gpu-0", "gpu-1"])
        #expect(measurement["domain_sources"] as? [String: String] == ["cpu": "estimate", "ram": "estimate", "gpu-0": "nvml", "gpu-1": "nvml"])
        #expect((measurement["gpus"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["Fake GPU 0", "Fake GPU 1"])
        #expect(measurement["missing_samples"] as? Int == 1)
        let total = run["total"] as? [String: Any] ?? [:]
        let domains = total["domains"] as? [String: Double] ?? [:]
        #expect(domains["gpu-0"] == 5)
        #expect(domains["gpu-1"] == 6)
        let joules = total["energy_j"] as? Double ?? 0
        #expect(abs(joules - (domains["cpu"] ?? 0) - (domains["ram"] ?? 0) - 11) < 1e-9)

        let report = try Fmctl.run(["footprint", "report", "m", "--format", "json"], in: work.path)
        let json = try jsonObject(Data(report.stdout.utf8))
        let reportTotal = json["total"] as? [String: Any] ?? [:]
        #expect(reportTotal["measured_domains"] as? [String] == ["gpu-0", "gpu-1"])
        #expect(reportTotal["estimated_domains"] as? [String] == ["cpu", "ram"])
        #expect((reportTotal["domains"] as? [String: Double])?["gpu-1"] == 6)

        let power = try work.text("m/power.csv").split(separator: "\n")
        #expect(power.first == "timestamp,elapsed_s,cpu_w,ram_w,gpu-0_w,gpu-1_w,total_w,source")
        let emissions = try work.text("m/emissions.csv").split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        let row = Dictionary(uniqueKeysWithValues: zip(emissions[0].map(String.init), emissions[1].map(String.init)))
        #expect(Double(row["gpu_energy"] ?? "") == 11 / 3.6e6)
        #expect(row["gpu_count"] == "2")
    }

    /// `train --gpus 1`: only that GPU is measured, in every epoch's domains and the total.
    @Test func train_gpusOption_measuresTheChosenGPU() throws {
        try Datasets.synthetic(in: work.file("data"))
        let environment = try fakeNVML(["FAKE_NVML_DEVICES": "2", "FAKE_NVML_POWER_MW": "50000,30000"])
        let result = try Fmctl.run(["train", "--model", "mlp", "--dataset", "data", "--epochs", "2", "--threads", "1",
                                    "--gpus", "1", "--sample-interval", "30", "--run-dir", "run"], in: work.path, environment: environment)
        expectSuccess(result)
        #expect(result.stdout.contains(" J (estimate + nvml) - co2e: "), "\(result.stdout)")
        let run = try work.json("run/run.json")
        #expect((run["measurement"] as? [String: Any])?["domains"] as? [String] == ["cpu", "ram", "gpu-1"])
        let epochs = run["epochs"] as? [[String: Any]] ?? []
        #expect(epochs.count == 2)
        for epoch in epochs {
            let gpu = (epoch["domains"] as? [String: Double])?["gpu-1"] ?? 0
            // Whole 3 J steps: one per read after the epoch's first.
            #expect(gpu >= 3 && gpu.truncatingRemainder(dividingBy: 3) == 0, "\(gpu) J")
            #expect((epoch["domains"] as? [String: Double])?["gpu-0"] == nil)
        }
        let total = (run["total"] as? [String: Any])?["domains"] as? [String: Double] ?? [:]
        #expect(total["gpu-1"] == epochs.compactMap { ($0["domains"] as? [String: Double])?["gpu-1"] }.reduce(0, +))
    }

    @Test(arguments: ["x", "0,,1", "-1", "1.5"])
    func gpusOption_badValue_isUsageError(_ value: String) throws {
        let result = try Fmctl.run(["footprint", "measure", "--gpus", value, "--run-dir", "m", "--", "true"], in: work.path)
        expectUserError(result, exitCode: 64, mentions: "--gpus")
        #expect(result.stderr.contains("expected all, none, or GPU indices"))
        #expect(!work.exists("m"))
    }

    @Test func gpusOption_absentGPU_isUsageError() throws {
        let environment = try fakeNVML(["FAKE_NVML_DEVICES": "2"])
        let result = try Fmctl.run(["footprint", "measure", "--gpus", "0,3", "--run-dir", "m", "--", "true"], in: work.path,
                                   environment: environment)
        expectUserError(result, exitCode: 64, mentions: "--gpus '0,3': expected indices of GPUs NVML lists, 0 to 1")
        #expect(!work.exists("m"))
    }
}
