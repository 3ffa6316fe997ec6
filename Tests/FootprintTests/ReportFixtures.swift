import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
@testable import Footprint
@testable import RunRecords

/// Run records built in code for the HTML report, chart and comparison tests.
enum ReportFixtures {
    static let carbon = CarbonSettings(intensityGramsPerKWh: 400, region: "DEU", source: "test grid", year: 2023, pue: 1.5,
                                       pricePerKWh: 0.3, currency: "EUR")

    /// A completed run of `epochJoules.count` epochs: each epoch's train phase takes 90 % of
    /// its energy and validation 10 %, package 80 % and dram 20 %; a forecast after each epoch.
    static func run(id: String = "run-1", model: String = "cnn", epochJoules: [Double] = [1000, 1200, 1100],
                    accuracies: [Double] = [0.80, 0.85, 0.87], testAccuracy: Double? = 0.86, threads: Int = 2,
                    batchSize: Int = 32, warnings: [String] = ["a warning"]) -> RunRecord {
        var record = RunRecord(
            runID: id, model: model, dataset: "fashion-mnist", status: .completed,
            config: RunConfiguration(training: TrainingConfiguration(epochs: epochJoules.count, batchSize: batchSize,
                                                                     learningRate: Double(Float(0.001)), threads: threads)),
            host: testHost, versions: ["fmctl": "0.1.0"],
            measurement: MeasurementProvenance(source: .rapl, domains: ["package-0", "dram-0"], breakdownDomains: ["core-0"],
                                               sampleIntervalSeconds: 0.5, warnings: warnings, method: "powercap counters"),
            carbon: carbon, plannedEpochs: epochJoules.count)
        for (index, joules) in epochJoules.enumerated() {
            var epoch = epochRecord(index + 1, joules: joules, accuracy: accuracies[index % accuracies.count])
            epoch.forecast = RunForecast.make(after: record.epochs + [epoch], plannedEpochs: epochJoules.count, carbon: carbon)
            record.epochs.append(epoch)
        }
        record.total = RunTotal(epochs: record.epochs, carbon: carbon)
        record.test = testAccuracy.map { TestMetrics(loss: 0.4, accuracy: $0) }
        return record
    }

    static func epochRecord(_ number: Int, joules: Double, accuracy: Double) -> EpochRecord {
        let kWh = joules / 3.6e6
        return EpochRecord(
            epoch: number, durationSeconds: 10, samples: 1000, energyJoules: joules, energyKWh: kWh,
            co2eGrams: carbon.co2eGrams(energyKWh: kWh), cost: carbon.cost(energyKWh: kWh), averagePowerWatts: joules / 10,
            metrics: EpochMetrics(trainLoss: 0.5, trainAccuracy: accuracy - 0.02, valLoss: 0.45, valAccuracy: accuracy),
            phases: ["train": PhaseRecord(durationSeconds: 9, energyJoules: joules * 0.9),
                     "validation": PhaseRecord(durationSeconds: 1, energyJoules: joules * 0.1)],
            domains: ["package-0": joules * 0.8, "dram-0": joules * 0.2, "core-0": joules * 0.5],
            joulesPerSample: joules / 1000, source: .rapl)
    }

    /// power.csv text as RunFolder writes it: 0.5 s samples, one with a missing dram reading.
    static let powerCSV = """
    timestamp,elapsed_s,package-0_w,dram-0_w,total_w,source
    2026-11-30T01:50:00.000Z,0.5,80,20,100,rapl
    2026-11-30T01:50:00.500Z,1,90,21,111,rapl
    2026-11-30T01:50:01.000Z,1.5,95,,,rapl
    2026-11-30T01:50:01.500Z,2,70,19,89,rapl

    """
}

/// Every element of an XML document with its attributes, in document order; `wellFormed`
/// is XMLParser's verdict.
final class XMLElements: NSObject, XMLParserDelegate {
    var elements: [(name: String, attributes: [String: String])] = []
    var texts: [String] = []
    private(set) var wellFormed = false
    private(set) var error: String?

    init(_ text: String) {
        super.init()
        let parser = XMLParser(data: Data(text.utf8))
        parser.delegate = self
        wellFormed = parser.parse()
        if !wellFormed { error = parser.parserError.map { "\($0)" } ?? "unknown" }
    }

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        elements.append((elementName, attributes))
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { texts.append(string) }

    func all(_ name: String, className: String? = nil) -> [[String: String]] {
        elements.filter { $0.name == name && (className == nil || $0.attributes["class"] == className) }.map(\.attributes)
    }

    /// Each `<svg>...</svg>` of an HTML page (charts do not nest).
    static func svgs(in html: String) -> [String] {
        var result: [String] = []
        var rest = html[...]
        while let start = rest.range(of: "<svg"), let end = rest.range(of: "</svg>", range: start.upperBound..<rest.endIndex) {
            result.append(String(rest[start.lowerBound..<end.upperBound]))
            rest = rest[end.upperBound...]
        }
        return result
    }
}
