import Foundation
import Testing
@testable import Footprint
@testable import RunRecords
@testable import Reports

@Suite struct HTMLReportTests {
    let power = PowerTimeline.parse(csv: ReportFixtures.powerCSV)

    @Test func everyChart_isWellFormedSVG() {
        let html = HTMLReport.render(ReportFixtures.run(), power: power)
        let svgs = XMLElements.svgs(in: html)
        #expect(svgs.count == 5)
        for svg in svgs {
            let parsed = XMLElements(svg)
            #expect(parsed.wellFormed, "\(parsed.error ?? "") in \(svg.prefix(200))")
            #expect(parsed.elements.first?.name == "svg")
            // Title and both axis labels, the legend entries: text a reader needs.
            #expect(parsed.all("text", className: "chart-title").count == 1)
            #expect(parsed.all("text", className: "axis-label").count == 2)
            #expect(!parsed.all("text", className: "legend").isEmpty)
        }
    }

    @Test func wholePage_parsesAsXML() {
        // The page is written XHTML-style (closed empty elements, escaped text), so an XML
        // parser reads it whole: no stray '<' or '&' from a run's strings.
        let record = ReportFixtures.run(model: "cnn <b>\"&'</b>", warnings: ["<script>alert(1)</script> & more"])
        let html = HTMLReport.render(record, power: power)
        let parsed = XMLElements(html)
        #expect(parsed.wellFormed, "\(parsed.error ?? "")")
        #expect(parsed.all("script").isEmpty)
        #expect(html.contains("cnn &lt;b&gt;&quot;&amp;&#39;&lt;/b&gt;"))
        #expect(parsed.texts.joined().contains("<script>alert(1)</script> & more"))
    }

    @Test func page_hasNoExternalReference() {
        let html = HTMLReport.render(ReportFixtures.run(), power: power)
            + RunComparison(records: [ReportFixtures.run(), ReportFixtures.run(id: "run-2", model: "mlp")]).render(format: .html)
        for forbidden in ["http:", "https:", "//", "src=", "href=", "@import", "<script", "<link", "<img", "<iframe", "@font-face"] {
            #expect(!html.contains(forbidden), "found \(forbidden)")
        }
        // url(...) only to the chart's own patterns (or data:), never to a file or server.
        var rest = html[...]
        var count = 0
        while let range = rest.range(of: "url(") {
            let target = rest[range.upperBound...].prefix(5)
            #expect(target.hasPrefix("#") || target.hasPrefix("data:"), "url(\(target)")
            rest = rest[range.upperBound...]
            count += 1
        }
        #expect(count > 0)
    }

    @Test func summaryAndProvenance_showTheRunsFigures() {
        let record = ReportFixtures.run()
        let html = HTMLReport.render(record, power: power)
        #expect(html.contains(">\(RunReport.figure(3300)) J<"))
        #expect(html.contains(RunReport.figure(record.total.energyKWh) + " kWh"))
        #expect(html.contains(RunReport.figure(record.total.co2eGrams) + " g"))
        #expect(html.contains("86.00 %"))
        for text in ["rapl", "package-0 + dram-0", "0.5 s", "test grid, year 2023", ">1.5<", "a warning", "learning_rate 0.001",
                     "US EPA Greenhouse Gas Equivalencies Calculator"] {
            #expect(html.contains(text), "missing \(text)")
        }
        #expect(!html.contains("0.00100000"))
    }

    @Test func barHeights_followEpochEnergy() throws {
        func trainBars(_ record: RunRecord) -> [String: Double] {
            let parsed = XMLElements(HTMLReport.energyByPhase(record))
            var heights: [String: Double] = [:]
            for bar in parsed.all("rect", className: "bar") where bar["data-series"] == "train" {
                heights[bar["data-category"]!] = Double(bar["height"]!)!
            }
            return heights
        }
        let before = trainBars(ReportFixtures.run(epochJoules: [1000, 2000, 1500]))
        let after = trainBars(ReportFixtures.run(epochJoules: [1500, 2000, 1500]))
        #expect(before.count == 3)
        // The axis (0 to 2000 J) stays; epoch 1's bar grows by its energy, the others stay put.
        #expect(abs(after["1"]! / before["1"]! - 1.5) < 0.01)
        #expect(after["2"] == before["2"] && after["3"] == before["3"])
        #expect(abs(before["2"]! / before["1"]! - 2) < 0.01)
    }

