import ArgumentParser
import FMSupport
import Foundation
import Footprint
import Reports
import RunRecords

extension RunReportFormat: ExpressibleByArgument {}

/// `fmctl footprint report [RUN_DIR]`: a run's per-epoch energy, carbon, cost, provenance,
/// forecast vs actual and efficiency; `--format html` adds charts in one self-contained page.
struct FootprintReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Show a run's energy, CO2e and cost per epoch, with provenance and forecasts.")

    @Argument(help: ArgumentHelp("Run folder (default: the newest run under --runs).", valueName: "run-dir"))
    var runDirectory: String?

    @Option(help: "Output format: table, json, csv, markdown or html (one self-contained page with charts).")
    var format: RunReportFormat = .table

    @Option(name: .customLong("runs"), help: ArgumentHelp("Folder holding run folders.", valueName: "dir"))
    var runsFolder = "runs"

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Write the report to this file instead of stdout.", valueName: "file"))
    var output: String?

    func run() throws {
        try withFootprintErrors {
            let path = try runDirectory ?? RunFolder.newestRun(in: runsFolder)
            let record = try RunFolder.load(path: path)
            let power = format == .html ? try PowerTimeline.load(runFolder: path) : nil
            try writeReport(RunReport.render(record, format: format, power: power), to: output)
        }
    }
}

/// Prints `text`, or writes it to `path` (replacing the file) and says where on stderr.
func writeReport(_ text: String, to path: String?) throws {
    guard let path else {
        print(text, terminator: "")
        return
    }
    // Foundation's error for a missing folder says only "The file doesn't exist"; name it.
    let folder = (path as NSString).deletingLastPathComponent
    var isFolder: ObjCBool = false
    if !folder.isEmpty, !(FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder) && isFolder.boolValue) {
        throw FootprintError.cannotCreate(path: path, reason: "\(folder) is not an existing folder")
    }
    do throws(FileWriteError) { try FileWriter.writeAtomically(Array(text.utf8), to: path) } catch { throw FootprintError(error) }
    printError("fmctl: wrote \(path)")
}
