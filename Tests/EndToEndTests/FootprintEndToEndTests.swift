import Foundation
import Testing

/// `fmctl train` measuring through a powercap tree the test controls.
@Suite struct FootprintEndToEndTests {
    /// A package-0 counter advancing at 60 W, with a 15 J range so it wraps every quarter
    /// second: fmctl reports `rapl` energy whose average power is 60 W within 2 % (the writer
    /// thread's staleness of about a millisecond at each boundary is the only error source).
    /// The mlp's epoch on the full training set in batches of 8 lasts several seconds even on a
    /// fast machine: many wraps.
    @Test func train_fakeRAPL_reportsCounterEnergy() throws {
        let work = TemporaryDirectory()
        try Datasets.fashionMNISTSubset(in: work.file("data"), train: 60_000, test: 100)
        let watts = 60.0
        let range: UInt64 = 15_000_000
        // A declared 120 W maximum wraps 15 J in 0.125 s: fmctl must sample at least every 0.0625 s.
        let tree = try FakePowercapTree.onePackage(root: work.file("powercap"), energyFile: "1000000\n",
                                                   maxRangeMicrojoules: range, maxPowerMicrowatts: 120_000_000)
        let counter = PoweredCounter(path: tree.energyPath(FakePowercapTree.package0Zone), watts: watts, maxRangeMicrojoules: range)
        counter.start()
        let result = try Fmctl.run(["train", "--model", "mlp", "--dataset", "data", "--epochs", "1", "--batch-size", "8",
                                    "--threads", "1", "--powercap-root", tree.root, "--run-dir", "run"], in: work.path, timeout: 90)
        counter.stop()
        expectSuccess(result)
        #expect(!result.stderr.contains("no RAPL"), "\(result.stderr)")
        #expect(result.stdout.contains("(rapl)"))

        let run = try work.json("run/run.json")
        let measurement = run["measurement"] as? [String: Any] ?? [:]
        #expect(measurement["source"] as? String == "rapl")
        #expect((measurement["domains"] as? [String])?.contains("package-0") == true)
        let interval = measurement["sample_interval_s"] as? Double ?? 1
        #expect(interval <= 0.0625, "sampling every \(interval) s cannot see every wrap of a 0.125 s counter")
        let epoch = (run["epochs"] as? [[String: Any]])?.first ?? [:]
        #expect(epoch["source"] as? String == "rapl")
        let joules = epoch["energy_j"] as? Double ?? 0
        let averageWatts = epoch["avg_power_w"] as? Double ?? 0
        let seconds = epoch["duration_s"] as? Double ?? 0
        #expect(joules > 2 * Double(range) / 1e6, "the epoch (\(joules) J) should span counter wraps")
        #expect(abs(averageWatts - watts) / watts < 0.02, "average \(averageWatts) W, counter runs at \(watts) W")
        #expect(abs(joules - watts * seconds) / (watts * seconds) < 0.03, "\(joules) J in \(seconds) s at \(watts) W")
        // Only package-0 is counted, so the domains add up to the total.
        let domains = epoch["domains"] as? [String: Double] ?? [:]
        #expect(abs((domains["package-0"] ?? 0) - joules) < 1e-6 * joules)
        let power = try work.text("run/power.csv").split(separator: "\n")
        #expect(power.first?.contains("package-0_w") == true)
        #expect(power.dropFirst().allSatisfy { $0.hasSuffix(",rapl") })
    }

    /// `footprint measure` runs the command with the user's environment (not the OpenBLAS
    /// setting fmctl gives itself for training), exits with its status, and records the run.
    @Test func measure_runsTheCommandAsGivenAndRecordsIt() throws {
        let work = TemporaryDirectory()
        let result = try Fmctl.run(["footprint", "measure", "--run-dir", "m", "--",
                                    "sh", "-c", "echo blas=${OPENBLAS_THREAD_TIMEOUT-unset}; exit 3"], in: work.path)
        #expect(result.status == 3, "\(result.description)")
        let expected = ProcessInfo.processInfo.environment["OPENBLAS_THREAD_TIMEOUT"] ?? "unset"
        #expect(result.stdout == "blas=\(expected)\n")
        #expect(result.stderr.contains("fmctl footprint: sh -c"))
        let run = try work.json("m/run.json")
        #expect(run["status"] as? String == "failed")
        #expect((run["status_reason"] as? String)?.contains("exit status 3") == true)
        #expect((run["measurement"] as? [String: Any])?["source"] as? String == "estimate")
    }

    /// A counter file in a tree the user named that cannot be parsed is not a zero and not a
    /// reason to guess: exit 65 with one line naming the file, before any run folder exists.
    /// (The system's own /sys/class/powercap falls back to the estimate instead; FootprintTests
    /// cover that path through an injected reader.)
    @Test(arguments: [("empty", ""), ("garbage", "garbage\n"), ("negative", "-5\n"), ("absurd", "99999999999999999999999999\n")])
    func train_badPowercapFile_isBadData(_ case_: (name: String, contents: String)) throws {
        let work = TemporaryDirectory()
        try Datasets.synthetic(in: work.file("data"))
        let tree = try FakePowercapTree.onePackage(root: work.file("powercap"), energyFile: case_.contents)
        let result = try Fmctl.run(["train", "--model", "mlp", "--dataset", "data", "--epochs", "1", "--threads", "1",
                                    "--powercap-root", tree.root, "--run-dir", "run"], in: work.path)
        expectUserError(result, exitCode: 65, mentions: "energy_uj")
        #expect(!work.exists("run/run.json"))
        // --no-footprint does not read the tree at all.
        let off = try Fmctl.run(["train", "--model", "mlp", "--dataset", "data", "--epochs", "1", "--threads", "1",
                                 "--powercap-root", tree.root, "--no-footprint", "--run-dir", "off"], in: work.path)
        expectSuccess(off)
    }

    /// `fmctl footprint probe` on the same broken tree says what is wrong and does not fail.
    @Test func probe_badPowercapFile_diagnoses() throws {
        let work = TemporaryDirectory()
        let tree = try FakePowercapTree.onePackage(root: work.file("powercap"), energyFile: "garbage\n")
        let result = try Fmctl.run(["footprint", "probe", "--powercap-root", tree.root], in: work.path)
        expectSuccess(result)
        #expect(result.stdout.contains("package-0"))
        #expect(result.stdout.contains("unreadable"))
        #expect(result.stdout.contains("energy_uj"))
    }
}
