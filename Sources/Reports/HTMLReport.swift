import FMSupport
import Footprint
import Foundation
import RunRecords

/// `fmctl footprint report --format html`: one self-contained page (inline CSS and SVG, no
/// script, no font or image from anywhere) that opens from disk: summary figures, provenance,
/// charts of energy, power, accuracy against CO2e and forecasts, and cited equivalents.
public enum HTMLReport {
    public static func render(_ record: RunRecord, power: PowerTimeline? = nil) -> String {
        let title = "fmctl run \(record.runID): \(record.model)"
        var body = "<header><h1>Run \(escape(record.runID))</h1>\n<p class=\"subtitle\">model <b>\(escape(record.model))</b>"
            + (record.dataset.map { ", dataset <b>\(escape($0))</b>" } ?? "")
            + ", status <b>\(escape(record.status.rawValue))</b>" + (record.statusReason.map { " (\(escape($0)))" } ?? "")
            + ", started \(escape(record.startedAt))" + (record.endedAt.map { ", ended \(escape($0))" } ?? "") + "</p></header>\n"
        body += summary(record)
        if let pre = record.pretraining {
            // The pretraining run's own figures, beside this run's and not added to them.
            body += "<section><h2>Pretraining</h2>\n<pre class=\"pretraining\">"
                + escape(RunReport.pretrainingLines(pre, total: record.total, heading: "", bullet: "")) + "</pre></section>\n"
        }
        body += "<section><h2>Charts</h2>\n<div class=\"charts\">\n"
        for chart in charts(record, power: power) { body += "<figure>\(chart)</figure>\n" }
        body += "</div></section>\n"
        body += equivalents(record)
        body += provenance(record)
        body += epochTable(record)
        return HTMLPage.document(title: title, body: body)
    }

    // MARK: - Summary and provenance

    static func summary(_ record: RunRecord) -> String {
        let total = record.total
        let currency = record.carbon.currency.map { " " + $0 } ?? ""
        let cards: [(String, String, String)] = [
            ("Duration", HTMLPage.duration(total.durationSeconds), "\(record.epochs.count) epoch(s)"
                + (record.plannedEpochs.map { " of \($0) planned" } ?? "")),
            ("Energy", total.energyJoules.map { "\(RunReport.figure($0)) J" } ?? "not measured",
             total.energyKWh.map { "\(RunReport.figure($0)) kWh, avg \(RunReport.figure(RunReport.averagePower(total), 3)) W" } ?? ""),
            ("CO2e", total.co2eGrams.map { "\(RunReport.figure($0)) g" } ?? "-",
             "at \(RunReport.figure(record.carbon.intensityGramsPerKWh)) g/kWh, PUE \(RunReport.figure(record.carbon.pue, 3))"),
            ("Cost", total.cost.map { RunReport.figure($0) + currency } ?? "-",
             record.carbon.pricePerKWh.map { "at \(RunReport.figure($0))\(currency)/kWh" } ?? "no price set (--price-per-kwh)"),
            ("Test accuracy", record.test?.accuracy.map { String(format: "%.2f %%", $0 * 100) } ?? "-",
             record.test?.loss.map { "loss \(RunReport.figure($0))" } ?? "not evaluated"),
            ("Energy per sample", RunReport.joulesPerSample(total).map { "\(RunReport.figure($0)) J" } ?? "-",
             total.samples.map { "\($0) training samples" } ?? ""),
        ]
        var out = "<section class=\"summary\">\n"
        for (label, value, note) in cards {
            out += "<div class=\"card\"><div class=\"label\">\(escape(label))</div><div class=\"value\">\(escape(value))</div>"
                + "<div class=\"note\">\(escape(note))</div></div>\n"
        }
        let source = record.measurement.map { $0.source.rawValue } ?? "not measured"
        out += "<p class=\"source source-\(escape(source))\">Energy source: <b>\(escape(source))</b>"
            + (record.measurement?.source == .estimate ? " (an estimate, not a measurement; see provenance)" : "") + "</p>\n"
        return out + "</section>\n"
    }

