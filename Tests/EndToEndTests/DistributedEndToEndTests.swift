import Foundation
import Models
import Testing

/// `fmctl train` under Open MPI's `mpirun` (docs/distributed.md): N processes reproduce one,
/// each host is measured once, and a process that dies ends the job with the run failed.
enum Mpirun {
    static let path = "/usr/bin/mpirun"

    /// As root, Open MPI refuses to start without these two variables; `--oversubscribe` lets
    /// three processes share two cores.
    static let environment: [String: String?] = ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"]

    /// `mpirun` arguments that start `fmctl arguments` in each group of processes, each group
    /// with its own variables (`-x NAME=value`, Open MPI's MPMD form `A : B`).
    static func arguments(_ groups: [(processes: Int, variables: [String: String])], fmctl arguments: [String]) -> [String] {
        var out = ["--oversubscribe", "--bind-to", "none"]
        for (i, group) in groups.enumerated() {
            if i > 0 { out.append(":") }
            out += ["-np", String(group.processes)]
            for (name, value) in group.variables.sorted(by: { $0.key < $1.key }) { out += ["-x", "\(name)=\(value)"] }
            out += [Fmctl.binary] + arguments
        }
        return out
    }

    static func start(_ groups: [(processes: Int, variables: [String: String])], fmctl arguments: [String],
                      in directory: String) throws -> RunningFmctl {
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw MpirunMissing()
        }
        // A test runner starts processes from threads that block SIGINT and SIGTERM, and a child
        // inherits that mask: mpirun, unlike fmctl, does not unblock them, so it would never see
        // a Ctrl-C. Python unblocks them and becomes mpirun.
        let unblock = "import os, signal, sys; signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM}); os.execv(sys.argv[1], sys.argv[1:])"
        return try Fmctl.start(["-c", unblock, path] + Self.arguments(groups, fmctl: arguments), in: directory,
                               executable: "/usr/bin/python3", environment: environment)
    }

    static func run(processes: Int, _ arguments: [String], in directory: String, timeout: Double = 120) throws -> FmctlResult {
        try start([(processes, [:])], fmctl: arguments, in: directory).wait(timeout: timeout)
    }

    struct MpirunMissing: Error, CustomStringConvertible {
        var description: String { "\(Mpirun.path) is missing: scripts/setup installs openmpi-bin and libopenmpi-dev" }
    }
}

/// The weights of a checkpoint by tensor name (the optimiser's state left out).
func checkpointWeights(_ path: String) throws -> [String: [Float]] {
    let (tensors, _) = try Safetensors.read(path: path)
    var out: [String: [Float]] = [:]
    for t in tensors where !t.name.hasPrefix("optimizer/") { out[t.name] = t.values }
    return out
}

@Suite struct DistributedEndToEndTests {
    /// 20 steps of a global batch of 12 (300 samples, 240 to train) in 1, 2 and 3 processes:
    /// the weights within 1e-5 relative (1e-6 absolute near zero) and the epoch's losses within
    /// 1e-5 relative, i.e. equal up to the order of float sums.
    @Test func twentySteps_inOneTwoAndThreeProcesses_agree() throws {
        let work = TemporaryDirectory()
        try Datasets.fashionMNISTSubset(in: work.file("data"), train: 300, test: 60)
        let options = ["train", "--model", "mlp", "--dataset", "data", "--epochs", "1", "--batch-size", "12",
                       "--validation-split", "0.2", "--seed", "3", "--threads", "1", "--no-footprint"]
        let single = try Fmctl.run(options + ["--run-dir", "one"], in: work.path)
        expectSuccess(single)
        let reference = try checkpointWeights(work.file("one/model.safetensors"))
        let referenceRun = try work.json("one/run.json")
        let referenceEpoch = (referenceRun["epochs"] as? [[String: Any]])?.first ?? [:]
        #expect(single.stdout.contains("20/20"))
        for n in [2, 3] {
            let result = try Mpirun.run(processes: n, options + ["--run-dir", "n\(n)"], in: work.path)
            expectSuccess(result)
            let weights = try checkpointWeights(work.file("n\(n)/model.safetensors"))
            #expect(Set(weights.keys) == Set(reference.keys))
            for (name, values) in reference {
                let other = weights[name] ?? []
                #expect(other.count == values.count)
                let worst = zip(values, other).map { abs($0 - $1) / max(abs($0), 0.1) }.max() ?? .infinity
                #expect(worst <= 1e-5, "\(name) with \(n) processes: \(worst)")
            }
            let run = try work.json("n\(n)/run.json")
            let epoch = (run["epochs"] as? [[String: Any]])?.first ?? [:]
            for key in ["train_loss", "val_loss"] {
                let a = referenceEpoch[key] as? Double ?? .nan, b = epoch[key] as? Double ?? .nan
                #expect(abs(a - b) <= 1e-5 * abs(a), "\(key): \(a) vs \(b) with \(n) processes")
            }
            #expect(epoch["samples"] as? Int == 240)
            let distributed = run["distributed"] as? [String: Any] ?? [:]
            #expect(distributed["world_size"] as? Int == n)
            #expect((epoch["allreduce_bytes"] as? Double ?? 0) > 0)
            // Rank 0 alone prints and writes.
            #expect(result.stdout.components(separatedBy: "Epoch 1/1").count == 2, "\(result.stdout)")
        }
        // The weights moved far beyond that tolerance during the 20 steps.
        let untrained = try Fmctl.run(["train", "--model", "mlp", "--dataset", "data", "--epochs", "1", "--batch-size", "240",
                                       "--limit", "240", "--validation-split", "0", "--learning-rate", "1e-9", "--seed", "3",
                                       "--threads", "1", "--no-footprint", "--run-dir", "still"], in: work.path)
        expectSuccess(untrained)
        let still = try checkpointWeights(work.file("still/model.safetensors"))
        let moved = zip(reference["dense/kernel"] ?? [], still["dense/kernel"] ?? []).map { abs($0 - $1) }.max() ?? 0
        #expect(moved > 1e-3)
    }

