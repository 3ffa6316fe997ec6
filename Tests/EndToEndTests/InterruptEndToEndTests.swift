import Foundation
import Testing

/// Ctrl-C stops at the next batch, records the partial epoch, saves a loadable
/// checkpoint, marks the run interrupted and exits 130.
@Suite struct InterruptEndToEndTests {
    /// The MLP on all of Fashion-MNIST in batches of 8 (6,750 steps an epoch, several seconds
    /// even on a fast machine), interrupted half a second into its first epoch.
    @Test func train_SIGINT_midEpoch_savesAnInterruptedRun() throws {
        let work = TemporaryDirectory()
        let running = try Fmctl.start(["train", "--model", "mlp", "--epochs", "3", "--batch-size", "8", "--threads", "1", "--run-dir", "run"],
                                      in: work.path)
        let began = running.waitForOutput("Epoch 1/3", timeout: 60)
        #expect(began, "training never started: \(running.stdoutSoFar)")
        Thread.sleep(forTimeInterval: 0.5)
        running.signal(SIGINT)
        let result = try running.wait(timeout: 60)
        #expect(!result.timedOut && !result.signalled, "\(result.description)")
        #expect(result.status == 130, "\(result.description)")
        #expect(result.stderr.contains("interrupted"))
        #expect(!result.stdout.contains("Epoch 2/3"), "the signal came too late to test a partial epoch: \(result.stdout)")
        #expect(!result.stdout.contains("6750/6750"), "the first epoch ran to its end: \(result.stdout)")

        let run = try work.json("run/run.json")
        #expect(run["status"] as? String == "interrupted")
        #expect((run["status_reason"] as? String)?.contains("signal") == true)
        let epochs = run["epochs"] as? [[String: Any]] ?? []
        #expect(epochs.count == 1)
        #expect(epochs.first?["interrupted"] as? Bool == true)
        let samples = epochs.first?["samples"] as? Int ?? 0
        #expect(samples > 0 && samples < 54_000, "\(samples) samples in the partial epoch")
        #expect((epochs.first?["energy_j"] as? Double ?? 0) > 0, "the partial epoch's window was closed and measured")
        let rows = try work.text("run/epochs.csv").split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        #expect(rows.count == 2)
        if rows.count == 2, let column = rows[0].firstIndex(of: "interrupted") {
            #expect(rows[1][column] == "true")
        }
        #expect(try work.text("run/emissions.csv").hasPrefix(codeCarbonHeader + "\n"))

        // The checkpoint loads and classifies far better than chance.
        let evaluate = try Fmctl.run(["evaluate", "run", "--threads", "1"], in: work.path)
        expectSuccess(evaluate)
        #expect(evaluate.stdout.contains("10000 test images"))
        let accuracy = evaluate.stdout.firstMatch(of: /accuracy (0\.[0-9]+)/).flatMap { Double($0.1) } ?? 0
        #expect(accuracy > 0.5, "\(evaluate.stdout)")
        let report = try Fmctl.run(["footprint", "report", "run", "--format", "json"], in: work.path)
        expectSuccess(report)
        #expect(try jsonObject(Data(report.stdout.utf8))["status"] as? String == "interrupted")
    }

    /// A second signal exits at once, and what is on disk is still whole.
    @Test func train_twoSignals_exitAtOnceWithConsistentFiles() throws {
        let work = TemporaryDirectory()
        let running = try Fmctl.start(["train", "--model", "mlp", "--epochs", "3", "--batch-size", "8", "--threads", "1", "--run-dir", "run"],
                                      in: work.path)
        #expect(running.waitForOutput("Epoch 1/3", timeout: 60), "training never started: \(running.stdoutSoFar)")
        Thread.sleep(forTimeInterval: 0.3)
        running.signal(SIGINT)
        // Apart, so the kernel does not merge them into one pending signal.
        Thread.sleep(forTimeInterval: 0.02)
        running.signal(SIGINT)
        let result = try running.wait(timeout: 60)
        #expect(!result.timedOut && !result.signalled, "\(result.description)")
        #expect(result.status == 130, "\(result.description)")
        // run.json parses and says running or interrupted; a checkpoint, if any, loads.
        let status = try work.json("run/run.json")["status"] as? String
        #expect(status == "running" || status == "interrupted", "status \(status ?? "nil")")
        if work.exists("run/model.safetensors") {
            expectSuccess(try Fmctl.run(["evaluate", "run", "--threads", "1"], in: work.path))
        }
    }

