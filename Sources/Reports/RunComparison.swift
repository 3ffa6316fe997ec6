import Footprint
import Foundation
import RunRecords

public enum RunComparisonFormat: String, CaseIterable, Sendable {
    case table, json, markdown, html
}

/// `fmctl footprint compare RUN_DIR...`: runs side by side, and which of them are
/// Pareto-optimal for test accuracy against CO2e (no other run is at least as accurate for at
/// most the same CO2e, and strictly better in one of the two).
public struct RunComparison: Sendable {
    public struct Row: Sendable, Equatable {
        public var runID: String
        public var model: String
        public var dataset: String?
        public var status: RunStatus
        public var epochs: Int
        public var threads: Int?
        public var batchSize: Int?
        public var source: EnergySource?
        public var durationSeconds: Double
        public var energyJoules: Double?
        public var energyKWh: Double?
        public var co2eGrams: Double?
        public var cost: Double?
        public var currency: String?
        public var testAccuracy: Double?
        public var joulesPerSample: Double?
        /// Nil when the run has no test accuracy or no CO2e (it cannot be placed).
        public var paretoOptimal: Bool?
    }

    public var rows: [Row]

    /// JSON keys of a row, in order; stable once released (add, never rename).
    public static let jsonKeys = ["run_id", "model", "dataset", "status", "epochs", "threads", "batch_size", "source", "duration_s",
                                  "energy_j", "energy_kwh", "co2e_g", "cost", "currency", "test_accuracy", "joules_per_sample",
                                  "pareto_optimal"]

    public init(records: [RunRecord]) {
        var rows = records.map { record in
            Row(runID: record.runID, model: record.model, dataset: record.dataset, status: record.status,
                epochs: record.epochs.filter { !$0.interrupted }.count, threads: record.config.training?.threads,
                batchSize: record.config.training?.batchSize, source: record.measurement?.source,
                durationSeconds: record.total.durationSeconds, energyJoules: record.total.energyJoules,
                energyKWh: record.total.energyKWh, co2eGrams: record.total.co2eGrams, cost: record.total.cost,
                currency: record.carbon.currency, testAccuracy: record.test?.accuracy,
                joulesPerSample: RunReport.joulesPerSample(record.total), paretoOptimal: nil)
        }
        let optimal = Self.paretoOptimal(rows.map { row in row.co2eGrams.flatMap { grams in row.testAccuracy.map { (grams, $0) } } })
        for index in rows.indices { rows[index].paretoOptimal = optimal[index] }
        self.rows = rows
    }

    /// For each (cost, accuracy) point: whether no other point dominates it (lower or equal
    /// cost and higher or equal accuracy, strictly better in one); nil for a missing point.
    public static func paretoOptimal(_ points: [(cost: Double, accuracy: Double)?]) -> [Bool?] {
        points.map { point in
            guard let point else { return nil }
            return !points.contains { other in
                guard let other else { return false }
                return other.cost <= point.cost && other.accuracy >= point.accuracy
                    && (other.cost < point.cost || other.accuracy > point.accuracy)
            }
        }
    }

    // MARK: - Rendering

    public func render(format: RunComparisonFormat) -> String {
        switch format {
        case .json: return json().rendered() + "\n"
        case .table: return RunReport.table(header: Self.header, rows: textRows, markdown: false) + legend
        case .markdown: return "## Run comparison\n\n" + RunReport.table(header: Self.header, rows: textRows, markdown: true) + "\n" + legend
        case .html: return html()
        }
    }

    public func json() -> JSONValue {
        .object([("runs", .array(rows.map { row in
            .object([
                ("run_id", .string(row.runID)), ("model", .string(row.model)), ("dataset", .string(row.dataset)),
                ("status", .string(row.status.rawValue)), ("epochs", .number(Double(row.epochs))),
                ("threads", .number(row.threads.map(Double.init))), ("batch_size", .number(row.batchSize.map(Double.init))),
                ("source", .string(row.source?.rawValue)), ("duration_s", .number(row.durationSeconds)),
                ("energy_j", .number(row.energyJoules)), ("energy_kwh", .number(row.energyKWh)), ("co2e_g", .number(row.co2eGrams)),
                ("cost", .number(row.cost)), ("currency", .string(row.currency)), ("test_accuracy", .number(row.testAccuracy)),
                ("joules_per_sample", .number(row.joulesPerSample)), ("pareto_optimal", row.paretoOptimal.map { .bool($0) } ?? .null),
            ])
        }))])
    }

