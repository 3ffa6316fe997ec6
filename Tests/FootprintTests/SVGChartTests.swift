import Foundation
import Testing
@testable import Footprint
@testable import RunRecords
@testable import Reports

@Suite struct SVGChartTests {
    @Test func niceScale_ticksAtOneTwoFive() {
        let scale = NiceScale(lower: 0, upper: 97)
        #expect(scale.ticks == [0, 20, 40, 60, 80, 100])
        #expect(scale.ticks.map(scale.label) == ["0", "20", "40", "60", "80", "100"])
        let small = NiceScale(lower: 0, upper: 0.0037)
        #expect(abs(small.step - 0.001) < 1e-15 && abs(small.upper - 0.004) < 1e-15)
        #expect(small.label(small.ticks[3]) == "0.003")
        let accuracy = NiceScale(lower: 78.1, upper: 82.4)
        #expect(accuracy.lower == 78 && accuracy.upper == 83 && accuracy.step == 1)
        let flat = NiceScale(lower: 5, upper: 5)
        #expect(flat.lower < 5 && flat.upper > 5)
        #expect(NiceScale(lower: 0, upper: 2, minimumStep: 1).ticks == [0, 1, 2])
        #expect(NiceScale(lower: -1e-17, upper: 1).label(-1e-17) == "0.0")
    }

    @Test func scaledUnit_keepsTheLargestValueReadable() {
        #expect(ScaledUnit.pick(forMaximum: 950, from: ScaledUnit.joules).name == "J")
        #expect(ScaledUnit.pick(forMaximum: 12_000, from: ScaledUnit.joules).name == "kJ")
        #expect(ScaledUnit.pick(forMaximum: 0.0015, from: ScaledUnit.grams).name == "mg")
        #expect(ScaledUnit.pick(forMaximum: 0.5, from: ScaledUnit.joules).name == "J")   // nothing smaller
    }

    @Test func xmlText_escapesMarkupAndDropsControlCharacters() {
        #expect(XMLText.escape("a<b>&\"c'") == "a&lt;b&gt;&amp;&quot;c&#39;")
        #expect(XMLText.escape("x\u{01}y\tz") == "xy\tz")
    }

    @Test func stackedBars_stackInSeriesOrderWithDistinctFills() {
        let frame = ChartFrame(id: "t", title: "T & co", xLabel: "epoch", yLabel: "energy (J)")
        let svg = SVGChart.stackedBars(frame, categories: ["1", "2"],
                                       series: [BarSeries(name: "a", values: [30, 60]), BarSeries(name: "b", values: [10, nil])])
        let parsed = XMLElements(svg)
        #expect(parsed.wellFormed)
        let bars = parsed.all("rect", className: "bar")
        #expect(bars.count == 3)
        let a1 = bars[0], b1 = bars[1]
        // b sits on top of a: its bottom edge is a's top edge.
        #expect(abs(Double(b1["y"]!)! + Double(b1["height"]!)! - Double(a1["y"]!)!) < 0.02)
        #expect(abs(Double(b1["height"]!)! * 3 - Double(a1["height"]!)!) < 0.05)
        #expect(a1["fill"] != b1["fill"])
        #expect(svg.contains("T &amp; co"))
    }

    @Test func lines_distinguishSeriesWithoutColour() {
        let frame = ChartFrame(id: "l", title: "L", xLabel: "x (s)", yLabel: "y (W)")
        let svg = SVGChart.lines(frame, series: [
            LineSeries(name: "one", points: [ChartPoint(x: 0, y: 1), ChartPoint(x: 1, y: 2)], marker: .circle, dash: 0),
            LineSeries(name: "two", points: [ChartPoint(x: 0, y: 2), ChartPoint(x: 1, y: 1, low: 0.5, high: 1.5, label: "p")],
                       marker: .square, dash: 1),
        ], references: [ReferenceLine(name: "goal", y: 1.8)])
        let parsed = XMLElements(svg)
        #expect(parsed.wellFormed)
        let paths = parsed.all("path", className: "series")
        #expect(paths.count == 2)
        #expect(paths[0]["stroke-dasharray"] == nil && paths[1]["stroke-dasharray"] != nil)
        #expect(parsed.all("circle", className: "marker").count == 2 && parsed.all("rect", className: "marker").count == 2)
        #expect(parsed.all("path", className: "range").count == 1)
        #expect(parsed.all("text", className: "point-label").count == 1)
        #expect(parsed.all("text", className: "legend").count == 3)
    }
}

@Suite struct SparklineTests {
    @Test func levels_scaleWithTheValues() {
        #expect(Sparkline.render([1, 2, 3, 4, 5, 6, 7, 8]) == "▁▂▃▄▅▆▇█")
        #expect(Sparkline.render([10, 40, 20]) == "▁█▃")
        #expect(Sparkline.render([3, nil, 3]) == "▄ ▄")
        #expect(Sparkline.render([]) == "")
    }

    @Test func report_showsPowerPerEpoch() {
        // 1000 J / 10 s = 100 W, 2000 J = 200 W, 1500 J = 150 W.
        let record = ReportFixtures.run(epochJoules: [1000, 2000, 1500])
        #expect(Sparkline.epochPower(record.epochs) == "▁█▅ 100-200 W")
        let table = RunReport.render(record, format: .table)
        #expect(table.contains("power per epoch (avg): ▁█▅ 100-200 W"))
        var unmeasured = record
        unmeasured.epochs = record.epochs.map { EpochRecord(epoch: $0.epoch, durationSeconds: 1) }
        #expect(Sparkline.epochPower(unmeasured.epochs) == nil)
    }
}

@Suite struct CarbonEquivalentTests {
    @Test func factors_matchTheirCitations() {
        // 3.93 x 10^-4 t/mile = 393 g per 1.609344 km.
        #expect(abs(CarbonEquivalent.carKilometres.amount(co2eGrams: 393) - 1.609344) < 1e-9)
        #expect(CarbonEquivalent.smartphoneCharges.amount(co2eGrams: 124) == 10)
        #expect(CarbonEquivalent.all.allSatisfy { $0.citation.contains("US EPA") })
    }
}
