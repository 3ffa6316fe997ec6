import Foundation
import FMSupport
import Footprint
import Reports

public enum ProjectionFormat: String, CaseIterable, Sendable {
    case table, json, markdown, html
}

/// Renders a projection for `fmctl footprint project`. Table, Markdown and HTML show the same
/// sections (training, inference, FLOPs per joule, inputs); JSON holds the same figures with
/// every input's value, origin and source.
public enum ProjectionReport {
    public static func render(_ projection: Projection, format: ProjectionFormat) -> String {
        switch format {
        case .json: return json(projection).rendered() + "\n"
        case .table: return text(projection, markdown: false)
        case .markdown: return text(projection, markdown: true)
        case .html: return html(projection)
        }
    }

    // MARK: - JSON

    /// `training`, `inference` and `efficiency` (null when not projected), then `inputs`.
    /// A figure is a number, or `{"low": a, "high": b}` when an input was a range.
    public static func json(_ projection: Projection) -> JSONValue {
        func value(_ interval: Interval?) -> JSONValue {
            guard let interval else { return .null }
            return interval.isExact ? .number(interval.low) : .object([("low", .number(interval.low)), ("high", .number(interval.high))])
        }
        func cost(_ cost: AcceleratorTimeCost, perDay: Bool) -> [(String, JSONValue)] {
            let suffix = perDay ? "_per_day" : ""
            return [("accelerator_hours" + suffix, value(cost.acceleratorHours)), ("energy_kwh" + suffix, value(cost.energyKWh)),
                    ("co2e_kg" + suffix, value(cost.co2eKg)), ("energy_cost" + suffix, value(cost.energyCost)),
                    ("compute_cost" + suffix, value(cost.computeCost)), ("embodied_co2e_kg" + suffix, value(cost.embodiedCO2eKg))]
        }
        let training: JSONValue = projection.training.map { training in
            let cost = training.cost
            return .object([
                ("flops", value(training.flops)), ("days", value(training.days)), ("accelerator_hours", value(cost.acceleratorHours)),
                ("energy_mwh", value(cost.energyKWh / 1000)), ("co2e_t", value(cost.co2eKg / 1000)),
                ("energy_cost", value(cost.energyCost)), ("compute_cost", value(cost.computeCost)),
                ("embodied_co2e_t", value(cost.embodiedCO2eKg.map { $0 / 1000 })), ("implied_mfu", value(training.impliedMFU)),
            ])
        } ?? .null
        let inference: JSONValue = projection.inference.map { inference in
            .object([("flops_per_day", value(inference.flopsPerDay)), ("accelerators_busy", value(inference.acceleratorsBusy))]
                    + cost(inference.perDay, perDay: true)
                    + [("query_tokens", value(inference.queryTokens)),
                       ("per_1000_queries", .object([("flops", value(inference.flopsPerThousandQueries))]
                                                    + cost(inference.perThousandQueries, perDay: false)))])
        } ?? .null
        let efficiency: JSONValue = projection.efficiency.map { rows in
            .array(rows.map { row in
                .object([("name", .string(row.name)), ("description", .string(row.description)),
                         ("flops_per_second", value(row.flopsPerSecond)), ("flops_per_joule", value(row.flopsPerJoule)),
                         ("source", .string(row.source))])
            })
        } ?? .null
        let inputs: [(String, JSONValue)] = inputRows(projection).map { row in
            let shown: JSONValue = row.value.map(value) ?? .string(row.text)
            return (row.key, .object([("value", shown), ("unit", .string(row.unit)), ("origin", .string(row.origin.rawValue)),
                                      ("source", .string(row.source))]))
        }
        return .object([("training", training), ("inference", inference), ("efficiency", efficiency),
                        ("currency", .string(projection.inputs.currency)), ("inputs", .object(inputs))])
    }

    // MARK: - Inputs

    /// One input as the reports list it: a number (or range), or text such as the accelerator's name.
    struct InputRow {
        var key: String
        var label: String
        var value: Interval?
        var text: String
        var unit: String
        var origin: ProjectionInput.Origin
        var source: String
    }