    @Test func barValues_areTheRunsJoules() {
        let svg = HTMLReport.energyByDomain(ReportFixtures.run(epochJoules: [1000, 1200]))
        let parsed = XMLElements(svg)
        let bars = parsed.all("rect", className: "bar")
        // package-0 and dram-0 per epoch; core-0 is a breakdown inside the package, not stacked.
        #expect(bars.count == 4)
        #expect(Set(bars.compactMap { $0["data-series"] }) == ["package-0", "dram-0"])
        let package2 = bars.first { $0["data-series"] == "package-0" && $0["data-category"] == "2" }
        #expect(package2?["data-value"] == "0.96" && svg.contains("energy (kJ)"))   // 960 J
        #expect(HTMLReport.energyByDomain(ReportFixtures.run(epochJoules: [1000, 1_200_000])).contains("energy (MJ)"))
    }

    @Test func accuracyChart_placesEpochsAtCumulativeCO2e() {
        let record = ReportFixtures.run(epochJoules: [3.6e6, 3.6e6], accuracies: [0.80, 0.90])   // 1 kWh -> 600 g each
        let svg = HTMLReport.accuracyAgainstCarbon(record)
        let parsed = XMLElements(svg)
        let validation = parsed.all("rect", className: "marker").filter { $0["data-series"] == "validation accuracy" }
        #expect(svg.contains("cumulative CO2e (kg)"))
        #expect(validation.map { $0["data-x"] } == ["0.6", "1.2"])
        #expect(validation.map { $0["data-y"] } == ["80", "90"])
        let test = parsed.all("path", className: "marker").filter { $0["data-series"] == "test accuracy (run total)" }
        #expect(test.first?["data-y"] == "86")
    }

    /// CO2e but no accuracy at all (a run without validation or test): a note, not empty axes.
    @Test func accuracyChart_withoutAccuracies_isANote() {
        var record = ReportFixtures.run(testAccuracy: nil)
        record.epochs = record.epochs.map { epoch in
            var epoch = epoch
            epoch.trainAccuracy = nil
            epoch.valAccuracy = nil
            return epoch
        }
        let svg = HTMLReport.accuracyAgainstCarbon(record)
        #expect(svg.contains("no accuracy to set against it"))
        #expect(XMLElements(svg).all("path", className: "series").isEmpty)
    }

    @Test func configValues_keepWholeNumbersWhole() {
        #expect(HTMLReport.configValue(.number(1_234_567)) == "1234567")
        #expect(HTMLReport.configValue(.number(Double(Float(0.001)))) == "0.001")
        #expect(HTMLReport.configValue(.number(0.1)) == "0.1")
        #expect(HTMLReport.configValue(.number(-3)) == "-3")
    }

    @Test func forecastChart_showsRangesAndTheActualTotal() {
        let record = ReportFixtures.run(epochJoules: [3600, 4680, 3960])   // 1, 1.3, 1.1 Wh
        let parsed = XMLElements(HTMLReport.forecastAgainstActual(record))
        let ranges = parsed.all("path", className: "range")
        #expect(ranges.count == 3)
        // After epoch 1: 1 Wh + 2 x [0.9, 1.1] Wh.
        #expect(ranges.first?["data-low"] == "2.8" && ranges.first?["data-high"] == "3.2")
        #expect(parsed.all("line", className: "reference").first?["data-value"] == "3.4")
        #expect(HTMLReport.forecastAgainstActual(record).contains("whole-run energy (Wh)"))
    }

    @Test func powerChart_drawsEverySampleAndSkipsMissingReadings() {
        let parsed = XMLElements(HTMLReport.powerTimeline(power, record: ReportFixtures.run()))
        let lines = parsed.all("path", className: "series")
        let points = Dictionary(uniqueKeysWithValues: lines.map { ($0["data-series"]!, $0["d"]!.filter { $0 == "L" }.count + 1) })
        #expect(points == ["total (summed domains)": 3, "package-0": 4, "dram-0": 3])
        #expect(HTMLReport.powerTimeline(nil, record: ReportFixtures.run()).contains("No power.csv"))
    }

    @Test func unmeasuredRun_rendersNotesInsteadOfCharts() {
        var record = ReportFixtures.run()
        record.measurement = nil
        record.epochs = record.epochs.map { EpochRecord(epoch: $0.epoch, durationSeconds: $0.durationSeconds, metrics: $0.metrics) }
        record.total = RunTotal(epochs: record.epochs, carbon: record.carbon)
        let html = HTMLReport.render(record)
        #expect(XMLElements(html).wellFormed)
        #expect(html.contains("No energy was measured."))
        #expect(html.contains("not measured (--no-footprint)"))
    }

    @Test func renderDispatch_givesHTMLForTheHTMLFormat() {
        #expect(RunReport.render(ReportFixtures.run(), format: .html).hasPrefix("<!DOCTYPE html>"))
    }
}