    /// One epoch on 3,000 images: two processes' test accuracy within half a point of one's.
    @Test func oneEpoch_testAccuracyMatchesOneProcess() throws {
        let work = TemporaryDirectory()
        try Datasets.fashionMNISTSubset(in: work.file("data"), train: 3000, test: 1000)
        let options = ["train", "--model", "mlp", "--dataset", "data", "--epochs", "1", "--batch-size", "32",
                       "--seed", "5", "--threads", "1", "--no-footprint"]
        expectSuccess(try Fmctl.run(options + ["--run-dir", "one"], in: work.path))
        expectSuccess(try Mpirun.run(processes: 2, options + ["--run-dir", "two"], in: work.path))
        let a = (try work.json("one/run.json")["test"] as? [String: Any])?["accuracy"] as? Double ?? .nan
        let b = (try work.json("two/run.json")["test"] as? [String: Any])?["accuracy"] as? Double ?? .nan
        #expect(a > 0.5)
        #expect(abs(a - b) <= 0.005, "\(a) vs \(b)")
    }

    /// Two simulated hosts (FMCTL_HOST_ID), one with one process and one with two, each with
    /// its own fake RAPL counter at 10 W and 40 W: each host is measured once (by its lowest
    /// rank), the run's energy is the sum of the hosts', and the second host's is about four
    /// times the first's (both count the same epoch, which all processes end together).
    @Test func simulatedHosts_areEachCountedOnce() throws {
        let work = TemporaryDirectory()
        try Datasets.synthetic(in: work.file("data"), train: 600, test: 60)
        var counters: [PoweredCounter] = []
        var groups: [(processes: Int, variables: [String: String])] = []
        for (host, watts, processes) in [("hostA", 10.0, 1), ("hostB", 40.0, 2)] {
            let tree = try FakePowercapTree.onePackage(root: work.file("powercap-\(host)"), energyFile: "1000000\n")
            let counter = PoweredCounter(path: tree.energyPath(FakePowercapTree.package0Zone), watts: watts,
                                         maxRangeMicrojoules: 262_143_328_850)
            counter.start()
            counters.append(counter)
            groups.append((processes, ["FMCTL_HOST_ID": host, "FMCTL_POWERCAP_ROOT": tree.root]))
        }
        let running = try Mpirun.start(groups, fmctl: ["train", "--model", "mlp", "--dataset", "data", "--epochs", "2",
                                                       "--batch-size", "6", "--threads", "1", "--run-dir", "run"], in: work.path)
        let result = try running.wait(timeout: 120)
        for counter in counters { counter.stop() }
        expectSuccess(result)
        let run = try work.json("run/run.json")
        let distributed = run["distributed"] as? [String: Any] ?? [:]
        #expect(distributed["world_size"] as? Int == 3)
        let hosts = distributed["hosts"] as? [[String: Any]] ?? []
        #expect(hosts.map { $0["host"] as? String } == ["hostA", "hostB"])
        #expect(hosts.map { $0["ranks"] as? [Int] } == [[0], [1, 2]])
        #expect(hosts.allSatisfy { $0["source"] as? String == "rapl" })
        let energies = hosts.map { $0["energy_j"] as? Double ?? 0 }
        let total = (run["total"] as? [String: Any])?["energy_j"] as? Double ?? 0
        #expect(energies.allSatisfy { $0 > 0 })
        #expect(abs(energies.reduce(0, +) - total) <= 1e-9 * total, "\(energies) vs total \(total)")
        let ratio = energies[1] / energies[0]
        #expect(ratio > 3 && ratio < 5, "host B / host A = \(ratio) (40 W / 10 W)")
        let epochs = run["epochs"] as? [[String: Any]] ?? []
        let epochSum = epochs.map { $0["energy_j"] as? Double ?? 0 }.reduce(0, +)
        #expect(abs(epochSum - total) <= 1e-9 * total)
    }

