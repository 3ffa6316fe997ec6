import FMSupport
import Footprint
import Foundation
import RunRecords

/// Renders a run record for `fmctl footprint report`: table, JSON, CSV, Markdown or HTML.
public enum RunReportFormat: String, CaseIterable, Sendable {
    case table, json, csv, markdown, html
}

public enum RunReport {
    /// `power` (the run folder's power.csv) feeds the HTML power chart; other formats ignore it.
    public static func render(_ record: RunRecord, format: RunReportFormat, power: PowerTimeline? = nil) -> String {
        switch format {
        case .html: return HTMLReport.render(record, power: power)
        case .json: return json(record).rendered() + "\n"
        case .csv: return csv(record)
        case .table: return text(record, markdown: false)
        case .markdown: return text(record, markdown: true)
        }
    }

    // MARK: - JSON

    static func distributedJSON(_ d: DistributedRecord) -> JSONValue {
        .object([
            ("world_size", .number(Double(d.worldSize))),
            ("hosts", .array(d.hosts.map { h in
                .object([
                    ("host", .string(h.host)), ("ranks", .array(h.ranks.map { .number(Double($0)) })),
                    ("energy_j", .number(h.energyJoules)), ("source", .string(h.source?.rawValue)),
                    ("domains", .object(h.domains.sorted { $0.key < $1.key }.map { ($0.key, .number($0.value)) })),
                ])
            })),
        ])
    }

