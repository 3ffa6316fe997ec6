import ArgumentParser
import Foundation
import Footprint
import Models

@main
struct Fmctl: ParsableCommand {
    static let version = "0.1.0"
    static let configuration = CommandConfiguration(
        commandName: "fmctl",
        abstract: "Train neural networks fast on OpenBLAS and account for each epoch's energy, CO2e and cost.",
        version: version,
        subcommands: [Train.self, Evaluate.self, Predict.self, Summary.self, FootprintCommand.self])
}

/// Runs a command body, turning the project's error types into one line on stderr and
/// their sysexits code (DESIGN.md): no stack trace for a user's mistake.
func withUserErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as DataError {
        printError("fmctl: \(error.description)")
        throw ExitCode(error.exitCode)
    } catch let error as FootprintError {
        printError("fmctl: \(error.description)")
        throw ExitCode(error.exitCode)
    } catch let error as UsageError {
        printError("fmctl: \(error.message)")
        throw ExitCode(64)
    }
}

/// A bad option combination found after parsing (exit 64), e.g. a batch larger than the data.
struct UsageError: Error {
    let message: String
}

/// Resolves `--model cnn|mlp|FILE.json` (bad JSON: exit 65 naming the file; missing: 66).
func loadModelDescription(_ spec: String) throws -> ModelDescription {
    if let builtIn = ModelDescription.builtIn[spec] { return builtIn }
    guard FileManager.default.fileExists(atPath: spec) else {
        throw DataError(path: spec, message: "no such model file; expected cnn, mlp or a model JSON file", exitCode: 66)
    }
    guard let data = FileManager.default.contents(atPath: spec) else {
        throw DataError(path: spec, message: "cannot read the model file", exitCode: 74)
    }
    do {
        var d = try ModelDescription.parse(data)
        if d.name == "custom" { d.name = ((spec as NSString).lastPathComponent as NSString).deletingPathExtension }
        return d
    } catch let error as ModelError {
        throw DataError(path: spec, message: error.message, exitCode: 65)
    }
}

/// Builds the model, turning a structural error into a bad-data error naming the source.
func makeModel(_ description: ModelDescription, source: String, seed: UInt64) throws -> Sequential {
    do {
        return try description.makeModel(seed: seed)
    } catch let error as ModelError {
        throw DataError(path: source, message: error.message, exitCode: 65)
    }
}

func formatCount(_ n: Int) -> String {
    let f = NumberFormatter()
    f.numberStyle = .decimal
    f.groupingSeparator = ","
    return f.string(from: NSNumber(value: n)) ?? String(n)
}
