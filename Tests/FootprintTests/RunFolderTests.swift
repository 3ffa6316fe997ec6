import Foundation
import Testing
@testable import Footprint
@testable import RunRecords
@testable import Reports
@testable import FMSupport

@Suite struct RunFolderTests {
    let temporary = TemporaryDirectory()
    let carbon = CarbonSettings(intensityGramsPerKWh: 500, region: "FRA", source: "test", year: 2023, pue: 1.2,
                                pricePerKWh: 0.25, currency: "EUR")

    func measurement(joules: Double, seconds: Double, source: EnergySource = .rapl) -> EnergyMeasurement {
        EnergyMeasurement(name: "epoch", startedAt: Date(), durationSeconds: seconds, energyJoules: joules,
                          domainJoules: ["package-0": joules * 0.8, "dram-0": joules * 0.2, "core-0": joules * 0.5],
                          countedDomains: ["package-0", "dram-0"], source: source, method: "test", warnings: [],
                          sampleCount: 10, missingSampleCount: 0, cpuSeconds: seconds, logicalCPUs: 2,
                          energyAboveIdleJoules: joules / 2)
    }

    func record(planned: Int? = 3) -> RunRecord {
        RunRecord(runID: "", model: "cnn", dataset: "fashion-mnist", config: RunConfiguration(training: TrainingConfiguration(epochs: 3, learningRate: 0.001, nesterov: true)),
                  host: testHost, versions: ["footprint": FootprintVersion.string],
                  measurement: MeasurementProvenance(source: .rapl, domains: ["package-0", "dram-0"], breakdownDomains: ["core-0"],
                                                     sampleIntervalSeconds: 1, warnings: ["a warning"], method: "test"),
                  carbon: carbon, plannedEpochs: planned)
    }

    func epoch(_ number: Int, joules: Double) -> EpochRecord {
        EpochRecord(epoch: number, measurement: measurement(joules: joules, seconds: 10),
                    phases: ["train": measurement(joules: joules * 0.9, seconds: 9), "validation": measurement(joules: joules * 0.1, seconds: 1)],
                    samples: 1000, metrics: EpochMetrics(trainLoss: 0.5, trainAccuracy: 0.8, valLoss: 0.4, valAccuracy: 0.85),
                    flops: 1e12, carbon: carbon)
    }

    @Test func epochRecord_derivesCarbonCostAndEfficiency() {
        let record = epoch(1, joules: 3.6e6)   // 1 kWh
        #expect(record.energyKWh == 1)
        #expect(abs(record.co2eGrams! - 600) < 1e-9)      // 1 kWh x 1.2 x 500
        #expect(abs(record.cost! - 0.3) < 1e-12)           // 1 kWh x 1.2 x 0.25
        #expect(record.joulesPerSample == 3600)
        #expect(abs(record.flopsPerJoule! - 1e12 / 3.6e6) < 1e-6)
        #expect(record.averagePowerWatts == 3.6e5)
        #expect(record.phases["validation"]?.energyJoules == 3.6e5)
        let unmeasured = EpochRecord(epoch: 1, measurement: nil, durationSeconds: 5, samples: 10, metrics: EpochMetrics(trainLoss: 1), carbon: carbon)
        #expect(unmeasured.energyJoules == nil && unmeasured.co2eGrams == nil && unmeasured.trainLoss == 1)
    }

    @Test func folder_writesAllFilesAndRecordsEpochs() throws {
        let parent = temporary.path
        let folder = try RunFolder(record: record(), parent: parent)
        #expect(folder.path.hasPrefix(parent + "/"))
        #expect(folder.record.runID.hasSuffix("Z-cnn"))
        #expect(folder.record.runID.count == "20261130T015000Z-cnn".count)
        try folder.recordEpoch(epoch(1, joules: 1000), powerSamples: [
            PowerSample(timestamp: Date(), elapsedSeconds: 1, watts: ["package-0": 80, "dram-0": 20], totalWatts: 100, source: .rapl),
            PowerSample(timestamp: Date(), elapsedSeconds: 2, watts: ["package-0": 81], totalWatts: nil, source: .rapl),
        ], powerDomains: ["package-0", "dram-0"])
        let second = try folder.recordEpoch(epoch(2, joules: 1200))
        #expect(second.forecast != nil)

        let epochsCSV = CSV.parse(try String(contentsOfFile: folder.epochsCSVPath, encoding: .utf8))
        #expect(epochsCSV[0] == RunFolder.epochColumns)
        #expect(epochsCSV.count == 3)
        #expect(epochsCSV[2][3] == "1200")
        let power = CSV.parse(try String(contentsOfFile: folder.powerCSVPath, encoding: .utf8))
        #expect(power[0] == ["timestamp", "elapsed_s", "package-0_w", "dram-0_w", "total_w", "source"])
        #expect(power[2][3] == "" && power[2][4] == "")   // missing sample: empty, never zero

        let emissions = CSV.parse(try String(contentsOfFile: folder.emissionsCSVPath, encoding: .utf8))
        #expect(emissions.count == 2)
        #expect(emissions[0].count == 38)
        let row = Dictionary(uniqueKeysWithValues: zip(emissions[0], emissions[1]))
        let kWh: Double = 2200 / 3.6e6
        let kilograms: Double = kWh * 1.2 * 500 / 1000
        let cpuKWh: Double = 2200 * 0.8 / 3.6e6
        #expect(Double(row["energy_consumed"]!)! == kWh)
        #expect(abs(Double(row["emissions"]!)! - kilograms) < 1e-15)
        #expect(abs(Double(row["cpu_energy"]!)! - cpuKWh) < 1e-15)
        #expect(row["gpu_power"] == "" && row["water_consumed"] == "")
        #expect(row["country_iso_code"] == "FRA" && row["pue"] == "1.2" && row["project_name"] == "cnn")

        try folder.finish(status: .completed, test: TestMetrics(loss: 0.3, accuracy: 0.9))
        let loaded = try RunFolder.load(path: folder.path)
        #expect(loaded == folder.record)
        #expect(loaded.status == .completed)
        #expect(loaded.total.energyJoules == 2200)
        #expect(loaded.total.samples == 2000)
        #expect(loaded.config.training?.learningRate == 0.001)
        #expect(loaded.forecasts.count == 2)
        // The atomic writes leave no temporary files behind.
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        #expect(names == ["emissions.csv", "epochs.csv", "power.csv", "run.json"])
        #expect(try RunFolder.newestRun(in: parent) == folder.path)
    }

