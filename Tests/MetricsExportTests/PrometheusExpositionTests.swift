import Testing
@testable import MetricsExport

/// The text format as swift-prometheus writes it, read back as a scraper reads it.
@Suite struct PrometheusExpositionTests {
    func family(_ name: String, _ kind: MetricFamily.Kind, _ values: [Double], runID: String = "r1") -> MetricFamily {
        MetricFamily(name: name, help: "Help of \(name).", kind: kind, samples: values.enumerated().map {
            MetricSample(labels: [MetricLabel("run_id", runID), MetricLabel("domain", "d\($0.offset)")], value: $0.element)
        })
    }

    @Test func render_writesHelpTypeAndOneLinePerSeries_inTheFamiliesOrder() {
        let families = [family("fmctl_b_total", .counter, [1.5, 2]), family("fmctl_a", .gauge, [0.25]), family("fmctl_c", .gauge, [-3])]
        let text = String(decoding: PrometheusExposition.render(families), as: UTF8.self)
        let parsed = PrometheusText(text)
        #expect(parsed.unreadable.isEmpty, "\(text)")
        #expect(parsed.types == ["fmctl_b_total": "counter", "fmctl_a": "gauge", "fmctl_c": "gauge"])
        #expect(parsed.help["fmctl_a"] == "Help of fmctl_a.")
        #expect(parsed.value("fmctl_b_total", ["run_id": "r1", "domain": "d0"]) == 1.5)
        #expect(parsed.value("fmctl_b_total", ["domain": "d1"]) == 2)
        #expect(parsed.value("fmctl_c") == -3)
        let typeLines = text.split(separator: "\n").filter { $0.hasPrefix("# TYPE") }.map { $0.split(separator: " ")[2] }
        #expect(typeLines == ["fmctl_b_total", "fmctl_a", "fmctl_c"])
    }

    /// A run folder's name may hold any character but `/`: quotes, backslashes and line feeds
    /// in a label value are escaped, so the series still reads back whole.
    @Test func render_escapesLabelValues() {
        let id = "odd \"run\" \\ with\nnewline é"
        let parsed = PrometheusText(String(decoding: PrometheusExposition.render([family("fmctl_x", .gauge, [7], runID: id)]), as: UTF8.self))
        #expect(parsed.unreadable.isEmpty)
        #expect(parsed.value("fmctl_x", ["run_id": id]) == 7)
    }

    /// NaN, infinities and a negative counter cannot be a counter's reading, nor a useful gauge's:
    /// they are left out, and a family left without series is not written at all.
    @Test func render_leavesOutNonFiniteValuesAndNegativeCounters() {
        let text = String(decoding: PrometheusExposition.render([
            family("fmctl_loss", .gauge, [.nan, 0.5, .infinity]),
            family("fmctl_j_total", .counter, [-1, 3]),
            family("fmctl_gone_total", .counter, [-.infinity]),
        ]), as: UTF8.self)
        let parsed = PrometheusText(text)
        #expect(parsed.series("fmctl_loss").map(\.value) == [0.5])
        #expect(parsed.series("fmctl_j_total").map(\.value) == [3])
        #expect(!text.contains("fmctl_gone_total"))
        #expect(!text.lowercased().contains("nan") && !text.lowercased().contains("inf"))
    }
}
