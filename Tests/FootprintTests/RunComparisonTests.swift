import Foundation
import Testing
@testable import Footprint
@testable import RunRecords
@testable import Reports

@Suite struct RunComparisonTests {
    /// cnn: most accurate and most CO2e; mlp: cheapest; cnn-128: costs more than mlp and is
    /// less accurate than it, so it is dominated.
    let records = [
        ReportFixtures.run(id: "cnn", model: "cnn", epochJoules: [1000, 1000], testAccuracy: 0.90),
        ReportFixtures.run(id: "mlp", model: "mlp", epochJoules: [200, 200], testAccuracy: 0.85),
        ReportFixtures.run(id: "cnn-128", model: "cnn", epochJoules: [500, 500], testAccuracy: 0.84, batchSize: 128),
        ReportFixtures.run(id: "untested", model: "mlp", epochJoules: [100], testAccuracy: nil, threads: 1),
    ]

    @Test func pareto_marksTheRunsNoOtherRunBeats() {
        let comparison = RunComparison(records: records)
        #expect(comparison.rows.map(\.paretoOptimal) == [true, true, false, nil])
        #expect(RunComparison.paretoOptimal([(1, 0.5), (1, 0.5)]) == [true, true])   // ties dominate neither
        #expect(RunComparison.paretoOptimal([(1, 0.5), (1, 0.6)]) == [false, true])
    }

    @Test func json_hasTheDocumentedColumnsPerRun() throws {
        let text = RunComparison(records: records).render(format: .json)
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        let runs = try #require(object?["runs"] as? [[String: Any]])
        #expect(runs.count == 4)
        #expect(RunComparison(records: records).json()["runs"].map { value -> [String] in
            guard case let .array(rows) = value else { return [] }
            return rows.first?.keys ?? []
        } == RunComparison.jsonKeys)
        let mlp = runs[1]
        #expect(mlp["model"] as? String == "mlp" && mlp["epochs"] as? Int == 2 && mlp["threads"] as? Int == 2)
        #expect(mlp["energy_j"] as? Double == 400 && mlp["joules_per_sample"] as? Double == 0.2)
        #expect(mlp["test_accuracy"] as? Double == 0.85 && mlp["pareto_optimal"] as? Bool == true)
        #expect(runs[2]["batch_size"] as? Int == 128)
        #expect(runs[3]["test_accuracy"] is NSNull && runs[3]["pareto_optimal"] is NSNull)
    }

    /// run.json is a file a person can edit: a thread count beyond Int or with a fraction is
    /// shown as missing, not a trap.
    @Test(arguments: ["1e20", "2.5", "\"2\"", "true"])
    func configIntegers_outOfRangeOrFractional_areMissing(_ threads: String) throws {
        let config = try JSONDecoder().decode(RunConfiguration.self, from: Data("{\"threads\": \(threads), \"batch_size\": 32}".utf8))
        var record = records[0]
        record.config = config
        let row = RunComparison(records: [record]).rows[0]
        #expect(row.threads == nil && row.batchSize == 32)
    }

    @Test func table_andMarkdown_haveOneRowPerRunUnderTheHeader() {
        let comparison = RunComparison(records: records)
        let table = comparison.render(format: .table).split(separator: "\n").map(String.init)
        let header = table[0].split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        for column in ["run", "model", "dataset", "epochs", "threads", "batch", "source", "time", "energy", "kWh", "CO2e", "cost",
                       "test", "J/sample", "pareto"] {
            #expect(header.contains(column), "missing \(column)")
        }
        #expect(table.count == 2 + records.count + 1)
        #expect(table[4].hasSuffix("no") && table[5].hasSuffix("-"))
        let markdown = comparison.render(format: .markdown)
        #expect(markdown.contains("| run | model | dataset | epochs | threads | batch |"))
        #expect(markdown.contains("| cnn-128 | cnn | fashion-mnist | 2 | 2 | 128 | rapl |"))
    }

    @Test func html_paretoChartMarksOptimalRuns() {
        let html = RunComparison(records: records).render(format: .html)
        let svgs = XMLElements.svgs(in: html)
        #expect(svgs.count == 1)
        let parsed = XMLElements(svgs[0])
        #expect(parsed.wellFormed)
        let optimal = parsed.all("path", className: "marker").filter { $0["data-series"] == "Pareto-optimal" }
        let dominated = parsed.all("circle", className: "marker").filter { $0["data-series"] == "dominated" }
        #expect(optimal.count == 2 && dominated.count == 1)
        #expect(Set(optimal.compactMap { $0["data-y"] }) == ["90", "85"])
        #expect(parsed.all("path", className: "series").count == 1)   // the frontier
        #expect(XMLElements(html).wellFormed)
    }
}
