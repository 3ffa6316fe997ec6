import ArgumentParser
import Foundation
import Footprint

/// `fmctl footprint`: energy, carbon and cost of runs and commands.
struct FootprintCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "footprint",
        abstract: "Energy (J, kWh), CO2e and cost: report runs, probe RAPL counters, measure any command.",
        subcommands: [FootprintReportCommand.self, FootprintCompareCommand.self, FootprintProbeCommand.self,
                      FootprintMeasureCommand.self, FootprintProjectCommand.self])
}

/// Writes one line to stderr.
func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// Runs `body`, turning a FootprintError into its one-line message on stderr and its sysexits code.
func withFootprintErrors<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let error as FootprintError {
        printError("fmctl: \(error.description)")
        throw ExitCode(error.exitCode)
    }
}