    static func inputRows(_ projection: Projection) -> [InputRow] {
        let inputs = projection.inputs
        var rows: [InputRow] = []
        func add(_ key: String, _ label: String, _ input: ProjectionInput?, note: String = "") {
            guard let input else { return }
            rows.append(InputRow(key: key, label: label, value: input.value, text: "", unit: input.unit, origin: input.origin,
                                 source: input.source + note))
        }
        func addText(_ key: String, _ label: String, _ text: String, origin: ProjectionInput.Origin, source: String) {
            rows.append(InputRow(key: key, label: label, value: nil, text: text, unit: "", origin: origin, source: source))
        }
        add("params", "parameters N", inputs.parameters)
        add("tokens", "training tokens D", inputs.tokens)
        add("flops", "training FLOPs", inputs.flops)
        let measured: Bool
        switch inputs.hardware {
        case let .accelerator(accelerator, peak):
            measured = false
            addText("accelerator", "accelerator", accelerator.name, origin: .given, source: accelerator.description)
            add("peak_flops_per_s", "peak per accelerator", peak)
        case let .measured(run):
            measured = true
            addText("from_run", "measured rate", "this machine", origin: .measured,
                    source: "the FLOPs, energy and duration of \(run.label)")
        }
        let comparisonOnly = measured ? " (applies to the catalogue's accelerators compared with this machine)" : ""
        addText("precision", "precision", inputs.precision.rawValue, origin: inputs.precisionOrigin,
                source: (inputs.precisionOrigin == .given ? "given" : "default: fp16/bf16 tensor math with fp32 accumulation")
                    + comparisonOnly)
        let mfuNote = inputs.days != nil && !measured ? " (training: not used, --days gives the duration)" : comparisonOnly
        add("mfu", "model FLOPs utilisation", inputs.mfu, note: mfuNote)
        add("count", measured ? "machines" : "accelerators", inputs.count)
        add("days", "duration", inputs.days)
        add("avg_power_w", "average power per accelerator", inputs.averagePowerWatts)
        add("pue", "PUE", inputs.pue)
        add("carbon_intensity_g_per_kwh", "grid carbon intensity", inputs.carbonIntensity)
        add("price_per_kwh", "electricity price", inputs.pricePerKWh)
        add("price_per_accelerator_hour", "accelerator-hour price", inputs.pricePerAcceleratorHour)
        if let currency = inputs.currency { addText("currency", "currency", currency, origin: .given, source: "given") }
        add("embodied_kg_per_accelerator_hour", "embodied carbon", inputs.embodiedKgPerAcceleratorHour)
        add("inference_tokens_per_day", "inference tokens", inputs.inferenceTokensPerDay)
        add("query_tokens", "tokens per query", inputs.queryTokens)
        return rows
    }

    // MARK: - Sections shared by table, Markdown and HTML

    /// A titled table; `textColumns` (by index) are left-aligned, the others are figures.
    struct Section {
        var title: String
        var header: [String]
        var rows: [[String]]
        var textColumns: Set<Int>
        var notes: [String] = []
    }

    /// `12`, `1,287`, `0.1965`, `3.15e23`; a range as `low - high`; `-` for none.
    static func figure(_ interval: Interval?) -> String {
        guard let interval else { return "-" }
        return interval.isExact ? figure(interval.low) : figure(interval.low) + " - " + figure(interval.high)
    }