    /// A run interrupted mid-epoch and resumed with `--resume` ends with the
    /// same weights and optimiser state, bit for bit, as the same run uninterrupted (shuffling
    /// and dropout come from (seed, epoch, batch); the checkpoint holds Adam's moments and the
    /// position), and its footprint covers both sessions.
    @Test func train_interruptedThenResumed_matchesUninterruptedBitForBit() throws {
        let work = TemporaryDirectory()
        let args = ["train", "--model", "mlp", "--epochs", "2", "--threads", "1", "--seed", "3"]
        expectSuccess(try Fmctl.run(args + ["--run-dir", "full"], in: work.path, timeout: 120))

        let running = try Fmctl.start(args + ["--run-dir", "part"], in: work.path)
        #expect(running.waitForOutput("Epoch 1/2", timeout: 60), "training never started: \(running.stdoutSoFar)")
        Thread.sleep(forTimeInterval: 0.5)
        running.signal(SIGINT)
        let stopped = try running.wait(timeout: 60)
        #expect(stopped.status == 130, "\(stopped.description)")
        let partial = try work.json("part/run.json")["epochs"] as? [[String: Any]] ?? []
        #expect(partial.count == 1 && partial.first?["interrupted"] as? Bool == true)

        #expect(!(try work.json("part/run.json")["idle_baseline"] is [String: Any]))
        // The second session measures an idle baseline, and the run records it. An fmctl.toml
        // that appeared meanwhile does not change the run's grid intensity.
        try work.write("fmctl.toml", "region = \"FRA\"\n")
        let resumed = try Fmctl.run(["train", "--resume", "part", "--idle-baseline", "0.2"], in: work.path, timeout: 120)
        expectSuccess(resumed)
        #expect(resumed.stdout.contains("resuming"))
        let run = try work.json("part/run.json")
        #expect(run["status"] as? String == "completed")
        #expect((run["idle_baseline"] as? [String: Any])?["duration_s"] as? Double ?? 0 > 0.1, "\(run["idle_baseline"] ?? "none")")
        let epochs = run["epochs"] as? [[String: Any]] ?? []
        // The partial epoch of the first session, the rest of epoch 1, and epoch 2.
        #expect(epochs.map { $0["epoch"] as? Int ?? 0 } == [1, 1, 2])
        #expect(epochs.reduce(0) { $0 + ($1["samples"] as? Int ?? 0) } == 2 * 54_000)
        let carbon = run["carbon"] as? [String: Any] ?? [:]
        let gramsPerKWh = (carbon["intensity_g_per_kwh"] as? Double ?? 0) * (carbon["pue"] as? Double ?? 0)
        #expect(carbon["region"] as? String == "WORLD")
        for epoch in epochs {
            let kWh = epoch["energy_kwh"] as? Double ?? 0, grams = epoch["co2e_g"] as? Double ?? 0
            #expect(kWh > 0 && abs(grams - kWh * gramsPerKWh) <= 1e-9 * max(grams, 1e-12), "epoch \(epoch["epoch"] ?? "?"): \(grams) g for \(kWh) kWh")
        }
        let energy = epochs.reduce(0.0) { $0 + ($1["energy_j"] as? Double ?? 0) }
        let total = (run["total"] as? [String: Any])?["energy_j"] as? Double ?? 0
        #expect(abs(total - energy) <= 1e-9 * max(1, energy) && total > 0)
        #expect((run["test"] as? [String: Any])?["accuracy"] as? Double ==
                (try work.json("full/run.json")["test"] as? [String: Any])?["accuracy"] as? Double)

        let full = try SafetensorsFile.split(work.bytes("full/model.safetensors"))
        let part = try SafetensorsFile.split(work.bytes("part/model.safetensors"))
        #expect(full.data == part.data, "weights and optimiser state differ after the resume")
    }
}

