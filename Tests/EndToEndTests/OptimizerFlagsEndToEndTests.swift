import Foundation
import Testing

/// `train`'s optimisation flags (docs/README.md): AdamW, clipping, the schedule and steps per
/// epoch reach the run's config and the checkpoint; bad values are one-line usage errors.
@Suite struct OptimizerFlagsEndToEndTests {
    @Test func adamWCosineClipping_areRecordedAndTrain() throws {
        let work = TemporaryDirectory()
        try Datasets.synthetic(in: work.file("data"), train: 120, test: 20)
        let result = try Fmctl.run(["train", "--model", "mlp", "--dataset", "data", "--epochs", "2", "--threads", "1",
                                    "--batch-size", "16", "--optimizer", "adamw", "--weight-decay", "0.05", "--beta2", "0.99", "--clip-norm", "1",
                                    "--lr-schedule", "cosine", "--warmup-steps", "2", "--min-learning-rate", "0.0001",
                                    "--steps-per-epoch", "5", "--no-footprint", "--run-dir", "run"], in: work.path)
        expectSuccess(result)
        #expect(result.stdout.contains("5/5 "))
        let run = try work.json("run/run.json")
        #expect(run["status"] as? String == "completed")
        let config = try #require(run["config"] as? [String: Any])
        #expect(config["optimizer"] as? String == "adamw")
        #expect(abs((config["weight_decay"] as? Double ?? 0) - 0.05) < 1e-8)
        #expect(config["clip_norm"] as? Double == 1)
        #expect(abs((config["beta_2"] as? Double ?? 0) - 0.99) < 1e-7 && abs((config["beta_1"] as? Double ?? 0) - 0.9) < 1e-7)
        #expect(config["lr_schedule"] as? String == "cosine" && config["warmup_steps"] as? Int == 2)
        #expect(config["decay_steps"] as? Int == 10)   // 2 epochs of 5 steps
        #expect(abs((config["min_learning_rate"] as? Double ?? 0) - 0.0001) < 1e-10)
        #expect(config["steps_per_epoch"] as? Int == 5)
    }

    @Test(arguments: [
        (["--clip-norm", "0"], "--clip-norm"),
        (["--weight-decay", "0.1"], "--weight-decay needs --optimizer adamw"),
        (["--optimizer", "adamw", "--weight-decay", "-1"], "--weight-decay"),
        (["--warmup-steps", "-1"], "--warmup-steps"),
        (["--decay-steps", "10"], "--decay-steps needs --lr-schedule cosine"),
        (["--lr-schedule", "cosine", "--warmup-steps", "10", "--decay-steps", "5"], "--decay-steps must be larger"),
        (["--lr-schedule", "cosine", "--min-learning-rate", "-0.5"], "--min-learning-rate"),
        (["--steps-per-epoch", "0"], "--steps-per-epoch"),
        (["--beta2", "0.99"], "--beta2 needs --optimizer adamw"),
        (["--optimizer", "adamw", "--beta1", "1"], "--beta1 must be in [0, 1)"),
        (["--lr-schedule", "linear"], "--lr-schedule"),
    ])
    func badValues_areUsageErrors(arguments: [String], mentions: String) throws {
        let work = TemporaryDirectory()
        let result = try Fmctl.run(["train", "--no-footprint"] + arguments, in: work.path)
        expectUserError(result, exitCode: 64, mentions: mentions)
    }

    /// Interrupted and resumed, a run with AdamW, a cosine schedule with warmup, clipping and
    /// epochs longer than a pass over the data ends with the uninterrupted run's checkpoint,
    /// byte for byte: --resume takes clipping and steps per epoch from run.json, the schedule
    /// and AdamW's state from the checkpoint.
    @Test func interruptedThenResumed_matchesUninterrupted() throws {
        let work = TemporaryDirectory()
        let args = ["train", "--model", "mlp", "--epochs", "2", "--threads", "1", "--seed", "3", "--limit", "1000",
                    "--optimizer", "adamw", "--lr-schedule", "cosine", "--warmup-steps", "20", "--clip-norm", "0.5",
                    "--steps-per-epoch", "2000", "--no-footprint"]
        try expectResumeMatchesUninterrupted(args, in: work, timeout: 120)
    }
}