    /// The documented keys, in the documented order, always present (null when not measured);
    /// extra keys follow them.
    public static func json(_ record: RunRecord) -> JSONValue {
        let measurement = record.measurement
        let carbon = record.carbon
        let epochs: [JSONValue] = record.epochs.map { epoch in
            .object([
                ("epoch", .number(Double(epoch.epoch))), ("duration_s", .number(epoch.durationSeconds)),
                ("samples", .number(epoch.samples.map(Double.init))), ("energy_j", .number(epoch.energyJoules)),
                ("energy_kwh", .number(epoch.energyKWh)), ("co2e_g", .number(epoch.co2eGrams)), ("cost", .number(epoch.cost)),
                ("avg_power_w", .number(epoch.averagePowerWatts)), ("train_loss", .number(epoch.trainLoss)),
                ("train_accuracy", .number(epoch.trainAccuracy)), ("val_loss", .number(epoch.valLoss)),
                ("val_accuracy", .number(epoch.valAccuracy)), ("flops", .number(epoch.flops)),
                ("joules_per_sample", .number(epoch.joulesPerSample)), ("flops_per_joule", .number(epoch.flopsPerJoule)),
                ("energy_above_idle_j", .number(epoch.energyAboveIdleJoules)), ("source", .string(epoch.source?.rawValue)),
                ("interrupted", .bool(epoch.interrupted)),
                ("phases", .object(epoch.phases.sorted { $0.key > $1.key }.map { name, phase in
                    (name, .object([("duration_s", .number(phase.durationSeconds)), ("energy_j", .number(phase.energyJoules))]))
                })),
                ("domains", .object(epoch.domains.sorted { $0.key < $1.key }.map { ($0.key, .number($0.value)) })),
                ("forecast", epoch.forecast.map(forecastJSON) ?? .null),
                ("allreduce_s", .number(epoch.allReduceSeconds)), ("allreduce_bytes", .number(epoch.allReduceBytes)),
            ])
        }
        let total = record.total
        return .object([
            ("run_id", .string(record.runID)), ("model", .string(record.model)), ("dataset", .string(record.dataset)),
            ("status", .string(record.status.rawValue)),
            ("measurement", .object([
                ("source", .string(measurement?.source.rawValue)),
                ("domains", .array((measurement?.domains ?? []).map { .string($0) })),
                ("sample_interval_s", .number(measurement?.sampleIntervalSeconds)),
                ("warnings", .array((measurement?.warnings ?? []).map { .string($0) })),
                ("method", .string(measurement?.method)),
                ("breakdown_domains", .array((measurement?.breakdownDomains ?? []).map { .string($0) })),
                ("beside_domains", .array((measurement?.besideDomains ?? []).map { .string($0) })),
                ("sampler_overhead", .number(measurement?.samplerOverhead)),
                ("missing_samples", .number(measurement.map { Double($0.missingSamples) })),
                ("domain_sources", .object((measurement?.domains ?? []).map { ($0, .string(measurement?.source(of: $0))) })),
                ("gpus", .array((measurement?.gpus ?? []).map { gpu in
                    .object([("index", .number(Double(gpu.index))), ("name", .string(gpu.name)), ("domain", .string(gpu.domain)),
                             ("method", .string(gpu.method))])
                })),
            ])),
            ("carbon", .object([
                ("intensity_g_per_kwh", .number(carbon.intensityGramsPerKWh)), ("region", .string(carbon.region)),
                ("source", .string(carbon.source)), ("year", .number(carbon.year.map(Double.init))),
                ("pue", .number(carbon.pue)), ("price_per_kwh", .number(carbon.pricePerKWh)),
                ("currency", .string(carbon.currency)),
            ])),
            ("epochs", .array(epochs)),
            ("total", .object([
                ("duration_s", .number(total.durationSeconds)), ("energy_j", .number(total.energyJoules)),
                ("energy_kwh", .number(total.energyKWh)), ("co2e_g", .number(total.co2eGrams)), ("cost", .number(total.cost)),
                ("flops", .number(total.flops)), ("energy_above_idle_j", .number(total.energyAboveIdleJoules)),
                ("samples", .number(total.samples.map(Double.init))),
                ("joules_per_sample", .number(joulesPerSample(total))), ("flops_per_joule", .number(flopsPerJoule(total))),
                ("domains", total.domains.map { domains in .object(domains.sorted { $0.key < $1.key }.map { ($0.key, .number($0.value)) }) } ?? .null),
                ("measured_domains", .array((measurement?.measuredDomains ?? []).map { .string($0) })),
                ("estimated_domains", .array((measurement?.estimatedDomains ?? []).map { .string($0) })),
            ])),
            ("test", .object([("loss", .number(record.test?.loss)), ("accuracy", .number(record.test?.accuracy))])),
            ("distributed", record.distributed.map(distributedJSON) ?? .null),
            ("pretraining", record.pretraining.map(pretrainingJSON) ?? .null),
            ("status_reason", .string(record.statusReason)), ("started_at", .string(record.startedAt)),
            ("ended_at", .string(record.endedAt)),
            ("idle_baseline", record.idleBaseline.map { .object([("power_w", .number($0.powerWatts)), ("duration_s", .number($0.seconds))]) } ?? .null),
            ("forecast_vs_actual", .array(forecastVersusActual(record).map { row in
                .object([("after_epoch", .number(Double(row.forecast.afterEpoch))), ("forecast_energy_kwh", .number(row.forecast.energyKWh)),
                         ("forecast_energy_kwh_low", .number(row.forecast.energyKWhLow)),
                         ("forecast_energy_kwh_high", .number(row.forecast.energyKWhHigh)),
                         ("actual_energy_kwh", .number(row.actualKWh)), ("error_percent", .number(row.errorPercent)),
                         ("within_range", row.withinRange.map { .bool($0) } ?? .null)])
            })),
        ])
    }

    /// `gpu-0 NVIDIA H200 (energy counter), gpu-1 Tesla P100 (sampled power)`.
    static func gpuList(_ gpus: [GPURecord]) -> String {
        gpus.map { "\($0.domain) \($0.name) (\($0.method))" }.joined(separator: ", ")
    }