    /// An indivisible global batch is a usage error, said once (by rank 0).
    @Test func indivisibleBatch_isOneUsageError() throws {
        let work = TemporaryDirectory()
        try Datasets.synthetic(in: work.file("data"))
        let result = try Mpirun.run(processes: 3, ["train", "--model", "mlp", "--dataset", "data", "--epochs", "1",
                                                   "--batch-size", "32", "--threads", "1", "--run-dir", "run"], in: work.path)
        #expect(result.status != 0 && !result.timedOut, "\(result.description)")
        let lines = result.stderrLines.filter { $0.hasPrefix("fmctl:") }
        #expect(lines == ["fmctl: --batch-size 32 does not split over 3 processes; it is the global batch, give a multiple of 3 (e.g. 30 or 33)"],
                "\(result.description)")
        #expect(!work.exists("run/run.json"))
    }

    /// A process killed mid-epoch ends the job within seconds (no hang); rank 0's run.json
    /// says failed and why; the last epoch's checkpoint resumes the run under mpirun with
    /// another number of processes.
    @Test func aKilledProcess_failsTheRun_andTheCheckpointResumes() throws {
        let work = TemporaryDirectory()
        try Datasets.fashionMNISTSubset(in: work.file("data"), train: 6000, test: 200)
        let running = try Mpirun.start([(2, [:])], fmctl: ["train", "--model", "mlp", "--dataset", "data", "--epochs", "3",
                                                           "--batch-size", "6", "--threads", "1", "--run-dir", "run"],
                                       in: work.path)
        #expect(running.waitForOutput("Epoch 2/3", timeout: 120), "\(running.stdoutSoFar)")
        // Rank 1, as mpirun's environment for it says.
        let ranks = childPIDs(of: running.process.processIdentifier)
        #expect(ranks.count == 2, "\(ranks)")
        let victim = ranks.first { pid in
            let environ = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/environ"))) ?? Data()
            return environ.split(separator: 0).contains { String(decoding: $0, as: UTF8.self) == "OMPI_COMM_WORLD_RANK=1" }
        }
        #expect(victim != nil)
        let killedAt = Date()
        if let victim { kill(victim, SIGKILL) }
        let result = try running.wait(timeout: 60)
        #expect(!result.timedOut, "the job hung after a process died: \(result.description)")
        #expect(Date().timeIntervalSince(killedAt) < 15)
        #expect(result.status != 0)
        let run = try work.json("run/run.json")
        #expect(run["status"] as? String == "failed", "\(run["status"] ?? "nil")")
        #expect((run["status_reason"] as? String)?.contains("waited for the other processes") == true)
        #expect((run["epochs"] as? [[String: Any]])?.count == 1)

        let resumed = try Mpirun.run(processes: 3, ["train", "--resume", "run", "--threads", "1"], in: work.path)
        expectSuccess(resumed)
        let after = try work.json("run/run.json")
        #expect(after["status"] as? String == "completed")
        #expect((after["epochs"] as? [[String: Any]])?.map { $0["epoch"] as? Int } == [1, 2, 3])
        #expect(((after["distributed"] as? [String: Any])?["world_size"] as? Int) == 3)
        // The host's energy covers both sessions' epochs, as the run's total does.
        let hosts = (after["distributed"] as? [String: Any])?["hosts"] as? [[String: Any]] ?? []
        let total = (after["total"] as? [String: Any])?["energy_j"] as? Double ?? 0
        #expect(hosts.count == 1 && total > 0)
        #expect(abs((hosts.first?["energy_j"] as? Double ?? 0) - total) <= 1e-9 * total, "\(hosts) vs \(total)")
    }

    /// Ctrl-C to mpirun: every process stops at the same batch; the run is interrupted, with
    /// a checkpoint that loads.
    @Test func sigintToMpirun_interruptsTheRun() throws {
        let work = TemporaryDirectory()
        try Datasets.fashionMNISTSubset(in: work.file("data"), train: 6000, test: 200)
        let running = try Mpirun.start([(2, [:])], fmctl: ["train", "--model", "mlp", "--dataset", "data", "--epochs", "200",
                                                           "--batch-size", "2", "--threads", "1", "--no-footprint", "--run-dir", "run"],
                                       in: work.path)
        #expect(running.waitForOutput("Epoch 2/200", timeout: 120), "\(running.stdoutSoFar)")
        running.signal(SIGINT)
        let result = try running.wait(timeout: 60)
        #expect(!result.timedOut, "\(result.description)")
        #expect(!result.stdout.contains("Epoch 200/200"))
        let run = try work.json("run/run.json")
        #expect(run["status"] as? String == "interrupted", "\(result.description)")
        #expect((run["status_reason"] as? String)?.contains("signal") == true)
        let evaluate = try Fmctl.run(["evaluate", "run", "--dataset", "data", "--threads", "1"], in: work.path)
        expectSuccess(evaluate)
    }
}

/// The pids of a process's children (from /proc).
func childPIDs(of parent: Int32) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { Int32($0) }.filter { pid in
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 2 && Int32(fields[1]) == parent
    }
}