    @Test func runJSON_isReplacedAtomically() throws {
        let folder = try RunFolder(path: temporary.file("run"), record: record())
        let before = try String(contentsOfFile: folder.runJSONPath, encoding: .utf8)
        #expect(before.contains("\"status\" : \"running\""))
        var inode: stat = stat()
        stat(folder.runJSONPath, &inode)
        let oldInode = inode.st_ino
        try folder.setStatus(.interrupted, reason: "SIGINT")
        stat(folder.runJSONPath, &inode)
        #expect(inode.st_ino != oldInode)   // a new file renamed over the old, never rewritten in place
        #expect(try RunFolder.load(path: folder.path).statusReason == "SIGINT")
    }

    @Test func snakeCaseKeysInRunJSON() throws {
        let folder = try RunFolder(path: temporary.file("run"), record: record())
        try folder.recordEpoch(epoch(1, joules: 50))
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder.runJSONPath))) as! [String: Any]
        for key in ["run_id", "model", "dataset", "status", "started_at", "config", "host", "versions", "measurement", "carbon", "epochs", "total", "planned_epochs"] {
            #expect(object[key] != nil, "missing \(key)")
        }
        let host = object["host"] as! [String: Any]
        #expect(Set(host.keys).isSuperset(of: ["hostname", "os", "cpu_model", "cpu_count", "ram_total_gb"]))
        let measurement = object["measurement"] as! [String: Any]
        #expect(Set(measurement.keys).isSuperset(of: ["source", "domains", "sample_interval_s", "warnings", "method", "sampler_overhead"]))
        let epoch = (object["epochs"] as! [[String: Any]])[0]
        #expect(Set(epoch.keys).isSuperset(of: ["epoch", "duration_s", "energy_j", "energy_kwh", "co2e_g", "avg_power_w",
                                                "phases", "domains", "joules_per_sample", "flops_per_joule", "energy_above_idle_j",
                                                "interrupted", "forecast"]))
    }

    @Test func errors_haveSysexitsCodes() throws {
        let file = temporary.file("file")
        try "x".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(throws: FootprintError.self) { try RunFolder(path: file + "/run", record: record()) }
        do { _ = try RunFolder(path: file + "/run", record: record()) } catch let error as FootprintError {
            #expect(error.exitCode == 74)
            #expect(error.description.hasPrefix(file + "/run: cannot create"))
        }
        do { _ = try RunFolder.load(path: file + "-missing") } catch let error as FootprintError { #expect(error.exitCode == 66) }
        let bad = temporary.path
        try "{\"run_id\": 3}".write(toFile: bad + "/run.json", atomically: true, encoding: .utf8)
        do { _ = try RunFolder.load(path: bad) } catch let error as FootprintError {
            #expect(error.exitCode == 65)
            #expect(error.description.contains("run.json"))
        }
        let taken = try RunFolder(path: temporary.file("run"), record: record())
        #expect(throws: FootprintError.self) { try RunFolder(path: taken.path, record: record()) }
    }

    @Test func emissionsHeader_isCodeCarbonsExact38Columns() {
        let expected = "timestamp,project_name,run_id,experiment_id,duration,emissions,emissions_rate,cpu_power,gpu_power,ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,water_consumed,country_name,country_iso_code,region,cloud_provider,cloud_region,os,python_version,codecarbon_version,cpu_count,cpu_model,gpu_count,gpu_model,longitude,latitude,ram_total_size,tracking_mode,cpu_utilization_percent,gpu_utilization_percent,ram_utilization_percent,ram_used_gb,on_cloud,pue,wue\n"
        #expect(EmissionsCSV.header == expected)
        #expect(EmissionsCSV.columns.count == 38)
    }

    @Test func forecast_rangeCoversMinMaxAndAtLeastTenPercent() throws {
        let one = try #require(RunForecast.make(after: [epoch(1, joules: 3.6e6)], plannedEpochs: 5, carbon: carbon))
        #expect(one.energyKWh == 5)
        #expect(abs(one.energyKWhLow - (1 + 4 * 0.9)) < 1e-9)
        #expect(abs(one.energyKWhHigh - (1 + 4 * 1.1)) < 1e-9)
        #expect(abs(one.co2eGrams - 5 * 1.2 * 500) < 1e-9)
        let two = try #require(RunForecast.make(after: [epoch(1, joules: 3.6e6), epoch(2, joules: 7.2e6)], plannedEpochs: 4, carbon: carbon))
        #expect(abs(two.energyKWh - (3 + 2 * 1.5)) < 1e-9)
        #expect(abs(two.energyKWhLow - (3 + 2 * 1)) < 1e-9)
        #expect(abs(two.energyKWhHigh - (3 + 2 * 2)) < 1e-9)
        #expect(RunForecast.make(after: [], plannedEpochs: 4, carbon: carbon) == nil)
    }

    @Test func csvEscaping() {
        #expect(CSV.row(["a", "b,c", "say \"hi\"", "line\nbreak"]) == "a,\"b,c\",\"say \"\"hi\"\"\",\"line\nbreak\"\n")
        #expect(CSV.parse("a,\"b,c\",\"say \"\"hi\"\"\"\n") == [["a", "b,c", "say \"hi\""]])
    }
}