    public static let header = ["run", "model", "dataset", "epochs", "threads", "batch", "source", "time s", "energy J", "kWh",
                                "CO2e g", "cost", "test acc", "J/sample", "pareto"]

    var textRows: [[String]] {
        rows.map { row in
            [row.runID, row.model, row.dataset ?? "-", String(row.epochs), row.threads.map(String.init) ?? "-",
             row.batchSize.map(String.init) ?? "-", row.source?.rawValue ?? "-", RunReport.figure(row.durationSeconds),
             RunReport.figure(row.energyJoules), RunReport.figure(row.energyKWh), RunReport.figure(row.co2eGrams),
             row.cost.map { RunReport.figure($0) + (row.currency.map { " " + $0 } ?? "") } ?? "-",
             RunReport.figure(row.testAccuracy), RunReport.figure(row.joulesPerSample),
             row.paretoOptimal.map { $0 ? "yes" : "no" } ?? "-"]
        }
    }

    var legend: String {
        "(pareto: no other run reaches at least this test accuracy for at most this CO2e)\n"
    }

    func html() -> String {
        var body = "<header><h1>Run comparison</h1>\n<p class=\"subtitle\">\(rows.count) run(s): "
            + rows.map { XMLText.escape("\($0.runID) (\($0.model))") }.joined(separator: ", ") + "</p></header>\n"
        body += "<section><h2>Accuracy against CO2e</h2>\n<figure class=\"wide\">\(paretoChart())</figure></section>\n"
        body += "<section><h2>Runs</h2>\n"
            + HTMLPage.table(className: "compare", header: Self.header, rows: textRows, textColumns: ["run", "model", "dataset", "source"])
        body += "<p>\(XMLText.escape(legend))</p></section>\n"
        if rows.contains(where: { $0.source == .estimate }) {
            body += "<p class=\"source\">Some energy figures are estimates (no RAPL counters); compare runs measured the same way.</p>\n"
        }
        return HTMLPage.document(title: "fmctl run comparison", body: body)
    }

    /// Test accuracy against CO2e, one point per run, the Pareto-optimal runs as filled
    /// diamonds joined by the frontier, the others as hollow circles.
    public func paretoChart() -> String {
        let title = "Test accuracy against CO2e (Pareto-optimal runs joined)"
        let placed = rows.filter { $0.paretoOptimal != nil }
        guard let maximum = placed.compactMap(\.co2eGrams).max() else {
            return HTMLReport.empty(title, "No run has both a test accuracy and a CO2e.")
        }
        let unit = ScaledUnit.pick(forMaximum: maximum, from: ScaledUnit.grams)
        return Self.paretoChart(title: title, xLabel: "CO2e of the run (\(unit.name))", points: placed.map { row in
            (label: "\(row.runID) (\(row.model))", x: row.co2eGrams! / unit.factor, accuracy: row.testAccuracy!, optimal: row.paretoOptimal!)
        })
    }

    /// The Pareto chart of accuracy (a fraction, drawn in %) against a cost on x: the optimal
    /// points as filled diamonds joined by the frontier, the others as hollow circles. Shared
    /// by the run comparison and `fmctl compress` (J per inference).
    public static func paretoChart(title: String, xLabel: String,
                                   points: [(label: String, x: Double, accuracy: Double, optimal: Bool)]) -> String {
        func point(_ p: (label: String, x: Double, accuracy: Double, optimal: Bool)) -> ChartPoint {
            ChartPoint(x: p.x, y: p.accuracy * 100, label: p.label)
        }
        let optimal = points.filter(\.optimal).sorted { $0.x < $1.x }.map(point)
        let others = points.filter { !$0.optimal }.map(point)
        var series = [LineSeries(name: "Pareto-optimal", points: optimal, connected: optimal.count > 1, marker: .diamond, dash: 1, tone: 0)]
        if !others.isEmpty {
            series.append(LineSeries(name: "dominated", points: others, connected: false, marker: .circle, filledMarker: false, tone: 1))
        }
        return SVGChart.lines(ChartFrame(id: "pareto", title: title, xLabel: xLabel, yLabel: "test accuracy (%)",
                                         width: 900, height: 420),
                              series: series, yFromZero: false)
    }
}