    static func forecastJSON(_ forecast: RunForecast) -> JSONValue {
        .object([("after_epoch", .number(Double(forecast.afterEpoch))), ("planned_epochs", .number(Double(forecast.plannedEpochs))),
                 ("energy_kwh", .number(forecast.energyKWh)), ("energy_kwh_low", .number(forecast.energyKWhLow)),
                 ("energy_kwh_high", .number(forecast.energyKWhHigh)), ("co2e_g", .number(forecast.co2eGrams)),
                 ("co2e_g_low", .number(forecast.co2eGramsLow)), ("co2e_g_high", .number(forecast.co2eGramsHigh))])
    }

    /// The run's energy over its duration; nil when unmeasured or for a zero duration.
    static func averagePower(_ total: RunTotal) -> Double? {
        total.energyJoules.flatMap { total.durationSeconds > 0 ? $0 / total.durationSeconds : nil }
    }

    static func joulesPerSample(_ total: RunTotal) -> Double? {
        guard let joules = total.energyJoules, let samples = total.samples, samples > 0 else { return nil }
        return joules / Double(samples)
    }

    static func flopsPerJoule(_ total: RunTotal) -> Double? {
        guard let joules = total.energyJoules, let flops = total.flops, joules > 0 else { return nil }
        return flops / joules
    }

    /// Each forecast beside the actual total (only once the run completed all planned epochs).
    public struct ForecastCheck: Sendable {
        public var forecast: RunForecast
        public var actualKWh: Double?
        public var errorPercent: Double?
        public var withinRange: Bool?
    }

    public static func forecastVersusActual(_ record: RunRecord) -> [ForecastCheck] {
        let finished = record.status == .completed
            && record.epochs.filter { !$0.interrupted }.count == (record.plannedEpochs ?? -1)
        let energies = record.epochs.filter { !$0.interrupted }.compactMap(\.energyKWh)
        let actual: Double? = finished ? energies.reduce(0, +) : nil
        return record.forecasts.map { forecast in
            ForecastCheck(forecast: forecast, actualKWh: actual,
                          errorPercent: actual.flatMap { $0 > 0 ? (forecast.energyKWh - $0) / $0 * 100 : nil },
                          withinRange: actual.map { $0 >= forecast.energyKWhLow * (1 - 1e-9) && $0 <= forecast.energyKWhHigh * (1 + 1e-9) })
        }
    }

    // MARK: - One line

    /// `12.3 s, 456 J (0.000127 kWh, estimate), avg 37.1 W, 0.0602 gCO2e at 475 g/kWh (WORLD, PUE 1)`.
    public static func summaryLine(_ record: RunRecord) -> String {
        let total = record.total
        var parts = ["\(figure(total.durationSeconds)) s"]
        if let joules = total.energyJoules {
            let source = record.measurement?.sourceLabel ?? "unmeasured"
            parts.append("\(figure(joules)) J (\(figure(total.energyKWh)) kWh, \(source))")
            if let watts = averagePower(total) { parts.append("avg \(figure(watts)) W") }
            let carbon = record.carbon
            parts.append("\(figure(total.co2eGrams)) gCO2e at \(figure(carbon.intensityGramsPerKWh)) g/kWh (\(carbon.region), PUE \(figure(carbon.pue, 3)))")
            if let cost = total.cost { parts.append("cost \(figure(cost)) \(carbon.currency ?? "")") }
            if let above = total.energyAboveIdleJoules { parts.append("\(figure(above)) J above idle") }
        }
        return parts.joined(separator: ", ")
    }

    /// The footprint part of a Keras-style progress line: ` - energy: 1234 J (rapl) - co2e: 0.163 g`;
    /// with the run's `measurement`, the label names every source, e.g. `(rapl + nvml)`.
    public static func progressSuffix(_ epoch: EpochRecord, measurement: MeasurementProvenance? = nil) -> String {
        guard let joules = epoch.energyJoules else { return "" }
        let source = measurement?.sourceLabel ?? epoch.source?.rawValue ?? "?"
        var text = " - energy: \(figure(joules)) J (\(source)) - co2e: \(figure(epoch.co2eGrams)) g"
        if let forecast = epoch.forecast {
            text += " - run forecast: \(figure(forecast.energyKWh)) kWh [\(figure(forecast.energyKWhLow))-\(figure(forecast.energyKWhHigh))]"
        }
        return text
    }

