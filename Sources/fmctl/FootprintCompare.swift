import ArgumentParser
import Footprint
import Reports
import RunRecords

extension RunComparisonFormat: ExpressibleByArgument {}

/// `fmctl footprint compare RUN_DIR...`: runs side by side, and in HTML the Pareto chart of
/// test accuracy against CO2e.
struct FootprintCompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare runs side by side: energy, CO2e, cost, test accuracy, joules per sample, Pareto-optimal runs.")

    @Argument(help: ArgumentHelp("Run folders to compare.", valueName: "run-dir"))
    var runDirectories: [String]

    @Option(help: "Output format: table, json, markdown or html (with the accuracy-against-CO2e Pareto chart).")
    var format: RunComparisonFormat = .table

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Write the comparison to this file instead of stdout.", valueName: "file"))
    var output: String?

    func validate() throws {
        guard !runDirectories.isEmpty else { throw ValidationError("give at least one run folder") }
    }

    func run() throws {
        try withFootprintErrors {
            let records = try runDirectories.map { try RunFolder.load(path: $0) }
            try writeReport(RunComparison(records: records).render(format: format), to: output)
        }
    }
}
