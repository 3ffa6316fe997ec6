import ArgumentParser
import Foundation
import Footprint
import Reports
import RunRecords
#if canImport(Glibc)
import Glibc
#endif

/// `fmctl footprint measure [options] -- CMD [ARGS...]`: runs a command inside one window,
/// writes a run folder for it, prints its footprint, and exits with the command's status
/// (128 + n when a signal ended it).
struct FootprintMeasureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "measure",
        abstract: "Run a command and report its energy, CO2e and cost (a run folder too).")

    @OptionGroup var footprint: FootprintOptions

    @OptionGroup var metrics: MetricsOptions

    @Option(name: .customLong("run-dir"), help: ArgumentHelp("Run folder to write (default: runs/<UTC timestamp>-<command>).", valueName: "dir"))
    var runDirectory: String?

    @Argument(parsing: .postTerminator, help: ArgumentHelp("The command and its arguments, after --.", valueName: "command"))
    var command: [String] = []

    func validate() throws {
        if command.isEmpty { throw ValidationError("missing command: fmctl footprint measure [options] -- CMD [ARGS...]") }
    }

    func run() throws {
        let status = try withFootprintErrors { () throws -> Int32 in
            let (settings, tracker) = try footprint.makeTracker()
            let exporter = try metrics.makeExporter()
            defer { exporter?.close() }
            let name = (command[0] as NSString).lastPathComponent
            let record = RunRecord(
                runID: "", model: name, config: RunConfiguration(command: command),
                host: settings.configuration.host, versions: ["footprint": FootprintVersion.string],
                measurement: tracker?.provenance, carbon: settings.carbon)
            let folder = try RunFolder(path: runDirectory, record: record)
            exporter?.follow(folder)
            try footprint.start(tracker, settings: settings, folder: folder)

            // Keep fmctl alive on Ctrl-C so it can record the interrupted command; a handler (unlike
            // SIG_IGN) is reset to the default in the child at exec.
            signal(SIGINT) { _ in }
            signal(SIGTERM) { _ in }
            unblockSignals([SIGINT, SIGTERM])
            try tracker?.beginWindow("command")
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = command
            let started = Date()
            do { try process.run() } catch {
                throw FootprintError.missingInput(path: command[0], expected: "a command that can be started (\(error.localizedDescription))")
            }
            tracker?.trackChildProcess(process.processIdentifier)
            process.waitUntilExit()
            let measurement = try tracker?.endWindow("command")
            tracker?.stop()

            let signalled = process.terminationReason == .uncaughtSignal
            let status = signalled ? 128 + process.terminationStatus : process.terminationStatus
            let outcome: RunStatus = status == 0 ? .completed : (signalled ? .interrupted : .failed)
            let reason = signalled ? "ended by signal \(process.terminationStatus)" : "exit status \(status)"
            if let tracker, let measurement {
                try folder.appendPowerSamples(tracker.drainPowerSamples(), domains: tracker.domains)
                try folder.finish(status: outcome, reason: reason, total: RunTotal(measurement: measurement, carbon: settings.carbon),
                                  measurement: tracker.provenance)
            } else {
                try folder.finish(status: outcome, reason: reason, total: RunTotal(durationSeconds: Date().timeIntervalSince(started)))
            }
            printError(summary(folder.record, measurement: measurement, path: folder.path))
            return status
        }
        if status != 0 { throw ExitCode(status) }
    }

    func summary(_ record: RunRecord, measurement: EnergyMeasurement?, path: String) -> String {
        "fmctl footprint: \(command.joined(separator: " ")): " + RunReport.summaryLine(record) + "; run folder \(path)"
    }
}