    static func provenance(_ record: RunRecord) -> String {
        var rows: [(String, String)] = []
        if let measurement = record.measurement {
            rows.append(("Energy source", measurement.sourceLabel))
            rows.append(("Method", measurement.method))
            rows.append(("Domains summed", measurement.domainsBySource))
            if !measurement.gpus.isEmpty { rows.append(("GPUs", RunReport.gpuList(measurement.gpus))) }
            if !measurement.breakdownDomains.isEmpty { rows.append(("Breakdown (not added)", measurement.breakdownDomains.joined(separator: ", "))) }
            if !measurement.besideDomains.isEmpty { rows.append(("Beside (not added)", measurement.besideDomains.joined(separator: ", "))) }
            rows.append(("Sampling interval", "\(RunReport.figure(measurement.sampleIntervalSeconds, 3)) s; \(measurement.missingSamples) missing sample(s); "
                + "sampler overhead \(RunReport.figure(measurement.samplerOverhead * 100, 2)) % of one CPU"))
        } else {
            rows.append(("Energy source", "not measured (--no-footprint)"))
        }
        let carbon = record.carbon
        rows.append(("Carbon intensity", "\(RunReport.figure(carbon.intensityGramsPerKWh)) gCO2e/kWh, region \(carbon.region)"))
        rows.append(("Carbon source", carbon.source + (carbon.year.map { ", year \($0)" } ?? "")))
        rows.append(("PUE", RunReport.figure(carbon.pue, 3)))
        rows.append(("Price", carbon.pricePerKWh.map { "\(RunReport.figure($0)) \(carbon.currency ?? "")/kWh" } ?? "not set"))
        if let idle = record.idleBaseline {
            rows.append(("Idle baseline", "\(RunReport.figure(idle.powerWatts)) W over \(RunReport.figure(idle.seconds, 3)) s (\(idle.source.rawValue))"))
        }
        rows.append(("Host", "\(record.host.cpuModel), \(record.host.cpuCount) logical CPU(s), \(RunReport.figure(record.host.ramTotalGB, 3)) GB RAM, \(record.host.os)"))
        if !record.versions.isEmpty {
            rows.append(("Versions", record.versions.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")))
        }
        if case let .object(pairs) = JSONValue(encoding: record.config), !pairs.isEmpty {
            rows.append(("Configuration", pairs.map { "\($0.0) \(configValue($0.1))" }.joined(separator: ", ")))
        }
        var out = "<section><h2>Provenance</h2>\n<table class=\"provenance\">\n"
        for (key, value) in rows { out += "<tr><th>\(escape(key))</th><td>\(escape(value))</td></tr>\n" }
        out += "</table>\n"
        let warnings = record.measurement?.warnings ?? []
        if !warnings.isEmpty {
            out += "<h3>Warnings</h3>\n<ul class=\"warnings\">\n" + warnings.map { "<li>\(escape($0))</li>\n" }.joined() + "</ul>\n"
        }
        return out + "</section>\n"
    }

    static func equivalents(_ record: RunRecord) -> String {
        guard let grams = record.total.co2eGrams else { return "" }
        var out = "<section><h2>Equivalents</h2>\n<p>The run's \(escape(RunReport.figure(grams))) g CO2e is about:</p>\n<table class=\"equivalents\">\n"
        for equivalent in CarbonEquivalent.all {
            out += "<tr><td class=\"amount\">\(escape(HTMLPage.plain(equivalent.amount(co2eGrams: grams))))</td>"
                + "<td>\(escape(equivalent.description))</td>"
                + "<td class=\"cite\">factor \(escape(RunReport.figure(equivalent.gramsPerUnit))) g CO2e each; \(escape(equivalent.citation))</td></tr>\n"
        }
        return out + "</table>\n</section>\n"
    }

    static func epochTable(_ record: RunRecord) -> String {
        let header = ["epoch", "time s", "energy J", "train J", "validation J", "avg W", "CO2e g", "train acc", "val acc", "forecast kWh"]
        let rows = record.epochs.map { epoch in
            [epoch.label, RunReport.figure(epoch.durationSeconds),
             RunReport.figure(epoch.energyJoules), RunReport.figure(epoch.phases["train"]?.energyJoules),
             RunReport.figure(epoch.phases["validation"]?.energyJoules), RunReport.figure(epoch.averagePowerWatts),
             RunReport.figure(epoch.co2eGrams), RunReport.figure(epoch.trainAccuracy), RunReport.figure(epoch.valAccuracy),
             epoch.forecast.map { "\(RunReport.figure($0.energyKWh)) [\(RunReport.figure($0.energyKWhLow))-\(RunReport.figure($0.energyKWhHigh))]" } ?? "-"]
        }
        return "<section><h2>Epochs</h2>\n" + HTMLPage.table(className: "epochs", header: header, rows: rows) + "</section>\n"
    }

    // MARK: - Charts

    /// The report's charts, in page order; a chart without data becomes a short note.
    static func charts(_ record: RunRecord, power: PowerTimeline?) -> [String] {
        [energyByPhase(record), energyByDomain(record), powerTimeline(power, record: record),
         accuracyAgainstCarbon(record), forecastAgainstActual(record)]
    }

    static func empty(_ title: String, _ reason: String) -> String {
        "<div class=\"empty\"><b>\(escape(title))</b><br/>\(escape(reason))</div>"
    }

    /// Energy per epoch, stacked: train phase, validation phase, and the rest of the epoch
    /// window (set-up, callbacks) when the phases do not cover it.
    public static func energyByPhase(_ record: RunRecord) -> String {
        let title = "Energy per epoch by phase"
        let epochs = record.epochs
        guard let maximum = epochs.compactMap(\.energyJoules).max() else { return empty(title, "No energy was measured.") }
        let unit = ScaledUnit.pick(forMaximum: maximum, from: ScaledUnit.joules)
        let train = epochs.map { $0.phases["train"]?.energyJoules }
        let validation = epochs.map { $0.phases["validation"]?.energyJoules }
        let rest = epochs.map { epoch -> Double? in
            guard let total = epoch.energyJoules else { return nil }
            let phases = epoch.phases.values.map(\.energyJoules).reduce(0, +)
            return epoch.phases.isEmpty ? total : max(0, total - phases)
        }
        var series = [BarSeries(name: "train", values: train), BarSeries(name: "validation", values: validation)]
        // Sub-0.5 % leftovers are the gap between windows; drawing them only adds noise.
        if zip(rest, epochs).contains(where: { ($0 ?? 0) > 0.005 * ($1.energyJoules ?? 0) }) {
            series.append(BarSeries(name: epochs.allSatisfy { $0.phases.isEmpty } ? "epoch" : "outside phases", values: rest))
        }
        let scaled = series.map { BarSeries(name: $0.name, values: $0.values.map { $0.map { $0 / unit.factor } }) }
        return SVGChart.stackedBars(
            ChartFrame(id: "energy-phase", title: title, xLabel: "epoch", yLabel: "energy (\(unit.name))"),
            categories: epochs.map(\.label), series: scaled)
    }

    /// Energy per epoch stacked by the domains summed into the total (package, dram; or the
    /// estimate's cpu and ram).
    public static func energyByDomain(_ record: RunRecord) -> String {
        let title = "Energy per epoch by domain"
        let epochs = record.epochs
        let counted = record.measurement?.domains ?? []
        let domains = counted.isEmpty ? Array(Set(epochs.flatMap(\.domains.keys))).sorted() : counted
        let values = domains.map { domain in epochs.map { $0.domains[domain] } }
        guard let maximum = epochs.map({ epoch in domains.compactMap { epoch.domains[$0] }.reduce(0, +) }).max(), maximum > 0 else {
            return empty(title, "No per-domain energy was recorded.")
        }
        let unit = ScaledUnit.pick(forMaximum: maximum, from: ScaledUnit.joules)
        return SVGChart.stackedBars(
            ChartFrame(id: "energy-domain", title: title, xLabel: "epoch", yLabel: "energy (\(unit.name))"),
            categories: epochs.map(\.label),
            series: zip(domains, values).map { BarSeries(name: $0, values: $1.map { $0.map { $0 / unit.factor } }) })
    }

    /// The sampled power over the run: the total of the counted domains and each domain.
    public static func powerTimeline(_ timeline: PowerTimeline?, record: RunRecord) -> String {
        let title = "Power over time"
        guard let timeline = timeline?.downsampled(to: 800), timeline.rows.count > 1 else {
            return empty(title, "No power.csv in the run folder (or fewer than two samples).")
        }
        let minutes = (timeline.rows.last?.elapsedSeconds ?? 0) > 900
        let divisor = minutes ? 60.0 : 1
        var series: [LineSeries] = []
        let counted = Set(record.measurement?.domains ?? timeline.domains)
        let total = timeline.rows.compactMap { row in row.totalWatts.map { ChartPoint(x: row.elapsedSeconds / divisor, y: $0) } }
        if !total.isEmpty { series.append(LineSeries(name: "total (summed domains)", points: total, dash: 0, tone: 0)) }
        for (index, domain) in timeline.domains.enumerated() {
            let points = timeline.rows.compactMap { row in row.watts[domain].map { ChartPoint(x: row.elapsedSeconds / divisor, y: $0) } }
            guard !points.isEmpty else { continue }
            let name = counted.contains(domain) ? domain : domain + " (not added)"
            series.append(LineSeries(name: name, points: points, dash: index % 3 + 1, tone: index % 4 + 1))
        }
        return SVGChart.lines(ChartFrame(id: "power", title: title, xLabel: "time since start (\(minutes ? "min" : "s"))",
                                         yLabel: "power (W)"), series: series)
    }

    /// Train and validation accuracy at the end of each epoch against the CO2e emitted so far,
    /// and the test accuracy against the run's total: what each point of accuracy cost.
    public static func accuracyAgainstCarbon(_ record: RunRecord) -> String {
        let title = "Accuracy against cumulative CO2e"
        var cumulative = 0.0
        var rows: [(co2e: Double, epoch: EpochRecord)] = []
        for epoch in record.epochs {
            guard let grams = epoch.co2eGrams else { continue }
            cumulative += grams
            rows.append((cumulative, epoch))
        }
        let testPoint = record.test?.accuracy.flatMap { accuracy in record.total.co2eGrams.map { (accuracy, $0) } }
        guard !rows.isEmpty || testPoint != nil else { return empty(title, "No CO2e was recorded.") }
        let unit = ScaledUnit.pick(forMaximum: max(cumulative, testPoint?.1 ?? 0), from: ScaledUnit.grams)
        func points(_ accuracy: KeyPath<EpochRecord, Double?>) -> [ChartPoint] {
            rows.compactMap { row in row.epoch[keyPath: accuracy].map { ChartPoint(x: row.co2e / unit.factor, y: $0 * 100) } }
        }
        var series = [LineSeries(name: "train accuracy", points: points(\.trainAccuracy), marker: .circle, dash: 0, tone: 0),
                      LineSeries(name: "validation accuracy", points: points(\.valAccuracy), marker: .square, filledMarker: false, dash: 1, tone: 1)]
        if let (accuracy, grams) = testPoint {
            series.append(LineSeries(name: "test accuracy (run total)", points: [ChartPoint(x: grams / unit.factor, y: accuracy * 100)],
                                     connected: false, marker: .diamond, dash: 0, tone: 2))
        }
        series.removeAll { $0.points.isEmpty }
        guard !series.isEmpty else { return empty(title, "CO2e was recorded, but no accuracy to set against it.") }
        return SVGChart.lines(ChartFrame(id: "accuracy-co2e", title: title, xLabel: "cumulative CO2e (\(unit.name))", yLabel: "accuracy (%)"),
                              series: series, yFromZero: false)
    }

    /// The whole-run energy forecast after each epoch, with its range, against the actual
    /// total once the run finished.
    public static func forecastAgainstActual(_ record: RunRecord) -> String {
        let title = "Run energy forecast after each epoch vs actual"
        let checks = RunReport.forecastVersusActual(record)
        guard !checks.isEmpty else { return empty(title, "No forecasts (the run had no planned epoch count or no measured epoch).") }
        let maximum = checks.map { max($0.forecast.energyKWhHigh, $0.actualKWh ?? 0) }.max() ?? 0
        let unit = ScaledUnit.pick(forMaximum: maximum * 1000, from: ScaledUnit.wattHours)
        let toUnit = { (kWh: Double) in kWh * 1000 / unit.factor }
        let points = checks.map { check in
            ChartPoint(x: Double(check.forecast.afterEpoch), y: toUnit(check.forecast.energyKWh),
                       low: toUnit(check.forecast.energyKWhLow), high: toUnit(check.forecast.energyKWhHigh))
        }
        let references = checks.first?.actualKWh.map { [ReferenceLine(name: "actual total (sum of epochs)", y: toUnit($0))] } ?? []
        return SVGChart.lines(
            ChartFrame(id: "forecast", title: title, xLabel: "forecast made after epoch", yLabel: "whole-run energy (\(unit.name))"),
            series: [LineSeries(name: "forecast, bar = range", points: points, marker: .diamond, dash: 2, tone: 0)],
            references: references, integerX: true)
    }

    /// A configuration value as a person writes it: `0.001`, not the Float's `0.0010000000474974513`,
    /// and a whole number in full (`seed 1234567`, not `1.23457e+06`).
    static func configValue(_ value: JSONValue) -> String {
        switch value {
        case let .number(number):
            return number == number.rounded() && abs(number) < 1e15 ? JSONText.number(number) : String(format: "%.6g", number)
        case let .string(text): return text
        default: return value.rendered(pretty: false)
        }
    }

    static func escape(_ text: String) -> String { XMLText.escape(text) }
}

/// The page shell shared by the run report and the comparison.
enum HTMLPage {
    /// A table with one header row; the cells of the `textColumns` (by header name) are marked
    /// as text (left-aligned), the others are figures.
    static func table(className: String, header: [String], rows: [[String]], textColumns: Set<String> = []) -> String {
        var out = "<table class=\"\(className)\">\n<tr>" + header.map { "<th>\(XMLText.escape($0))</th>" }.joined() + "</tr>\n"
        for cells in rows {
            out += "<tr>" + zip(header, cells).map { column, cell in
                "<td\(textColumns.contains(column) ? " class=\"text\"" : "")>\(XMLText.escape(cell))</td>"
            }.joined() + "</tr>\n"
        }
        return out + "</table>\n"
    }

    static func document(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title>\(XMLText.escape(title))</title>
        <style>
        \(css)
        </style>
        </head>
        <body>
        \(body)<footer>Made by fmctl footprint. Figures labelled <i>estimate</i> are modelled, not measured.</footer>
        </body>
        </html>

        """
    }

    static let css = """
    body { font-family: system-ui, "Segoe UI", "DejaVu Sans", "Liberation Sans", sans-serif; color: #1b2a3a; background: #fff;
           margin: 24px auto; max-width: 1240px; padding: 0 16px; line-height: 1.4; }
    h1 { margin: 0 0 4px; font-size: 26px; } h2 { font-size: 19px; border-bottom: 2px solid #1b2a3a; padding-bottom: 3px; margin-top: 28px; }
    h3 { font-size: 15px; } .subtitle { margin: 0; color: #44576a; }
    .summary { display: grid; grid-template-columns: repeat(auto-fill, minmax(180px, 1fr)); gap: 12px; margin-top: 18px; }
    .card { border: 1px solid #9aa7b4; border-radius: 6px; padding: 10px 12px; }
    .card .label { font-size: 12px; text-transform: uppercase; letter-spacing: .05em; color: #44576a; }
    .card .value { font-size: 22px; font-weight: 700; margin: 2px 0; } .card .note { font-size: 12px; color: #44576a; }
    .summary .source { grid-column: 1 / -1; margin: 0; }
    .charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(540px, 1fr)); gap: 16px; }
    figure { margin: 0; border: 1px solid #d5dbe1; border-radius: 6px; padding: 6px; }
    figure.wide { max-width: 960px; }
    svg.chart { width: 100%; height: auto; display: block; }
    svg .chart-title { font-size: 15px; font-weight: 700; fill: #1b2a3a; } svg .axis-label { font-size: 12.5px; fill: #1b2a3a; }
    svg .tick { font-size: 11px; fill: #333; } svg .legend { font-size: 12px; fill: #1b2a3a; } svg .point-label { font-size: 11.5px; fill: #1b2a3a; }
    .empty { padding: 40px 16px; text-align: center; color: #44576a; }
    table { border-collapse: collapse; font-size: 13.5px; } th, td { border-bottom: 1px solid #d5dbe1; padding: 4px 10px; vertical-align: top; }
    table.provenance th { text-align: left; white-space: nowrap; color: #44576a; font-weight: 600; }
    table.epochs td, table.compare td { text-align: right; font-variant-numeric: tabular-nums; } table.compare td.text { text-align: left; }
    table.equivalents td.amount { text-align: right; font-weight: 700; font-variant-numeric: tabular-nums; } td.cite { font-size: 12px; color: #44576a; }
    ul.warnings li { margin: 3px 0; } footer { margin-top: 32px; font-size: 12px; color: #44576a; }
    """

    /// `1 h 02 min`, `3 min 05 s`, `12.3 s`.
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "-" }
        if seconds < 60 { return String(format: "%.1f s", seconds) }
        let whole = Int(seconds.rounded())
        if whole < 3600 { return String(format: "%d min %02d s", whole / 60, whole % 60) }
        return String(format: "%d h %02d min", whole / 3600, whole % 3600 / 60)
    }

    /// Three significant digits without an exponent: `0.000412`, `3.25`, `1240`.
    static func plain(_ value: Double) -> String {
        guard value.isFinite else { return "-" }
        if value == 0 { return "0" }
        let magnitude = Int(floor(log10(abs(value))))
        if magnitude >= 2 { return String(format: "%.0f", value) }
        return String(format: "%.\(min(12, 2 - magnitude))f", value)
    }
}
