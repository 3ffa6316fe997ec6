import Foundation
import Testing
@testable import Footprint
@testable import RunRecords
@testable import Reports
@testable import FMSupport

/// A fine-tuned run shows its pretraining run's figures beside its own, labelled as the
/// pretraining run's and kept out of its total.
@Suite struct PretrainingReportTests {
    func fineTuned() -> (RunRecord, RunRecord) {
        var pre = ReportFixtures.run()
        pre.runID = "20261130T100000Z-gpt-mini"
        pre.model = "gpt-mini"
        let run = { () -> RunRecord in
            var r = ReportFixtures.run()
            r.pretraining = PretrainingRecord(path: "runs/pre", run: pre, loadedLayers: ["token_embedding", "h0_attention"],
                                              frozenLayers: ["token_embedding"])
            return r
        }()
        return (run, pre)
    }

    @Test func copiesThePretrainingTotals() throws {
        let (run, pre) = fineTuned()
        let p = try #require(run.pretraining)
        #expect(p.runID == pre.runID && p.energyJoules == pre.total.energyJoules && p.co2eGrams == pre.total.co2eGrams)
        #expect(p.source == pre.measurement?.sourceLabel)
        // Round trip through run.json.
        let data = try JSONEncoder().encode(run)
        #expect(try JSONDecoder().decode(RunRecord.self, from: data).pretraining == p)
        // Not added to this run's total.
        #expect(run.total.energyJoules == ReportFixtures.run().total.energyJoules)
    }

    @Test func reportsShowItBesideTheRunAndTheSum() throws {
        let (run, pre) = fineTuned()
        let text = RunReport.render(run, format: .table)
        #expect(text.contains("Pretraining (run \(pre.runID)"))
        #expect(text.contains("not in this run's total"))
        let sum = (pre.total.energyJoules ?? 0) + (run.total.energyJoules ?? 0)
        #expect(text.contains("Pretraining + fine-tuning: \(RunReport.figure(sum)) J"))
        #expect(text.contains("frozen: token_embedding"))
        let json = RunReport.render(run, format: .json)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let p = try #require(object["pretraining"] as? [String: Any])
        #expect(p["run_id"] as? String == pre.runID)
        #expect(p["energy_j"] as? Double == pre.total.energyJoules)
        #expect(RunReport.render(run, format: .html).contains("<h2>Pretraining</h2>"))
        // A run without one says nothing of it.
        #expect(!RunReport.render(ReportFixtures.run(), format: .table).contains("Pretraining"))
    }

    @Test func aCheckpointWithoutARunSaysTheCostIsUnknown() {
        var run = ReportFixtures.run()
        run.pretraining = PretrainingRecord(path: "model.safetensors", run: nil, loadedLayers: ["dense"], frozenLayers: [])
        #expect(RunReport.render(run, format: .table).contains("pretraining cost is unknown"))
    }
}
