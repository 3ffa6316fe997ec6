import Foundation
import Testing

/// `fmctl footprint project` run as a user runs it: every format, `--from-run` on a run the
/// binary trained, and one-line errors with their exit codes.
@Suite struct ProjectEndToEndTests {
    /// GPT-3 as Patterson et al. 2021, Table 4 gives it: 10,000 V100s for 14.8 days at 330 W,
    /// PUE 1.10, 429 g/kWh (1,287 MWh and 552.1 tCO2e published).
    static let gpt3 = ["footprint", "project", "--params", "175e9", "--tokens", "300e9", "--accelerator", "v100",
                       "--count", "10000", "--days", "14.8", "--avg-power-w", "330", "--pue", "1.10", "--carbon-intensity", "429",
                       "--price-per-kwh", "0.1", "--currency", "USD"]

    @Test func json_gpt3() throws {
        let work = TemporaryDirectory()
        let result = try Fmctl.run(Self.gpt3 + ["--format", "json"], in: work.path)
        expectSuccess(result)
        let json = try jsonObject(Data(result.stdout.utf8))
        let training = try #require(json["training"] as? [String: Any])
        for key in ["flops", "days", "accelerator_hours", "energy_mwh", "co2e_t", "energy_cost", "compute_cost"] {
            #expect(training.keys.contains(key), "training.\(key)")
        }
        let mwh = try #require(training["energy_mwh"] as? Double), tonnes = try #require(training["co2e_t"] as? Double)
        #expect(abs(mwh - 1287) / 1287 < 0.02 && abs(tonnes - 552.1) / 552.1 < 0.02, "\(mwh) MWh, \(tonnes) t")
        #expect(abs((training["energy_cost"] as? Double ?? 0) - mwh * 1000 * 0.1) < 1e-6 * mwh * 100)
        #expect(training["compute_cost"] is NSNull)
        let inputs = try #require(json["inputs"] as? [String: [String: Any]])
        #expect(inputs["avg_power_w"]?["source"] as? String == "given")
        #expect((inputs["peak_flops_per_s"]?["source"] as? String)?.contains("V100") == true)
        #expect(inputs["flops"]?["origin"] as? String == "derived")
        #expect(result.stderr.isEmpty, "\(result.stderr)")
    }