    // MARK: - CSV

    public static let csvColumns = ["epoch", "duration_s", "samples", "energy_j", "energy_kwh", "co2e_g", "cost",
                                    "avg_power_w", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "flops",
                                    "joules_per_sample", "flops_per_joule", "energy_above_idle_j", "source"]

    static func csv(_ record: RunRecord) -> String {
        var out = CSV.row(csvColumns)
        for epoch in record.epochs {
            out += CSV.row([String(epoch.epoch), CSVNumber.format(epoch.durationSeconds), CSVNumber.format(epoch.samples),
                            CSVNumber.format(epoch.energyJoules), CSVNumber.format(epoch.energyKWh), CSVNumber.format(epoch.co2eGrams),
                            CSVNumber.format(epoch.cost), CSVNumber.format(epoch.averagePowerWatts), CSVNumber.format(epoch.trainLoss),
                            CSVNumber.format(epoch.trainAccuracy), CSVNumber.format(epoch.valLoss), CSVNumber.format(epoch.valAccuracy),
                            CSVNumber.format(epoch.flops), CSVNumber.format(epoch.joulesPerSample), CSVNumber.format(epoch.flopsPerJoule),
                            CSVNumber.format(epoch.energyAboveIdleJoules), epoch.source?.rawValue ?? ""])
        }
        let total = record.total
        out += CSV.row(["total", CSVNumber.format(total.durationSeconds), CSVNumber.format(total.samples),
                        CSVNumber.format(total.energyJoules), CSVNumber.format(total.energyKWh), CSVNumber.format(total.co2eGrams),
                        CSVNumber.format(total.cost), CSVNumber.format(averagePower(total)), "", "", "", "",
                        CSVNumber.format(total.flops), CSVNumber.format(joulesPerSample(total)),
                        CSVNumber.format(flopsPerJoule(total)), CSVNumber.format(total.energyAboveIdleJoules),
                        record.measurement?.source.rawValue ?? ""])
        return out
    }

    // MARK: - Table and Markdown

    /// `value` with `digits` significant digits, "-" when not measured.
    public static func figure(_ value: Double?, _ digits: Int = 4) -> String {
        guard let value, value.isFinite else { return "-" }
        if value == 0 { return "0" }
        if abs(value) >= 1e6 || abs(value) < 1e-3 { return String(format: "%.\(digits - 1)e", value) }
        return String(format: "%.\(digits)g", value)
    }

