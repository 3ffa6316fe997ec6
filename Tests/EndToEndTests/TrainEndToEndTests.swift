import Foundation
import Testing

/// CodeCarbon 3.3's emissions.csv header (docs/run-folder.md), copied here rather than taken from the
/// Footprint module, so a change on either side shows up.
let codeCarbonHeader = "timestamp,project_name,run_id,experiment_id,duration,emissions,emissions_rate,cpu_power,gpu_power,ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,water_consumed,country_name,country_iso_code,region,cloud_provider,cloud_region,os,python_version,codecarbon_version,cpu_count,cpu_model,gpu_count,gpu_model,longitude,latitude,ram_total_size,tracking_mode,cpu_utilization_percent,gpu_utilization_percent,ram_utilization_percent,ram_used_gb,on_cloud,pue,wue"

/// `fmctl train` on real and written data: console output, the run folder, and the report.
@Suite struct TrainEndToEndTests {
    /// The seed's MLP on the installed Fashion-MNIST: Keras-style output, every file of the run
    /// folder, estimates labelled as such, and the report in all four formats.
    @Test func train_fashionMNIST_writesRunFolderAndReport() throws {
        let work = TemporaryDirectory()
        let result = try Fmctl.run(["train", "--model", "mlp", "--epochs", "1", "--limit", "2000", "--threads", "1", "--run-dir", "run"],
                                   in: work.path)
        expectSuccess(result)
        #expect(result.stdout.contains("Epoch 1/1"))
        let epochLine = result.stdout.split(separator: "\n").first { $0.hasPrefix("57/57 ") }
        #expect(epochLine != nil, "no Keras-style line for 57 steps: \(result.stdout)")
        // Keras writes the step time in ms, or in us below a millisecond (a fast machine does
        // the MLP's steps in under one).
        let stepTime = try Regex(" [0-9]+(ms|us)/step - ")
        #expect(epochLine?.contains(stepTime) == true, "no step time in \(epochLine ?? "")")
        for key in ["- accuracy: ", "- loss: ", "- val_accuracy: ", "- val_loss: ", "energy: ", "(estimate)"] {
            #expect(epochLine?.contains(key) == true, "\(key) missing from \(epochLine ?? "")")
        }
        // The warning says why the figures are estimates.
        #expect(result.stderr.contains("no RAPL"))
        #expect(result.stderr.contains("estimate"))

        // run.json
        let run = try work.json("run/run.json")
        #expect(run["status"] as? String == "completed")
        #expect(run["model"] as? String == "mlp")
        let accuracy = (run["test"] as? [String: Any])?["accuracy"] as? Double ?? 0
        #expect(accuracy > 0.6, "test accuracy \(accuracy), chance is 0.1")
        let config = run["config"] as? [String: Any] ?? [:]
        #expect(config["train_samples"] as? Int == 1800)
        #expect(config["validation_samples"] as? Int == 200)
        let measurement = run["measurement"] as? [String: Any] ?? [:]
        #expect(measurement["source"] as? String == "estimate")
        #expect((measurement["warnings"] as? [String])?.contains { $0.contains("no RAPL") } == true)
        let epochs = run["epochs"] as? [[String: Any]] ?? []
        #expect(epochs.count == 1)
        #expect(epochs.first?["source"] as? String == "estimate")
        #expect((epochs.first?["energy_j"] as? Double ?? 0) > 0)
        #expect(epochs.first?["interrupted"] as? Bool == false)

        // epochs.csv: header and one row, every energy figure from the estimate.
        let epochRows = try work.text("run/epochs.csv").split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        #expect(epochRows.count == 2)
        if epochRows.count == 2, let source = epochRows[0].firstIndex(of: "source"), let energy = epochRows[0].firstIndex(of: "energy_j") {
            #expect(epochRows[1][source] == "estimate")
            #expect((Double(epochRows[1][energy]) ?? 0) > 0)
        }
        // power.csv: a header and at least the first sample, labelled.
        let power = try work.text("run/power.csv").split(separator: "\n")
        #expect(power.first?.hasPrefix("timestamp,elapsed_s,") == true)
        #expect(power.count >= 2 && power.dropFirst().allSatisfy { $0.hasSuffix(",estimate") })
        // emissions.csv: CodeCarbon's exact columns and one row.
        let emissions = try work.text("run/emissions.csv").split(separator: "\n")
        #expect(emissions.first.map(String.init) == codeCarbonHeader)
        #expect(emissions.count == 2)
        // The checkpoint: safetensors with the architecture in its metadata.
        let checkpoint = try SafetensorsFile.split(try work.bytes("run/model.safetensors"))
        #expect((checkpoint.header["__metadata__"] as? [String: Any])?["model"] != nil)

        // footprint report --format json: the keys of docs/json-report.md, nested ones too.
        let report = try Fmctl.run(["footprint", "report", "run", "--format", "json"], in: work.path)
        expectSuccess(report)
        let json = try jsonObject(Data(report.stdout.utf8))
        #expect(Set(json.keys).isSuperset(of: ["run_id", "model", "dataset", "status", "measurement", "carbon", "epochs", "total", "test"]))
        let reportMeasurement = json["measurement"] as? [String: Any] ?? [:]
        #expect(Set(reportMeasurement.keys).isSuperset(of: ["source", "domains", "sample_interval_s", "warnings"]))
        #expect(reportMeasurement["source"] as? String == "estimate")
        #expect(Set((json["carbon"] as? [String: Any] ?? [:]).keys)
            .isSuperset(of: ["intensity_g_per_kwh", "region", "source", "year", "pue", "price_per_kwh", "currency"]))
        let reportEpochs = json["epochs"] as? [[String: Any]] ?? []
        #expect(reportEpochs.count == 1)
        #expect(Set((reportEpochs.first ?? [:]).keys).isSuperset(of: [
            "epoch", "duration_s", "samples", "energy_j", "energy_kwh", "co2e_g", "cost", "avg_power_w", "train_loss",
            "train_accuracy", "val_loss", "val_accuracy", "flops"]))
        #expect(Set((json["total"] as? [String: Any] ?? [:]).keys).isSuperset(of: ["duration_s", "energy_j", "energy_kwh", "co2e_g", "cost", "flops"]))
        #expect(Set((json["test"] as? [String: Any] ?? [:]).keys).isSuperset(of: ["loss", "accuracy"]))
        #expect(json["run_id"] as? String == "run")

        let table = try Fmctl.run(["footprint", "report", "run", "--format", "table"], in: work.path)
        expectSuccess(table)
        #expect(table.stdout.contains("estimate") && table.stdout.contains("total"))
        let csv = try Fmctl.run(["footprint", "report", "run", "--format", "csv"], in: work.path)
        expectSuccess(csv)
        let csvLines = csv.stdout.split(separator: "\n")
        #expect(csvLines.first?.hasPrefix("epoch,") == true)
        #expect(csvLines.count == 3 && csvLines.last?.hasPrefix("total,") == true)
        let markdown = try Fmctl.run(["footprint", "report", "run", "--format", "markdown"], in: work.path)
        expectSuccess(markdown)
        #expect(markdown.stdout.contains("| ---: |") && markdown.stdout.contains("## "))
        // Without RUN_DIR: the newest run under runs/.
        try FileManager.default.createDirectory(atPath: work.file("runs"), withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: work.file("run"), toPath: work.file("runs/run"))
        let newest = try Fmctl.run(["footprint", "report", "--format", "json"], in: work.path)
        expectSuccess(newest)
        #expect(try jsonObject(Data(newest.stdout.utf8))["run_id"] as? String == "run")
    }

    /// The seed's CNN (the default model) on a slice of Fashion-MNIST: it trains, beats chance,
    /// and the run records its 693,962 parameters. A slice, because a debug build (what
    /// `swift test` runs) takes about half a second per CNN step.
    @Test func train_defaultCNN_onFashionMNISTSlice() throws {
        let work = TemporaryDirectory()
        try Datasets.fashionMNISTSubset(in: work.file("data"), train: 480, test: 160)
        let result = try Fmctl.run(["train", "--dataset", "data", "--epochs", "1", "--validation-split", "0", "--threads", "1",
                                    "--run-dir", "run"], in: work.path, timeout: 90)
        expectSuccess(result)
        #expect(result.stdout.contains("cnn (693,962 parameters)"))
        #expect(result.stdout.contains("Epoch 1/1"))
        #expect(result.stdout.contains("15/15 "))
        let run = try work.json("run/run.json")
        #expect(run["status"] as? String == "completed")
        #expect((run["config"] as? [String: Any])?["parameters"] as? Int == 693_962)
        let accuracy = (run["test"] as? [String: Any])?["accuracy"] as? Double ?? 0
        #expect(accuracy > 0.4, "test accuracy \(accuracy) after 480 samples, chance is 0.1")
    }

    /// A model a user writes in JSON trains, and its name comes from the file.
    @Test func train_userModelJSON() throws {
        let work = TemporaryDirectory()
        try work.write("my.json", tinyMLPJSON)
        let result = try Fmctl.run(["train", "--model", "my.json", "--epochs", "1", "--limit", "2000", "--threads", "1", "--run-dir", "run"],
                                   in: work.path)
        expectSuccess(result)
        #expect(result.stdout.contains("tiny (25,450 parameters)"))
        let run = try work.json("run/run.json")
        #expect(run["status"] as? String == "completed")
        #expect(run["model"] as? String == "tiny")
        #expect((run["config"] as? [String: Any])?["model_source"] as? String == "my.json")
        let accuracy = (run["test"] as? [String: Any])?["accuracy"] as? Double ?? 0
        #expect(accuracy > 0.4, "test accuracy \(accuracy), chance is 0.1")
    }

    /// Carbon settings from the command line reach the record: region, PUE, price.
    @Test func train_carbonSettings() throws {
        let work = TemporaryDirectory()
        try Datasets.synthetic(in: work.file("data"))
        let result = try Fmctl.run(["train", "--model", "mlp", "--dataset", "data", "--epochs", "1", "--threads", "1", "--run-dir", "run",
                                    "--region", "FRA", "--pue", "1.5", "--price-per-kwh", "0.2", "--currency", "EUR"], in: work.path)
        expectSuccess(result)
        let run = try work.json("run/run.json")
        let carbon = run["carbon"] as? [String: Any] ?? [:]
        #expect(carbon["region"] as? String == "FRA")
        #expect(carbon["pue"] as? Double == 1.5)
        #expect(carbon["currency"] as? String == "EUR")
        let intensity = carbon["intensity_g_per_kwh"] as? Double ?? -1
        let epoch = (run["epochs"] as? [[String: Any]])?.first ?? [:]
        let kWh = epoch["energy_kwh"] as? Double ?? 0
        let co2e = epoch["co2e_g"] as? Double ?? 0
        let cost = epoch["cost"] as? Double ?? 0
        #expect(kWh > 0)
        #expect(abs(co2e - kWh * 1.5 * intensity) <= 1e-9 * max(1, co2e))
        #expect(abs(cost - kWh * 1.5 * 0.2) <= 1e-12 * max(1, cost) + 1e-15)
    }
}
