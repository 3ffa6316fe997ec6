import Foundation
import Testing

/// The text models end to end: `train` on a text corpus, `generate`, `evaluate`, fine-tuning
/// with `--init-from`/`--freeze`, and bad text input (docs/transformer.md).
@Suite struct TextEndToEndTests {
    /// About 24 KB of lines with a learnable pattern (counting, repeated phrases).
    static func corpus(seed: Int = 0) -> String {
        var out = ""
        var i = seed
        while out.utf8.count < 24_000 {
            out += "fortune \(i % 97): the quick brown fox jumps over the lazy dog.\n%\n"
            i += 7
        }
        return out
    }

    /// A small gpt-mini: context 16, a few steps, one thread.
    static func trainArguments(_ run: String, corpus: String, extra: [String] = []) -> [String] {
        ["train", "--model", "gpt-mini", "--dataset", "text:" + corpus, "--context", "16", "--batch-size", "8",
         "--steps-per-epoch", "25", "--epochs", "2", "--threads", "1", "--seed", "1", "--run-dir", run] + extra
    }

    @Test func gptMini_trainsGeneratesEvaluatesAndFineTunes() throws {
        let work = TemporaryDirectory()
        try work.write("corpus.txt", Self.corpus())
        let train = try Fmctl.run(Self.trainArguments("pre", corpus: "corpus.txt", extra: ["--log-every", "10"]), in: work.path, timeout: 300)
        expectSuccess(train)
        // --log-every: steps 10, 20 and the epoch's last (25), twice, with throughput and energy.
        let stepLines = train.stdout.split(separator: "\n").filter { $0.hasPrefix("step ") }
        #expect(stepLines.count == 6, "\(train.stdout)")
        #expect(stepLines.first?.hasPrefix("step 10/25 - loss: ") == true)
        #expect(stepLines.allSatisfy { $0.contains("tokens/s") && $0.contains(" J (estimate) over ") }, "\(stepLines)")
        #expect(train.stdout.contains("windows of 16 bytes (causal-lm)"), "\(train.stdout)")
        #expect(train.stdout.contains("bits_per_byte"), "\(train.stdout)")
        #expect(train.stdout.contains("nats/byte"), "\(train.stdout)")
        let run = try work.json("pre/run.json")
        let epochs = run["epochs"] as? [[String: Any]] ?? []
        #expect(epochs.count == 2)
        // 50 steps on a repetitive corpus take the validation loss well below uniform (ln 256 = 5.55).
        let valLoss = epochs.last?["val_loss"] as? Double ?? 99
        #expect(valLoss < 3.5, "\(epochs)")
        #expect((run["config"] as? [String: Any])?["objective"] as? String == "causal-lm")

        // Generation: the prompt, then the bytes; the same seed the same text.
        let a = try Fmctl.run(["generate", "pre", "--prompt", "fortune ", "--tokens", "40", "--seed", "3"], in: work.path)
        expectSuccess(a)
        #expect(a.stdout.hasPrefix("fortune "))
        #expect(a.stdout.utf8.count >= 8 + 40)
        let b = try Fmctl.run(["generate", "pre/model.safetensors", "--prompt", "fortune ", "--tokens", "40", "--seed", "3"], in: work.path)
        #expect(b.stdout == a.stdout)
        // Past the context (16): the window slides and generation goes on.
        let long = try Fmctl.run(["generate", "pre", "--prompt", "f", "--tokens", "60", "--temperature", "0"], in: work.path)
        expectSuccess(long)
        #expect(long.stdout.utf8.count >= 61)

        let evaluate = try Fmctl.run(["evaluate", "pre", "--dataset", "text:corpus.txt", "--threads", "1"], in: work.path)
        expectSuccess(evaluate)
        #expect(evaluate.stdout.contains("validation windows of 16 bytes (causal-lm)"), "\(evaluate.stdout)")
        #expect(evaluate.stdout.contains(String(format: "loss %.4f nats/byte", (run["test"] as? [String: Any])?["loss"] as? Double ?? -1)),
                "\(evaluate.stdout) vs \(run["test"] ?? "")")