    static func text(_ record: RunRecord, markdown: Bool) -> String {
        var out = ""
        let heading = markdown ? "## " : ""
        out += "\(heading)Run \(record.runID): model \(record.model)"
            + (record.dataset.map { ", dataset \($0)" } ?? "") + ", status \(record.status.rawValue)"
            + (record.statusReason.map { " (\($0))" } ?? "") + "\n\n"

        let bullet = markdown ? "- " : ""
        if let measurement = record.measurement {
            out += "\(bullet)Energy: \(measurement.sourceLabel), domains \(measurement.domainsBySource)"
            if !measurement.measuredDomains.isEmpty, !measurement.estimatedDomains.isEmpty {
                out += "; measured: \(measurement.measuredDomains.joined(separator: " + ")), estimated: \(measurement.estimatedDomains.joined(separator: " + "))"
            }
            if !measurement.breakdownDomains.isEmpty { out += "; breakdown (not added): \(measurement.breakdownDomains.joined(separator: ", "))" }
            if !measurement.besideDomains.isEmpty { out += "; beside (not added): \(measurement.besideDomains.joined(separator: ", "))" }
            out += "\n\(bullet)Method: \(measurement.method)\n"
            if !measurement.gpus.isEmpty { out += "\(bullet)GPUs: \(gpuList(measurement.gpus))\n" }
            out += "\(bullet)Sampling: every \(figure(measurement.sampleIntervalSeconds, 3)) s, sampler overhead "
                + "\(figure(measurement.samplerOverhead * 100, 2)) % of one CPU, \(measurement.missingSamples) missing sample(s)\n"
        } else {
            out += "\(bullet)Energy: not measured (--no-footprint)\n"
        }
        let carbon = record.carbon
        out += "\(bullet)Carbon: \(figure(carbon.intensityGramsPerKWh)) gCO2e/kWh, region \(carbon.region), source \(carbon.source)"
            + (carbon.year.map { ", year \($0)" } ?? "") + "; PUE \(figure(carbon.pue, 3))"
            + (carbon.pricePerKWh.map { "; price \(figure($0)) \(carbon.currency ?? "")/kWh" } ?? "; no price set") + "\n"
        if let idle = record.idleBaseline {
            out += "\(bullet)Idle baseline: \(figure(idle.powerWatts)) W over \(figure(idle.seconds, 3)) s\n"
        }
        out += "\n"

        let header = ["epoch", "time s", "samples", "energy J", "kWh", "CO2e g", "cost", "avg W", "J/sample", "FLOP/J",
                      "above idle J", "train loss", "train acc", "val loss", "val acc"]
        var rows: [[String]] = record.epochs.map { epoch in
            [epoch.label, figure(epoch.durationSeconds), epoch.samples.map(String.init) ?? "-",
             figure(epoch.energyJoules), figure(epoch.energyKWh), figure(epoch.co2eGrams), figure(epoch.cost),
             figure(epoch.averagePowerWatts), figure(epoch.joulesPerSample), figure(epoch.flopsPerJoule),
             figure(epoch.energyAboveIdleJoules), figure(epoch.trainLoss), figure(epoch.trainAccuracy),
             figure(epoch.valLoss), figure(epoch.valAccuracy)]
        }
        let total = record.total
        rows.append(["total", figure(total.durationSeconds), total.samples.map(String.init) ?? "-", figure(total.energyJoules),
                     figure(total.energyKWh), figure(total.co2eGrams), figure(total.cost),
                     figure(averagePower(total)),
                     figure(joulesPerSample(total)), figure(flopsPerJoule(total)), figure(total.energyAboveIdleJoules),
                     "-", "-", figure(record.test?.loss), figure(record.test?.accuracy)])
        out += table(header: header, rows: rows, markdown: markdown)
        if !markdown, let sparkline = Sparkline.epochPower(record.epochs) { out += "power per epoch (avg): \(sparkline)\n" }
        if record.test != nil { out += (markdown ? "\n" : "") + "(total row: val loss/acc columns show the test loss/accuracy)\n" }
        if record.epochs.contains(where: \.interrupted) { out += "* interrupted epoch\n" }
        if let pre = record.pretraining { out += "\n" + pretrainingLines(pre, total: total, heading: heading, bullet: bullet) }

        let checks = forecastVersusActual(record)
        if !checks.isEmpty {
            out += "\n\(heading)Forecast vs actual (whole run, kWh)\n\n"
            let forecastRows = checks.map { check in
                ["after epoch \(check.forecast.afterEpoch)", figure(check.forecast.energyKWh),
                 "\(figure(check.forecast.energyKWhLow)) - \(figure(check.forecast.energyKWhHigh))",
                 figure(check.forecast.co2eGrams), figure(check.actualKWh),
                 check.errorPercent.map { String(format: "%+.1f %%", $0) } ?? "-",
                 check.withinRange.map { $0 ? "yes" : "no" } ?? "-"]
            }
            out += table(header: ["forecast", "kWh", "range", "CO2e g", "actual kWh", "error", "in range"], rows: forecastRows, markdown: markdown)
        }
        let warnings = record.measurement?.warnings ?? []
        if !warnings.isEmpty {
            out += "\n\(heading)Warnings\n\n" + warnings.map { "- \($0)\n" }.joined()
        }
        return out
    }

