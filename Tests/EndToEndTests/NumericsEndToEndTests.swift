import Foundation
import Testing

/// A NaN or infinite loss stops the run at that batch with a clear message,
/// keeps what was finished, and marks run.json failed with the reason.
@Suite struct NumericsEndToEndTests {
    @Test func train_divergingLoss_failsCleanly() throws {
        let work = TemporaryDirectory()
        let result = try Fmctl.run(["train", "--model", "mlp", "--optimizer", "sgd", "--learning-rate", "1e9",
                                    "--epochs", "2", "--limit", "3000", "--threads", "1", "--run-dir", "run"],
                                   in: work.path, timeout: 120)
        #expect(result.status == 65, "\(result.description)")
        let lines = result.stderr.split(separator: "\n").filter { $0.hasPrefix("fmctl:") }
        #expect(lines.count == 1 && lines.first?.contains("NaN or infinite") == true, "\(result.stderr)")
        #expect(!result.stderr.contains("Fatal error"))
        let run = try work.json("run/run.json")
        #expect(run["status"] as? String == "failed")
        #expect((run["status_reason"] as? String)?.contains("NaN") == true)
        let epochs = run["epochs"] as? [[String: Any]] ?? []
        #expect(epochs.count == 1 && epochs.first?["interrupted"] as? Bool == true)
        #expect(try work.text("run/epochs.csv").split(separator: "\n").count == 2)
    }
}