        // Fine-tuning on other text, the embedding frozen: the report shows the pretraining run.
        try work.write("other.txt", Self.corpus(seed: 5).uppercased())
        let fine = try Fmctl.run(Self.trainArguments("fine", corpus: "other.txt", extra: ["--init-from", "pre", "--freeze", "token_embedding",
                                                                                              "--epochs", "1"]),
                                 in: work.path, timeout: 300)
        expectSuccess(fine)
        #expect(fine.stdout.contains("loaded 24 layer(s)"), "\(fine.stdout)")
        let fineRun = try work.json("fine/run.json")
        let pretraining = fineRun["pretraining"] as? [String: Any] ?? [:]
        #expect(pretraining["run_id"] as? String == run["run_id"] as? String)
        #expect(pretraining["frozen_layers"] as? [String] == ["token_embedding"])
        let report = try Fmctl.run(["footprint", "report", "fine"], in: work.path)
        expectSuccess(report)
        #expect(report.stdout.contains("Pretraining (run \(run["run_id"] as? String ?? "?")"), "\(report.stdout)")
    }

    @Test func fineTuningAnotherShapeNamesTheLayerAndWritesNothing() throws {
        let work = TemporaryDirectory()
        try work.write("corpus.txt", Self.corpus())
        // No validation windows: the final evaluation is skipped, not a NaN.
        let pre = try Fmctl.run(Self.trainArguments("pre", corpus: "corpus.txt", extra: ["--epochs", "1", "--steps-per-epoch", "2",
                                                                                          "--validation-split", "0"]),
                                in: work.path, timeout: 300)
        expectSuccess(pre)
        #expect(pre.stdout.contains("the final evaluation is skipped"), "\(pre.stdout)")
        #expect(!pre.stdout.contains("nan"), "\(pre.stdout)")
        #expect(try work.json("pre/run.json")["status"] as? String == "completed")
        // Context 32: the position embedding has 32 rows, the checkpoint's 16.
        var arguments = Self.trainArguments("fine", corpus: "corpus.txt", extra: ["--init-from", "pre"])
        arguments[arguments.firstIndex(of: "16")!] = "32"
        let r = try Fmctl.run(arguments, in: work.path, timeout: 120)
        #expect(r.status == 65, "\(r)")
        #expect(r.stderrLines.count == 1 && r.stderr.contains("position_embedding"), "\(r.stderr)")
        #expect(!work.exists("fine"))
        let freeze = try Fmctl.run(Self.trainArguments("f2", corpus: "corpus.txt", extra: ["--init-from", "pre", "--freeze", "nope"]),
                                   in: work.path, timeout: 120)
        #expect(freeze.status == 64 && freeze.stderr.contains("nope"), "\(freeze)")
        #expect(!work.exists("f2"))
    }

    /// A text run interrupted and resumed ends with the uninterrupted run's checkpoint, byte for
    /// byte: the windows, the masks and the schedule continue where they stopped.
    @Test func interruptedThenResumed_matchesUninterrupted() throws {
        let work = TemporaryDirectory()
        try work.write("corpus.txt", Self.corpus())
        let args = ["train", "--model", "bert-mini", "--dataset", "text:corpus.txt", "--context", "16", "--batch-size", "8",
                    "--steps-per-epoch", "400", "--epochs", "2", "--threads", "1", "--seed", "2", "--optimizer", "adamw",
                    "--lr-schedule", "cosine", "--warmup-steps", "10", "--clip-norm", "1", "--no-footprint"]
        try expectResumeMatchesUninterrupted(args, in: work)
    }

    @Test func bertMini_learnsMaskedBytesAndCannotGenerate() throws {
        let work = TemporaryDirectory()
        try work.write("corpus.txt", Self.corpus())
        var arguments = Self.trainArguments("bert", corpus: "corpus.txt")
        arguments[arguments.firstIndex(of: "gpt-mini")!] = "bert-mini"
        let train = try Fmctl.run(arguments, in: work.path, timeout: 300)
        expectSuccess(train)
        #expect(train.stdout.contains("(masked-lm)"), "\(train.stdout)")
        let epochs = try work.json("bert/run.json")["epochs"] as? [[String: Any]] ?? []
        #expect((epochs.last?["val_loss"] as? Double ?? 99) < 4.5, "\(epochs)")
        let generate = try Fmctl.run(["generate", "bert", "--prompt", "x", "--tokens", "5"], in: work.path)
        #expect(generate.status == 65 && generate.stderr.contains("both directions"), "\(generate)")
    }

    @Test func badTextIsOneLineAndWritesNothing() throws {
        let work = TemporaryDirectory()
        try work.write("empty.txt", "")
        try work.write("short.txt", "too short")
        let cases: [(String, Int32, String)] = [
            ("text:empty.txt", 65, "empty.txt"), ("text:short.txt", 65, "shorter than one window"),
            ("text:missing.txt", 66, "missing.txt"), ("text:", 64, "--dataset"),
        ]
        for (dataset, code, text) in cases {
            let r = try Fmctl.run(["train", "--model", "gpt-mini", "--dataset", dataset, "--run-dir", "run", "--threads", "1"], in: work.path)
            #expect(r.status == code, "\(dataset): \(r)")
            #expect(r.stderrLines.count == 1 && r.stderr.contains(text), "\(dataset): \(r.stderr)")
            #expect(!work.exists("run"))
        }
        let context = try Fmctl.run(["train", "--model", "cnn", "--context", "32"], in: work.path)
        #expect(context.status == 64 && context.stderr.contains("--context"), "\(context)")
        let objective = try Fmctl.run(["train", "--objective", "masked-lm", "--run-dir", "run"], in: work.path)
        #expect(objective.status == 64 && objective.stderr.contains("--objective"), "\(objective)")
        #expect(!work.exists("run"))
    }
}