@Suite struct RunReportTests {
    func completedRun() throws -> RunRecord {
        let tests = RunFolderTests()
        let folder = try RunFolder(path: tests.temporary.file("run"), record: tests.record(planned: 2))
        try folder.recordEpoch(tests.epoch(1, joules: 1000))
        try folder.recordEpoch(tests.epoch(2, joules: 1100))
        try folder.finish(status: .completed, test: TestMetrics(loss: 0.3, accuracy: 0.9))
        return folder.record
    }

    @Test func json_hasExactlyTheDocumentedKeysFirst() throws {
        let json = RunReport.json(try completedRun())
        let top = ["run_id", "model", "dataset", "status", "measurement", "carbon", "epochs", "total", "test"]
        #expect(Array(json.keys.prefix(top.count)) == top)
        #expect(Array(json["measurement"]!.keys.prefix(4)) == ["source", "domains", "sample_interval_s", "warnings"])
        #expect(Array(json["carbon"]!.keys) == ["intensity_g_per_kwh", "region", "source", "year", "pue", "price_per_kwh", "currency"])
        guard case let .array(epochs) = json["epochs"]! else { Issue.record("epochs not an array"); return }
        #expect(Array(epochs[0].keys.prefix(13)) == ["epoch", "duration_s", "samples", "energy_j", "energy_kwh", "co2e_g", "cost",
                                                      "avg_power_w", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "flops"])
        #expect(Array(json["total"]!.keys.prefix(6)) == ["duration_s", "energy_j", "energy_kwh", "co2e_g", "cost", "flops"])
        #expect(Array(json["test"]!.keys) == ["loss", "accuracy"])
        #expect(json["total"]!["energy_j"] == .number(2100))
        // The rendered text is valid JSON.
        let text = RunReport.render(try completedRun(), format: .json)
        #expect(try JSONSerialization.jsonObject(with: Data(text.utf8)) is [String: Any])
    }

    @Test func table_markdown_csv_showTotalsProvenanceAndForecasts() throws {
        let record = try completedRun()
        let table = RunReport.render(record, format: .table)
        #expect(table.contains("Energy: rapl, domains package-0 + dram-0"))
        #expect(table.contains("breakdown (not added): core-0"))
        #expect(table.contains("Carbon: 500 gCO2e/kWh, region FRA"))
        #expect(table.contains("Forecast vs actual"))
        #expect(table.contains("total"))
        let markdown = RunReport.render(record, format: .markdown)
        #expect(markdown.contains("| epoch | time s |"))
        let csv = CSV.parse(RunReport.render(record, format: .csv))
        #expect(csv[0] == RunReport.csvColumns)
        #expect(csv.last?.first == "total")
        #expect(csv.last?[3] == "2100")
        let checks = RunReport.forecastVersusActual(record)
        #expect(checks.count == 2)
        #expect(abs(checks[0].actualKWh! - 2100 / 3.6e6) < 1e-15)
        #expect(checks[1].withinRange == true)
    }

    @Test func jsonValue_rendersOrderedAndEscaped() {
        let value: JSONValue = ["b": 1, "a": [true, nil, "x\"y\n"], "c": 0.5]
        #expect(value.rendered(pretty: false) == "{\"b\":1,\"a\":[true,null,\"x\\\"y\\n\"],\"c\":0.5}")
        let infinite: Double? = .infinity
        #expect(JSONValue.number(infinite) == .null)
    }
}
