import Foundation
import Testing

/// Issue 6, item 3: Ctrl-C stops at the next batch, records the partial epoch, saves a loadable
/// checkpoint, marks the run interrupted and exits 130.
@Suite struct InterruptEndToEndTests {
    /// The MLP on all of Fashion-MNIST (1,688 steps an epoch, a few seconds even in a release
    /// build), interrupted half a second into its first epoch.
    @Test func train_SIGINT_midEpoch_savesAnInterruptedRun() throws {
        let work = try WorkFolder()
        let running = try Fmctl.start(["train", "--model", "mlp", "--epochs", "3", "--threads", "1", "--run-dir", "run"], in: work.path)
        let began = running.waitForOutput("Epoch 1/3", timeout: 60)
        #expect(began, "training never started: \(running.stdoutSoFar)")
        Thread.sleep(forTimeInterval: 0.5)
        running.signal(SIGINT)
        let result = try running.wait(timeout: 60)
        #expect(!result.timedOut && !result.signalled, "\(result.description)")
        #expect(result.status == 130, "\(result.description)")
        #expect(result.stderr.contains("interrupted"))
        #expect(!result.stdout.contains("Epoch 2/3"), "the signal came too late to test a partial epoch: \(result.stdout)")
        #expect(!result.stdout.contains("1688/1688"), "the first epoch ran to its end: \(result.stdout)")

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
        let report = try Fmctl.run(["footprint", "report", "run", "--format", "json"], in: work.path)
        expectSuccess(report)
        #expect(try jsonObject(Data(report.stdout.utf8))["status"] as? String == "interrupted")
    }

    /// A second signal exits at once, and what is on disk is still whole.
    @Test func train_twoSignals_exitAtOnceWithConsistentFiles() throws {
        let work = try WorkFolder()
        let running = try Fmctl.start(["train", "--model", "mlp", "--epochs", "3", "--threads", "1", "--run-dir", "run"], in: work.path)
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
}