    /// Four significant digits, thousands grouped, no trailing zeros: `1,289`, `3,552,000`,
    /// `14.8`, `0.1964`; an exponent from 1e9 and below 1e-3: `3.15e23`.
    static func figure(_ value: Double) -> String {
        guard value.isFinite else { return "-" }
        if value == 0 { return "0" }
        let magnitude = Int(floor(log10(abs(value))))
        if magnitude >= 9 || magnitude < -3 {
            let parts = String(format: "%.3e", value).split(separator: "e")
            return trimmingZeros(String(parts[0])) + "e" + String(Int(parts[1]) ?? 0)
        }
        let scale = pow(10, Double(magnitude - 3))
        let text = trimmingZeros(String(format: "%.\(max(0, 3 - magnitude))f", (value / scale).rounded() * scale))
        let integer = text.prefix { $0 != "." }
        let digits = integer.filter(\.isNumber)
        var grouped = ""
        for (index, digit) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { grouped += "," }
            grouped.append(digit)
        }
        return (value < 0 ? "-" : "") + grouped + text.dropFirst(integer.count)
    }

    /// `14.80` -> `14.8`, `3.000` -> `3`; integers as they are.
    static func trimmingZeros(_ number: String) -> String {
        guard number.contains(".") else { return number }
        var text = number
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }

    static func title(_ projection: Projection) -> String {
        let inputs = projection.inputs
        switch inputs.hardware {
        case let .accelerator(accelerator, _):
            return "Projection: \(figure(inputs.count.value)) x \(accelerator.name) (\(accelerator.description)) at "
                + "\(inputs.precision.rawValue) precision"
        case let .measured(run):
            return "Projection at this machine's measured rate: \(figure(inputs.count.value)) machine(s) like the one of \(run.label)"
        }
    }

    static func sections(_ projection: Projection) -> [Section] {
        let inputs = projection.inputs
        let currency = inputs.currency ?? "(currency not set)"
        var sections: [Section] = []
        if let training = projection.training {
            let cost = training.cost
            var rows = [
                ["FLOPs", figure(training.flops), "FLOP"],
                ["duration", figure(training.days), "days"],
                ["accelerator-hours", figure(cost.acceleratorHours), "h"],
                ["energy", figure(cost.energyKWh / 1000), "MWh at the facility (x PUE)"],
                ["CO2e", figure(cost.co2eKg / 1000), "t, operational (grid electricity)"],
                ["energy cost", figure(cost.energyCost), inputs.pricePerKWh == nil ? "no --price-per-kwh" : currency],
                ["compute cost", figure(cost.computeCost), inputs.pricePerAcceleratorHour == nil ? "no --price-per-accelerator-hour" : currency],
                ["embodied CO2e", figure(cost.embodiedCO2eKg.map { $0 / 1000 }),
                 inputs.embodiedKgPerAcceleratorHour == nil ? "no --embodied-kg-per-accelerator-hour" : "t, apart: not in the CO2e above"],
            ]
            if let implied = training.impliedMFU { rows.append(["implied MFU", figure(implied), "of peak, FLOPs over the duration"]) }
            sections.append(Section(title: "Training", header: ["figure", "value", "unit"], rows: rows, textColumns: [0, 2]))
        }
        if let inference = projection.inference {
            func rows(_ cost: AcceleratorTimeCost) -> [String] {
                [figure(cost.acceleratorHours), figure(cost.energyKWh), figure(cost.co2eKg), figure(cost.energyCost),
                 figure(cost.computeCost), figure(cost.embodiedCO2eKg)]
            }
            let labels = ["accelerator-hours", "energy kWh", "CO2e kg (operational)", "energy cost", "compute cost",
                          "embodied CO2e kg (apart)"]
            let perDay = rows(inference.perDay), perQueries = rows(inference.perThousandQueries)
            var table = [["FLOPs", figure(inference.flopsPerDay), figure(inference.flopsPerThousandQueries)]]
            table += labels.indices.map { [labels[$0], perDay[$0], perQueries[$0]] }
            table.append(["accelerators busy", figure(inference.acceleratorsBusy), "-"])
            sections.append(Section(title: "Inference", header: ["figure", "per day", "per 1,000 queries of \(figure(inference.queryTokens)) tokens"],
                                    rows: table, textColumns: [0],
                                    notes: ["2·N FLOPs per token; costs in \(currency)."]))
        }
        if let efficiency = projection.efficiency, let here = efficiency.first {
            let rows = efficiency.map { row in
                [row.name, figure(row.flopsPerSecond), figure(row.flopsPerJoule),
                 row.name == here.name ? "1" : figure(row.flopsPerJoule / here.flopsPerJoule), row.description]
            }
            sections.append(Section(title: "FLOPs per joule: this machine beside the catalogue", header: ["hardware", "FLOP/s", "FLOP/J", "x this machine", "what"],
                                    rows: rows, textColumns: [0, 4],
                                    notes: ["Catalogue rows: \(inputs.precision.rawValue) peak x MFU \(figure(inputs.mfu.value)) / TDP, per chip; this machine: the run's FLOPs over its measured (or estimated) joules."]))
        }
        let inputRows = inputRows(projection).map { row in
            [row.label, row.value.map(figure) ?? row.text, row.unit, row.origin.rawValue, row.source]
        }
        sections.append(Section(title: "Inputs", header: ["input", "value", "unit", "origin", "source"], rows: inputRows,
                                textColumns: [0, 2, 3, 4],
                                notes: ["Every origin but 'given' is an assumption of this projection: a default, a catalogue figure, a derivation or a measurement."]))
        return sections
    }

    // MARK: - Table and Markdown

    static func text(_ projection: Projection, markdown: Bool) -> String {
        var out = (markdown ? "# " : "") + title(projection) + "\n"
        for section in sections(projection) {
            out += "\n" + (markdown ? "## " : "") + section.title + "\n\n"
            out += markdown ? markdownTable(section) : textTable(section)
            for note in section.notes { out += (markdown ? "\n" : "") + note + "\n" }
        }
        return out
    }

    static func textTable(_ section: Section) -> String {
        let lines = [section.header, section.header.map { String(repeating: "-", count: $0.count) }] + section.rows
        let widths = section.header.indices.map { column in lines.map { $0[column].count }.max() ?? 0 }
        return lines.map { cells in
            cells.enumerated().map { column, cell in
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                // The last column is not padded, so lines carry no trailing spaces.
                if section.textColumns.contains(column) { return column == cells.count - 1 ? cell : cell + padding }
                return padding + cell
            }.joined(separator: "  ") + "\n"
        }.joined()
    }

    static func markdownTable(_ section: Section) -> String {
        func line(_ cells: [String]) -> String { "| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |\n" }
        let alignment = section.header.indices.map { section.textColumns.contains($0) ? "---" : "---:" }
        return line(section.header) + line(alignment) + section.rows.map(line).joined()
    }

    // MARK: - HTML

    /// One self-contained page: inline CSS, no script, nothing fetched.
    static func html(_ projection: Projection) -> String {
        let escape = XMLText.escape
        var body = "<h1>\(escape(title(projection)))</h1>\n"
        for section in sections(projection) {
            body += "<section><h2>\(escape(section.title))</h2>\n<table>\n<tr>"
                + section.header.map { "<th>\(escape($0))</th>" }.joined() + "</tr>\n"
            for row in section.rows {
                let assumed = section.title == "Inputs" && row[3] != ProjectionInput.Origin.given.rawValue
                body += "<tr\(assumed ? " class=\"assumed\"" : "")>" + row.enumerated().map { column, cell in
                    "<td\(section.textColumns.contains(column) ? " class=\"text\"" : "")>\(escape(cell))</td>"
                }.joined() + "</tr>\n"
            }
            body += "</table>\n" + section.notes.map { "<p class=\"note\">\(escape($0))</p>\n" }.joined() + "</section>\n"
        }
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8"/>
            <meta name="viewport" content="width=device-width, initial-scale=1"/>
            <title>\(escape(title(projection)))</title>
            <style>
            body { font-family: system-ui, "DejaVu Sans", sans-serif; color: #1b2a3a; margin: 24px auto; max-width: 1240px; padding: 0 16px; line-height: 1.4; }
            h1 { font-size: 24px; } h2 { font-size: 19px; border-bottom: 2px solid #1b2a3a; padding-bottom: 3px; margin-top: 28px; }
            table { border-collapse: collapse; font-size: 13.5px; } th, td { border-bottom: 1px solid #d5dbe1; padding: 4px 10px; vertical-align: top; }
            td { text-align: right; font-variant-numeric: tabular-nums; } td.text, th { text-align: left; }
            tr.assumed td:first-child::after { content: " *"; color: #a3541c; } .note { font-size: 13px; color: #44576a; }
            </style>
            </head>
            <body>
            \(body)<footer class="note">Made by fmctl footprint project. Rows marked * are assumptions, not given on the command line.</footer>
            </body>
            </html>

            """
    }
}
