import Foundation
import Footprint
import Testing
@testable import Projection

@Suite struct ProjectionReportTests {
    static let gpt3: OptionValues = [(\.params, "175e9"), (\.tokens, "300e9"), (\.accelerator, "v100"), (\.count, "10000"),
                                     (\.mfu, "0.15..0.25"), (\.pricePerKWh, "0.1"), (\.currency, "USD")]

    @Test(arguments: [(0.0, "0"), (1287.6, "1,288"), (552.94, "552.9"), (14.8, "14.8"), (0.19644, "0.1964"), (3_552_000, "3,552,000"),
                      (826_135_755, "826,100,000"), (3.15e23, "3.15e23"), (1e9, "1e9"), (0.0004, "4e-4"), (300, "300"), (1.1, "1.1")])
    func figure_fourSignificantDigits(_ value: Double, _ expected: String) {
        #expect(ProjectionReport.figure(value) == expected)
    }

    @Test func figure_rangeAndNone() {
        #expect(ProjectionReport.figure(Interval(low: 11.5, high: 19.25)) == "11.5 - 19.25")
        #expect(ProjectionReport.figure(nil as Interval?) == "-")
    }

    /// The issue's keys under `training`; a range as low/high; every input with origin and source.
    @Test func json_trainingKeysAndInputs() throws {
        let json = ProjectionReport.json(try project(Self.gpt3))
        let training = try #require(json["training"])
        #expect(Array(training.keys.prefix(7)) == ["flops", "days", "accelerator_hours", "energy_mwh", "co2e_t", "energy_cost", "compute_cost"])
        #expect(training["flops"] == .number(3.15e23))
        guard case let .object(days)? = training["days"] else { Issue.record("days is not a range"); return }
        #expect(days.map(\.0) == ["low", "high"])
        #expect(training["compute_cost"] == .null)
        #expect(json["inference"] == .null && json["efficiency"] == .null)
        let inputs = try #require(json["inputs"])
        for key in ["params", "tokens", "flops", "accelerator", "peak_flops_per_s", "precision", "mfu", "count", "avg_power_w", "pue",
                    "carbon_intensity_g_per_kwh", "price_per_kwh", "currency"] {
            let input = try #require(inputs[key], "inputs.\(key)")
            #expect(input.keys == ["value", "unit", "origin", "source"], "\(key)")
        }
        #expect(inputs["params"]?["source"] == "given")
        #expect(inputs["mfu"]?["origin"] == "given")
        #expect(inputs["pue"]?["origin"] == "assumed")
        #expect(inputs["flops"]?["origin"] == "derived")
        #expect(inputs["avg_power_w"]?["origin"] == "catalogue")
        // The text parses as JSON.
        let text = ProjectionReport.render(try project(Self.gpt3), format: .json)
        #expect(try JSONSerialization.jsonObject(with: Data(text.utf8)) is [String: Any])
    }

    /// The table says which figures are assumptions: every input row has its origin.
    @Test func table_marksAssumptions() throws {
        let text = ProjectionReport.render(try project(Self.gpt3), format: .table)
        #expect(text.hasPrefix("Projection: 10,000 x v100"))
        for section in ["Training", "Inputs"] { #expect(text.contains("\n\(section)\n"), "\(section)") }
        let pue = try #require(text.split(separator: "\n").first { $0.hasPrefix("PUE") })
        #expect(pue.contains("assumed") && pue.contains("Patterson"))
        let mfu = try #require(text.split(separator: "\n").first { $0.hasPrefix("model FLOPs utilisation") })
        #expect(mfu.contains("0.15 - 0.25") && mfu.contains("given"))
        #expect(text.contains("Every origin but 'given' is an assumption"))
        #expect(!text.split(separator: "\n").contains { $0.hasSuffix(" ") }, "no trailing spaces")
    }

    @Test func markdown_andHTML() throws {
        let projection = try project(Self.gpt3 + [(\.inferenceTokensPerDay, "1e9")])
        let markdown = ProjectionReport.render(projection, format: .markdown)
        #expect(markdown.hasPrefix("# Projection"))
        #expect(markdown.contains("## Training") && markdown.contains("## Inference") && markdown.contains("| --- | ---: |"))
        let html = ProjectionReport.render(projection, format: .html)
        #expect(html.hasPrefix("<!DOCTYPE html>") && html.hasSuffix("</html>\n"))
        #expect(html.contains("<h2>Inference</h2>") && html.contains("class=\"assumed\""))
        for forbidden in ["<script", "http://", "https://", "src="] { #expect(!html.contains(forbidden), "\(forbidden)") }
    }

    /// `--from-run`: this machine's FLOP/J beside the catalogue's, with the ratio.
    @Test func fromRun_listsTheCatalogueBesideThisMachine() throws {
        let run = MeasuredRate(flops: 1e12, energyJoules: 10, durationSeconds: 2, label: "run r1 (mlp)")
        let text = ProjectionReport.render(try project([], measured: run), format: .table)
        #expect(text.contains("FLOPs per joule: this machine beside the catalogue"))
        let h100 = try #require(text.split(separator: "\n").first { $0.hasPrefix("h100-sxm") })
        // 989.5e12 FLOP/s x 0.3 / 700 W = 4.241e11 FLOP/J: 4.241 times this machine's 1e12 FLOPs / 10 J.
        #expect(h100.contains("4.241e11") && h100.contains("4.241"))
        let json = ProjectionReport.json(try project([], measured: run))
        guard case let .array(rows)? = json["efficiency"] else { Issue.record("no efficiency"); return }
        #expect(rows.first?["name"] == "this machine" && rows.first?["flops_per_joule"] == .number(1e11))
        #expect(json["training"] == .null)
    }
}