    /// The pretraining run beside this one: its own figures, stated as its own, and the two
    /// added up as the cost of the fine-tuned model so far.
    static func pretrainingLines(_ pre: PretrainingRecord, total: RunTotal, heading: String, bullet: String) -> String {
        var out = "\(heading)Pretraining (run \(pre.runID ?? "unknown"), from --init-from \(pre.path); its own figures, not in this run's total)\n\n"
        guard pre.runID != nil else {
            return out + "\(bullet)No readable run.json beside the checkpoint: the pretraining cost is unknown\n"
        }
        out += "\(bullet)Model \(pre.model ?? "-") on \(pre.dataset ?? "-"), status \(pre.status ?? "-")\n"
        out += "\(bullet)Pretraining: \(figure(pre.durationSeconds)) s, \(figure(pre.energyJoules)) J (\(figure(pre.energyKWh)) kWh, \(pre.source ?? "unmeasured")), "
            + "\(figure(pre.co2eGrams)) gCO2e" + (pre.cost.map { ", cost \(figure($0)) \(pre.currency ?? "")" } ?? "") + "\n"
        out += "\(bullet)This run (fine-tuning): \(figure(total.durationSeconds)) s, \(figure(total.energyJoules)) J (\(figure(total.energyKWh)) kWh), \(figure(total.co2eGrams)) gCO2e\n"
        if let a = pre.energyJoules, let b = total.energyJoules {
            let kwh = (pre.energyKWh ?? 0) + (total.energyKWh ?? 0), co2 = (pre.co2eGrams ?? 0) + (total.co2eGrams ?? 0)
            out += "\(bullet)Pretraining + fine-tuning: \(figure(a + b)) J (\(figure(kwh)) kWh), \(figure(co2)) gCO2e\n"
        }
        out += "\(bullet)Layers loaded: \(pre.loadedLayers.count)" + (pre.frozenLayers.isEmpty ? "" : "; frozen: \(pre.frozenLayers.joined(separator: ", "))") + "\n"
        return out
    }

    static func pretrainingJSON(_ pre: PretrainingRecord) -> JSONValue {
        .object([
            ("path", .string(pre.path)), ("run_id", .string(pre.runID)), ("model", .string(pre.model)),
            ("dataset", .string(pre.dataset)), ("status", .string(pre.status)), ("duration_s", .number(pre.durationSeconds)),
            ("energy_j", .number(pre.energyJoules)), ("energy_kwh", .number(pre.energyKWh)), ("co2e_g", .number(pre.co2eGrams)),
            ("cost", .number(pre.cost)), ("currency", .string(pre.currency)), ("source", .string(pre.source)),
            ("loaded_layers", .array(pre.loadedLayers.map { .string($0) })),
            ("frozen_layers", .array(pre.frozenLayers.map { .string($0) })),
        ])
    }

    static func table(header: [String], rows: [[String]], markdown: Bool) -> String {
        if markdown {
            let escape = { (cell: String) in cell.replacingOccurrences(of: "|", with: "\\|") }
            var out = "| " + header.map(escape).joined(separator: " | ") + " |\n"
            out += "|" + header.map { _ in " ---: |" }.joined() + "\n"
            for row in rows { out += "| " + row.map(escape).joined(separator: " | ") + " |\n" }
            return out
        }
        var widths = header.map(\.count)
        for row in rows { for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                String(repeating: " ", count: max(0, widths[index] - cell.count)) + cell
            }.joined(separator: "  ") + "\n"
        }
        return line(header) + line(widths.map { String(repeating: "-", count: $0) }) + rows.map(line).joined()
    }
}
