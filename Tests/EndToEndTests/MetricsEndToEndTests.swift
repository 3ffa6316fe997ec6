import Foundation
import Testing

/// `--metrics-textfile` and `--pushgateway` (docs/metrics.md) on real runs: the textfile
/// passes promtool, a real Pushgateway serves the pushed series, and neither can stop training.
@Suite struct MetricsEndToEndTests {
    let work = TemporaryDirectory()

    func train(_ extra: [String], runDir: String = "run", epochs: Int = 2) throws -> FmctlResult {
        if !work.exists("data") { try Datasets.synthetic(in: work.file("data")) }
        return try Fmctl.run(["train", "--model", "mlp", "--dataset", "data", "--epochs", String(epochs), "--threads", "1",
                              "--price-per-kwh", "0.3", "--currency", "EUR", "--run-dir", runDir] + extra, in: work.path)
    }

    /// The figures of the metrics against run.json's: every series of every family listed, the
    /// energy series adding up to total.energy_j. Equal to 1e-12: both files hold the shortest
    /// round-trip form, but JSONSerialization on Linux reads some numbers a few ulps off.
    func expectMetrics(_ metrics: PrometheusText, matchRunIn folder: String, training: Bool = true,
                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        let run = try work.json(folder + "/run.json")
        let runID = try #require(run["run_id"] as? String)
        let total = run["total"] as? [String: Any] ?? [:]
        let measurement = run["measurement"] as? [String: Any] ?? [:]
        let counted = try #require(measurement["domains"] as? [String])
        let id = ["run_id": runID]
        func same(_ metric: Double?, _ json: Any?) -> Bool {
            guard let metric, let json = (json as? Double) ?? (json as? Int).map(Double.init) else { return metric == nil && json == nil }
            return abs(metric - json) <= 1e-12 * max(abs(json), 1e-300)
        }
        let energy = metrics.series("fmctl_energy_joules_total", id)
        #expect(Set(energy.compactMap { $0.labels["domain"] }) == Set(counted), sourceLocation: sourceLocation)
        let totalJoules = try #require(total["energy_j"] as? Double)
        let sum = energy.map(\.value).reduce(0, +)
        #expect(abs(sum - totalJoules) <= 1e-9 * totalJoules, "energy series \(sum) J, total.energy_j \(totalJoules) J",
                sourceLocation: sourceLocation)
        #expect(same(metrics.value("fmctl_co2e_grams_total", id), total["co2e_g"]), sourceLocation: sourceLocation)
        #expect(same(metrics.value("fmctl_cost_total", id.merging(["currency": "EUR"]) { $1 }), total["cost"]),
                sourceLocation: sourceLocation)
        #expect(metrics.series("fmctl_power_watts", id).count == counted.count, sourceLocation: sourceLocation)
        #expect(metrics.value("fmctl_run_status", id.merging(["status": run["status"] as? String ?? ""]) { $1 }) == 1,
                sourceLocation: sourceLocation)
        // The Pushgateway adds push_time_seconds and push_failure_time_seconds to each group.
        for series in metrics.series.filter({ $0.labels["run_id"] == runID && $0.name.hasPrefix("fmctl_") }) {
            #expect(series.labels["model"] == run["model"] as? String, "\(series)", sourceLocation: sourceLocation)
        }
        guard training else {
            #expect(metrics.series("fmctl_epoch", id).isEmpty, sourceLocation: sourceLocation)
            return
        }
        let last = (run["epochs"] as? [[String: Any]])?.last ?? [:]
        #expect(same(metrics.value("fmctl_epoch", id), last["epoch"]), sourceLocation: sourceLocation)
        #expect(same(metrics.value("fmctl_samples_total", id), total["samples"]), sourceLocation: sourceLocation)
        #expect(same(metrics.value("fmctl_train_loss", id), last["train_loss"]), sourceLocation: sourceLocation)
        #expect(same(metrics.value("fmctl_val_accuracy", id), last["val_accuracy"]), sourceLocation: sourceLocation)
    }

    @Test func train_metricsTextfile_passesPromtool_andMatchesTheRun() throws {
        let result = try train(["--metrics-textfile", "fmctl.prom"])
        expectSuccess(result)
        let check = try PrometheusTools.checkMetrics(work.file("fmctl.prom"))
        #expect(check.status == 0 && check.output.isEmpty, "promtool check metrics: exit \(check.status)\n\(check.output)")
        let metrics = PrometheusText(try work.text("fmctl.prom"))
        #expect(metrics.unreadable.isEmpty)
        try expectMetrics(metrics, matchRunIn: "run")
        #expect(!work.listing().contains { $0.hasPrefix(".fmctl.prom") }, "a temporary file was left: \(work.listing())")
    }

    /// The run's series, read back from a real Pushgateway as Prometheus would scrape them:
    /// job fmctl, instance the host name, the run_id grouping label.
    @Test func train_pushgateway_servesTheRunsSeries() throws {
        let gateway = try Pushgateway()
        let result = try train(["--pushgateway", gateway.url])
        expectSuccess(result)
        #expect(!result.stderr.contains("pushgateway"), "\(result.stderr)")
        let metrics = try gateway.metrics()
        let run = try work.json("run/run.json")
        let hostname = (run["host"] as? [String: Any])?["hostname"] as? String
        let ours = metrics.series.filter { $0.labels["run_id"] == "run" && $0.name.hasPrefix("fmctl_") }
        #expect(!ours.isEmpty)
        #expect(ours.allSatisfy { $0.labels["job"] == "fmctl" && $0.labels["instance"] == hostname }, "\(ours.first.map { "\($0)" } ?? "")")
        try expectMetrics(metrics, matchRunIn: "run")
        gateway.stop()
    }

    /// A Pushgateway that refuses connections: one warning, exit 0, and the same training as
    /// without it (the same seed gives the same losses to the last bit).
    @Test func train_pushgatewayRefused_warnsOnce_andTrainsAlike() throws {
        let port = LoopbackPort()   // bound, not listening
        let pushed = try train(["--pushgateway", "http://127.0.0.1:\(port.port)"], runDir: "pushed", epochs: 3)
        expectSuccess(pushed)
        let warnings = pushed.stderrLines.filter { $0.contains("pushgateway") }
        #expect(warnings.count == 1 && warnings[0].hasPrefix("warning: "), "\(pushed.stderr)")
        let plain = try train([], runDir: "plain", epochs: 3)
        expectSuccess(plain)
        func figures(_ folder: String) throws -> [[Double?]] {
            let run = try work.json(folder + "/run.json")
            let epochs = (run["epochs"] as? [[String: Any]] ?? []).map { epoch in
                ["train_loss", "train_accuracy", "val_loss", "val_accuracy"].map { epoch[$0] as? Double }
            }
            return epochs + [[(run["test"] as? [String: Any])?["loss"] as? Double]]
        }
        #expect(try figures("pushed") == figures("plain"))
        #expect(try figures("pushed").count == 4)
    }

    /// `footprint measure`: the command's energy, CO2e, cost and power, and no training figures.
    @Test func measure_exportsTheCommandsFootprint() throws {
        let gateway = try Pushgateway()
        let result = try Fmctl.run(["footprint", "measure", "--run-dir", "m", "--price-per-kwh", "0.3", "--currency", "EUR",
                                    "--metrics-textfile", "m.prom", "--pushgateway", gateway.url, "--", "sh", "-c", "sleep 0.3"],
                                   in: work.path)
        expectSuccess(result)
        let check = try PrometheusTools.checkMetrics(work.file("m.prom"))
        #expect(check.status == 0 && check.output.isEmpty, "promtool check metrics: exit \(check.status)\n\(check.output)")
        try expectMetrics(PrometheusText(try work.text("m.prom")), matchRunIn: "m", training: false)
        try expectMetrics(try gateway.metrics(), matchRunIn: "m", training: false)
    }

    /// A malformed URL is a usage error (64), a textfile that cannot be written an I/O error
    /// (74): one line each, before a run folder exists, and an earlier textfile stays as it was.
    @Test func badMetricsOptions_areOneLineErrors_andWriteNothing() throws {
        try work.write("old.prom", "fmctl_epoch 7\n")
        try work.write("plain-file", "x")
        let cases: [([String], Int32, String)] = [
            (["--pushgateway", "localhost:9091", "--metrics-textfile", "old.prom"], 64, "--pushgateway"),
            (["--pushgateway", "http://host:9091/?job=x"], 64, "--pushgateway"),
            (["--metrics-textfile", "missing/m.prom"], 74, "--metrics-textfile missing/m.prom"),
            (["--metrics-textfile", "plain-file/m.prom"], 74, "--metrics-textfile plain-file/m.prom"),
            (["--metrics-textfile", "."], 74, "is a folder"),
        ]
        for (options, code, mention) in cases {
            expectUserError(try train(options), exitCode: code, mentions: mention)
            #expect(!work.exists("run"), "\(options) created the run folder")
            let measured = try Fmctl.run(["footprint", "measure", "--run-dir", "m"] + options + ["--", "true"], in: work.path)
            expectUserError(measured, exitCode: code, mentions: mention)
            #expect(!work.exists("m"), "\(options) created the run folder")
        }
        #expect(try work.text("old.prom") == "fmctl_epoch 7\n")
    }
}
