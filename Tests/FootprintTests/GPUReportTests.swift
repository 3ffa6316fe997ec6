import Foundation
import Testing
@testable import Footprint
@testable import RunRecords
@testable import Reports
@testable import FMSupport

/// How a run with GPU domains reads back: emissions.csv's GPU columns, the JSON report's
/// domain sources and totals, the text and HTML reports.
@Suite struct GPUReportTests {
    static let gpu = GPURecord(index: 0, name: "NVIDIA H200", domain: "gpu-0", method: "energy counter")

    /// ReportFixtures' run with gpu-0 beside package and dram: 50, 20 and 30 % of each epoch.
    /// `cpu` measured by the estimate instead of RAPL when `estimated`.
    func gpuRun(estimated: Bool = false) -> RunRecord {
        var record = ReportFixtures.run()
        let (cpu, ram) = estimated ? ("cpu", "ram") : ("package-0", "dram-0")
        let cpuSource = estimated ? "estimate" : "rapl"
        record.measurement = MeasurementProvenance(
            source: estimated ? .estimate : .rapl, domains: [cpu, ram, "gpu-0"], sampleIntervalSeconds: 0.5, warnings: [],
            method: "test", domainSources: [cpu: cpuSource, ram: cpuSource, "gpu-0": "nvml"], gpus: [Self.gpu])
        for index in record.epochs.indices {
            let joules = record.epochs[index].energyJoules ?? 0
            record.epochs[index].domains = [cpu: joules * 0.5, ram: joules * 0.2, "gpu-0": joules * 0.3]
        }
        record.total = RunTotal(epochs: record.epochs, carbon: ReportFixtures.carbon)
        return record
    }

    @Test func emissionsCSV_fillsTheGPUColumns() {
        let record = gpuRun()
        let csv = CSV.parse(EmissionsCSV.header + EmissionsCSV.row(for: record))
        let row = Dictionary(uniqueKeysWithValues: zip(csv[0], csv[1]))
        let gpuJoules = 3300 * 0.3, seconds = record.total.durationSeconds
        #expect(abs(Double(row["gpu_power"]!)! - gpuJoules / seconds) < 1e-9)
        #expect(abs(Double(row["gpu_energy"]!)! - gpuJoules / 3.6e6) < 1e-15)
        #expect(row["gpu_count"] == "1")
        #expect(row["gpu_model"] == "1 x NVIDIA H200")
        // The CPU columns keep the package alone.
        #expect(abs(Double(row["cpu_power"]!)! - 3300 * 0.5 / seconds) < 1e-9)
        let twoModels = EmissionsCSV.gpuModel([Self.gpu, GPURecord(index: 1, name: "Tesla P100", domain: "gpu-1", method: "sampled power"),
                                              GPURecord(index: 2, name: "NVIDIA H200", domain: "gpu-2", method: "energy counter")])
        #expect(twoModels == "2 x NVIDIA H200, 1 x Tesla P100")
        // Without a GPU the columns stay empty, as before.
        let plain = Dictionary(uniqueKeysWithValues: zip(csv[0], CSV.parse(EmissionsCSV.header + EmissionsCSV.row(for: ReportFixtures.run()))[1]))
        #expect(plain["gpu_power"] == "" && plain["gpu_count"] == "" && plain["gpu_model"] == "")
    }

    @Test func json_addsDomainSourcesGPUsAndTotalDomains_afterTheDocumentedKeys() {
        let json = RunReport.json(gpuRun())
        let measurement = json["measurement"]!
        #expect(Array(measurement.keys.suffix(2)) == ["domain_sources", "gpus"])
        #expect(measurement["domain_sources"] == ["package-0": "rapl", "dram-0": "rapl", "gpu-0": "nvml"])
        #expect(measurement["gpus"] == [["index": 0, "name": "NVIDIA H200", "domain": "gpu-0", "method": "energy counter"]])
        let total = json["total"]!
        #expect(Array(total.keys.suffix(3)) == ["domains", "measured_domains", "estimated_domains"])
        #expect(total["domains"]?["gpu-0"] == .number(990))
        #expect(total["measured_domains"] == ["package-0", "dram-0", "gpu-0"])
        #expect(total["estimated_domains"] == [])
        guard case let .array(epochs) = json["epochs"]! else { Issue.record("epochs not an array"); return }
        #expect(epochs[0]["domains"]?["gpu-0"] == .number(300))
    }

    @Test func estimateBesideMeasuredGPU_saysWhichIsWhich() {
        let record = gpuRun(estimated: true)
        let table = RunReport.render(record, format: .table)
        #expect(table.contains("Energy: estimate + nvml, domains cpu + ram (estimate), gpu-0 (nvml); measured: gpu-0, estimated: cpu + ram"))
        #expect(table.contains("GPUs: gpu-0 NVIDIA H200 (energy counter)"))
        #expect(RunReport.summaryLine(record).contains("kWh, estimate + nvml)"))
        let total = RunReport.json(record)["total"]!
        #expect(total["measured_domains"] == ["gpu-0"])
        #expect(total["estimated_domains"] == ["cpu", "ram"])
    }

    @Test func html_chartsAndProvenanceShowTheGPU() {
        let html = HTMLReport.render(gpuRun(), power: PowerTimeline.parse(csv: """
            timestamp,elapsed_s,package-0_w,dram-0_w,gpu-0_w,total_w,source
            2026-11-30T01:50:00.000Z,0.5,80,20,300,400,rapl
            2026-11-30T01:50:00.500Z,1,90,21,310,421,rapl

            """))
        let svgs = XMLElements.svgs(in: html)
        let byDomain = svgs.first { $0.contains("energy-domain") } ?? ""
        #expect(XMLElements(byDomain).texts.contains("gpu-0"))
        let power = svgs.first { $0.contains("id=\"power") } ?? ""
        #expect(XMLElements(power).texts.contains("gpu-0"))
        #expect(html.contains("NVIDIA H200"))
        #expect(html.contains("package-0 + dram-0 (rapl), gpu-0 (nvml)"))
    }

    /// run.json written before GPUs were measured has neither key: every domain has the run's source.
    @Test func olderRunJSON_decodesWithTheRunsSource() throws {
        let json = """
            {"source": "rapl", "domains": ["package-0"], "breakdown_domains": [], "beside_domains": [],
             "sample_interval_s": 1, "warnings": [], "method": "m", "sampler_overhead": 0, "missing_samples": 0}
            """
        let provenance = try JSONDecoder().decode(MeasurementProvenance.self, from: Data(json.utf8))
        #expect(provenance.domainSources.isEmpty && provenance.gpus.isEmpty)
        #expect(provenance.sourceLabel == "rapl")
        #expect(provenance.measuredDomains == ["package-0"])
    }
}
