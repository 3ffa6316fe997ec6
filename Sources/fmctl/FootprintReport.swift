import ArgumentParser
import Footprint

extension RunReportFormat: ExpressibleByArgument {}

/// `fmctl footprint report [RUN_DIR]`: a run's per-epoch energy, carbon, cost, provenance,
/// forecast vs actual and efficiency.
struct FootprintReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Show a run's energy, CO2e and cost per epoch, with provenance and forecasts.")

    @Argument(help: ArgumentHelp("Run folder (default: the newest run under --runs).", valueName: "run-dir"))
    var runDirectory: String?

    @Option(help: "Output format: table, json, csv or markdown.")
    var format: RunReportFormat = .table

    @Option(name: .customLong("runs"), help: ArgumentHelp("Folder holding run folders.", valueName: "dir"))
    var runsFolder = "runs"

    func run() throws {
        try withFootprintErrors {
            let path = try runDirectory ?? RunFolder.newestRun(in: runsFolder)
            let record = try RunFolder.load(path: path)
            print(RunReport.render(record, format: format), terminator: "")
        }
    }
}
