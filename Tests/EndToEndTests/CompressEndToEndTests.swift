import Foundation
import Testing

/// `fmctl compress` on a tiny run of a synthetic data set (docs/compress.md).
@Suite struct CompressEndToEndTests {
    let work = TemporaryDirectory()

    func trainTinyRun(model: String = "mlp") throws {
        try Datasets.synthetic(in: work.file("data"), train: 300, test: 60)
        let train = try Fmctl.run(["train", "--model", model, "--dataset", "data", "--epochs", "2", "--threads", "1",
                                   "--run-dir", "run", "--no-footprint"], in: work.path, timeout: 120)
        expectSuccess(train)
    }

    @Test func writesLoadableVariantsAndTheirReport() throws {
        try trainTinyRun()
        let result = try Fmctl.run(["compress", "run", "--prune", "0.5", "--int8", "--low-rank", "8,auto", "--format", "json",
                                    "-o", "report.json", "--measure-seconds", "0", "--threads", "1"], in: work.path, timeout: 300)
        expectSuccess(result)
        let report = try jsonObject(Data(contentsOf: URL(fileURLWithPath: work.file("report.json"))))
        let baseline = try #require(report["baseline"] as? [String: Any])
        let variants = try #require(report["variants"] as? [[String: Any]])
        let keys = ["name", "method", "accuracy", "loss", "size_bytes", "parameters", "nonzero_parameters", "latency_ms_batch1",
                    "images_per_s", "inference_j_per_image", "compression_energy_j", "path"]
        for v in [baseline] + variants { for key in keys { #expect(v[key] != nil, "\(key) in \(v["name"] ?? "?")") } }
        #expect(baseline["method"] as? String == "float")
        let names = variants.compactMap { $0["name"] as? String }
        #expect(names.count == 4 && names.contains("prune-0.5") && names.contains("int8") && names.contains("low-rank-8"))
        #expect(names.contains { $0.hasPrefix("low-rank-") && $0.hasSuffix("-auto") })
        #expect(variants.map { $0["method"] as? String } .contains("low-rank"))
        let byName = Dictionary(uniqueKeysWithValues: variants.map { ($0["name"] as! String, $0) })
        let floatSize = try #require(baseline["size_bytes"] as? Double)
        #expect(try #require(byName["int8"]?["size_bytes"] as? Double) < 0.3 * floatSize)
        let pruned = try #require(byName["prune-0.5"])
        #expect(try #require(pruned["nonzero_parameters"] as? Double) < 0.6 * (try #require(pruned["parameters"] as? Double)))
        #expect(try #require(byName["low-rank-8"]?["parameters"] as? Double) < (try #require(baseline["parameters"] as? Double)) / 3)
        #expect(try #require(byName["int8"]?["inference_j_per_image"] as? Double) > 0)
        #expect(try #require(pruned["compression_energy_j"] as? Double) > 0)

        // Every variant folder is a loadable model for evaluate, summary and compress itself.
        for name in ["float", "prune-0.5", "int8", "low-rank-8"] { #expect(work.exists("run/compressed/\(name)/model.safetensors")) }
        let evaluate = try Fmctl.run(["evaluate", "run/compressed/int8", "--dataset", "data", "--threads", "1"], in: work.path)
        expectSuccess(evaluate)
        #expect(evaluate.stdout.contains("accuracy"))
        let summary = try Fmctl.run(["summary", "--model", "run/compressed/low-rank-8/model.safetensors"], in: work.path)
        expectSuccess(summary)
        #expect(summary.stdout.contains("LowRankDense"))
        let again = try Fmctl.run(["compress", "run/compressed/prune-0.5", "--int8", "--measure-seconds", "0", "--threads", "1",
                                   "--format", "markdown"], in: work.path, timeout: 120)
        expectSuccess(again)
        #expect(again.stdout.contains("| int8"))
        #expect(work.exists("run/compressed/prune-0.5/compressed/int8/model.safetensors"))

        let html = try Fmctl.run(["compress", "run", "--int8", "--measure-seconds", "0", "--threads", "1", "--format", "html",
                                  "-o", "report.html"], in: work.path, timeout: 120)
        expectSuccess(html)
        let page = try String(contentsOfFile: work.file("report.html"), encoding: .utf8)
        #expect(page.contains("<svg") && page.contains("Pareto"))
    }

    @Test func badInputIsOneLineAndWritesNothing() throws {
        try trainTinyRun()
        try FileManager.default.createDirectory(atPath: work.file("empty"), withIntermediateDirectories: true)
        expectUserError(try Fmctl.run(["compress", "empty", "--int8"], in: work.path), exitCode: 66, mentions: "model.safetensors")
        expectUserError(try Fmctl.run(["compress", "run", "--prune", "1.5"], in: work.path), exitCode: 64, mentions: "--prune")
        expectUserError(try Fmctl.run(["compress", "run", "--prune", "0"], in: work.path), exitCode: 64, mentions: "(0, 1)")
        expectUserError(try Fmctl.run(["compress", "run", "--low-rank", "500"], in: work.path), exitCode: 64, mentions: "min(m, n)")
        expectUserError(try Fmctl.run(["compress", "run"], in: work.path), exitCode: 64, mentions: "--int8")
        // A report path whose folder does not exist: refused before any variant is written.
        expectUserError(try Fmctl.run(["compress", "run", "--int8", "-o", "missing/report.json"], in: work.path), exitCode: 74,
                        mentions: "missing/report.json")
        #expect(!work.exists("run/compressed"))

        // A model with no Dense layer: a convolution over the whole image, then softmax.
        let json = #"{"name": "nodense", "input_shape": [28, 28, 1], "layers": [{"type": "Conv2D", "filters": 10, "kernel_size": 28}, {"type": "Flatten"}, {"type": "Activation", "activation": "softmax"}]}"#
        try work.write("nodense.json", bytes: Array(json.utf8))
        let train = try Fmctl.run(["train", "--model", "nodense.json", "--dataset", "data", "--epochs", "1", "--threads", "1",
                                   "--run-dir", "conv", "--no-footprint"], in: work.path, timeout: 120)
        expectSuccess(train)
        expectUserError(try Fmctl.run(["compress", "conv", "--low-rank", "4"], in: work.path), exitCode: 64, mentions: "no Dense layer")
        #expect(!work.exists("conv/compressed"))
    }

    /// gpt-mini (a graph over sequences) in int8 (docs/compress.md, "Text models"): measured on
    /// the validation windows per token, loadable by evaluate and generate, and within 2 % of
    /// the float model's bits per byte (measured: 0.04 % on this corpus).
    @Test func int8GptMiniKeepsItsBitsPerByteAndGenerates() throws {
        try work.write("corpus.txt", String(TextEndToEndTests.corpus().prefix(20_000)))
        let train = try Fmctl.run(["train", "--model", "gpt-mini", "--dataset", "text:corpus.txt", "--context", "16", "--batch-size", "8",
                                   "--steps-per-epoch", "30", "--epochs", "1", "--threads", "1", "--run-dir", "pre", "--no-footprint"],
                                  in: work.path, timeout: 300)
        expectSuccess(train)
        let result = try Fmctl.run(["compress", "pre", "--int8", "--format", "json", "-o", "report.json", "--measure-seconds", "0",
                                    "--threads", "1"], in: work.path, timeout: 600)
        expectSuccess(result)
        let report = try jsonObject(Data(contentsOf: URL(fileURLWithPath: work.file("report.json"))))
        let baseline = try #require(report["baseline"] as? [String: Any])
        let variants = try #require(report["variants"] as? [[String: Any]])
        let int8 = try #require(variants.first { $0["name"] as? String == "int8" })
        for v in [baseline, int8] {
            for key in ["accuracy", "loss", "bits_per_byte", "size_bytes", "latency_ms_batch1", "tokens_per_s", "inference_j_per_token"] {
                #expect(v[key] != nil, "\(key) in \(v["name"] ?? "?")")
            }
            #expect(v["images_per_s"] == nil && v["inference_j_per_image"] == nil)
        }
        let floatBits = try #require(baseline["bits_per_byte"] as? Double), int8Bits = try #require(int8["bits_per_byte"] as? Double)
        #expect(abs(floatBits - (try #require(baseline["loss"] as? Double)) / log(2)) < 1e-9)
        #expect(abs(int8Bits - floatBits) <= 0.02 * floatBits, "int8 \(int8Bits) bits/byte against float \(floatBits)")
        #expect(try #require(int8["size_bytes"] as? Double) < 0.6 * (try #require(baseline["size_bytes"] as? Double)))
        let details = try #require(int8["details"] as? [String: Any])
        #expect((details["float layers"] as? String)?.contains("attention") == true)

        let evaluate = try Fmctl.run(["evaluate", "pre/compressed/int8", "--dataset", "text:corpus.txt", "--threads", "1"], in: work.path)
        expectSuccess(evaluate)
        #expect(evaluate.stdout.contains("bits/byte") && evaluate.stdout.contains("causal-lm"))
        let generate = try Fmctl.run(["generate", "pre/compressed/int8", "--prompt", "fortune", "--tokens", "20", "--temperature", "0",
                                      "--threads", "1"], in: work.path)
        expectSuccess(generate)
        #expect(generate.stdout.hasPrefix("fortune") && generate.stdout.utf8.count >= 20)

        // Pruning and low-rank are for image models: one line, exit 64, nothing more written.
        expectUserError(try Fmctl.run(["compress", "pre", "--prune", "0.5"], in: work.path), exitCode: 64, mentions: "image models only")
        expectUserError(try Fmctl.run(["compress", "pre", "--low-rank", "8"], in: work.path), exitCode: 64, mentions: "--int8")
        #expect(!work.exists("pre/compressed/prune-0.5"))
    }
}