    /// Table, Markdown and HTML carry the same sections; HTML is one self-contained page;
    /// `-o` writes the file and says so on stderr.
    @Test func table_markdown_html() throws {
        let work = TemporaryDirectory()
        let inference = ["--inference-tokens-per-day", "1e9..2e9", "--mfu", "0.2..0.4"]
        let table = try Fmctl.run(Self.gpt3 + inference, in: work.path)
        expectSuccess(table)
        for text in ["Projection: 10,000 x v100", "\nTraining\n", "\nInference\n", "\nInputs\n", "assumed", "catalogue",
                     "Every origin but 'given' is an assumption"] {
            #expect(table.stdout.contains(text), "\(text): \(table.stdout)")
        }
        let markdown = try Fmctl.run(Self.gpt3 + inference + ["--format", "markdown"], in: work.path)
        expectSuccess(markdown)
        #expect(markdown.stdout.hasPrefix("# Projection") && markdown.stdout.contains("## Inference"))
        let html = try Fmctl.run(Self.gpt3 + inference + ["--format", "html", "-o", "projection.html"], in: work.path)
        expectSuccess(html)
        #expect(html.stdout.isEmpty && html.stderr.contains("wrote projection.html"))
        let page = try work.text("projection.html")
        #expect(page.hasPrefix("<!DOCTYPE html>") && page.contains("<h2>Training</h2>") && page.contains("<h2>Inputs</h2>"))
        for forbidden in ["<script", "http://", "https://"] { #expect(!page.contains(forbidden), "\(forbidden)") }
    }

    /// A run the binary trains: `--from-run` projects at its FLOPs per second and per joule and
    /// lists the catalogue's FLOPs per joule beside this machine's.
    @Test func fromRun_onATrainedRun() throws {
        let work = TemporaryDirectory()
        try Datasets.synthetic(in: work.file("data"))
        expectSuccess(try Fmctl.run(["train", "--model", "mlp", "--dataset", "data", "--epochs", "1", "--threads", "1",
                                     "--run-dir", "run"], in: work.path))
        let total = try #require(try work.json("run/run.json")["total"] as? [String: Any])
        let flops = try #require(total["flops"] as? Double), joules = try #require(total["energy_j"] as? Double)
        let seconds = try #require(total["duration_s"] as? Double)

        let json = try Fmctl.run(["footprint", "project", "--from-run", "run", "--params", "1e9", "--tokens", "2e10",
                                  "--format", "json"], in: work.path)
        expectSuccess(json)
        let object = try jsonObject(Data(json.stdout.utf8))
        let rows = try #require(object["efficiency"] as? [[String: Any]])
        #expect(rows.first?["name"] as? String == "this machine")
        let here = try #require(rows.first?["flops_per_joule"] as? Double)
        #expect(abs(here - flops / joules) / (flops / joules) < 1e-9)
        #expect(Set(rows.dropFirst().compactMap { $0["name"] as? String }).isSuperset(of: ["v100", "h100-sxm", "tpu-v4", "epyc-7763"]))
        let training = try #require(object["training"] as? [String: Any])
        let hours = try #require(training["accelerator_hours"] as? Double)
        #expect(abs(hours - 1.2e20 / (flops / seconds) / 3600) / hours < 1e-9)

        let table = try Fmctl.run(["footprint", "project", "--from-run", "run"], in: work.path)
        expectSuccess(table)
        #expect(table.stdout.contains("FLOPs per joule: this machine beside the catalogue"))
        #expect(table.stdout.split(separator: "\n").contains { $0.hasPrefix("this machine") })
        // The run measured the hardware: naming an accelerator as well contradicts it.
        expectUserError(try Fmctl.run(["footprint", "project", "--from-run", "run", "--accelerator", "v100"], in: work.path),
                        exitCode: 64, mentions: "--from-run and --accelerator")
    }

    /// Bad input: one line naming the option, exit 64 (usage), 65 (a run without energy), 66 (no run).
    @Test(arguments: [
        (["--flops", "1e21", "--accelerator", "x100"], "--accelerator", Int32(64)),
        (["--flops", "1e21", "--accelerator", "v100", "--count", "0"], "--count", 64),
        (["--flops", "-1e21", "--accelerator", "v100"], "--flops", 64),
        (["--flops", "1e21", "--accelerator", "v100", "--mfu", "0.5..0.2"], "--mfu", 64),
        (["--flops", "1e21", "--accelerator", "v100", "--pue", "0.5"], "--pue", 64),
        (["--flops", "1e21", "--params", "1e9", "--tokens", "1e10", "--accelerator", "v100"], "--flops and --params", 64),
        (["--params", "1e9", "--accelerator", "v100"], "--params", 64),
        (["--flops", "1e21"], "--accelerator", 64),
        (["--flops", "1e21", "--accelerator", "tpu-v3", "--precision", "fp32"], "--precision", 64),
        (["--flops", "1e21", "--accelerator", "v100", "--region", "XYZ"], "--region", 64),
        (["--flops", "1e21", "--accelerator", "v100", "--format", "pdf"], "--format", 64),
        (["--from-run", "no-such-run", "--flops", "1e21"], "no-such-run", 66),
    ])
    func badInput_isOneLine(_ options: [String], _ mentions: String, _ exitCode: Int32) throws {
        let work = TemporaryDirectory()
        expectUserError(try Fmctl.run(["footprint", "project"] + options, in: work.path), exitCode: exitCode, mentions: mentions)
    }

    /// A run with no measured energy (`--no-footprint`) has no FLOPs per joule: bad data, 65.
    @Test func fromRun_withoutEnergy_isBadData() throws {
        let work = TemporaryDirectory()
        try Datasets.synthetic(in: work.file("data"))
        expectSuccess(try Fmctl.run(["train", "--model", "mlp", "--dataset", "data", "--epochs", "1", "--threads", "1",
                                     "--run-dir", "run", "--no-footprint"], in: work.path))
        expectUserError(try Fmctl.run(["footprint", "project", "--from-run", "run", "--flops", "1e21"], in: work.path),
                        exitCode: 65, mentions: "run/run.json")
    }
}
