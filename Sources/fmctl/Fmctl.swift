import ArgumentParser
import Foundation
import Footprint
import Models
import Tensor

@main
struct Fmctl: ParsableCommand {
    static let version = "0.1.0"
    static let configuration = CommandConfiguration(
        commandName: "fmctl",
        abstract: "Train neural networks fast on OpenBLAS and account for each epoch's energy, CO2e and cost.",
        version: version,
        subcommands: [Train.self, Evaluate.self, Predict.self, Generate.self, Summary.self, Compress.self, FootprintCommand.self])

    /// ArgumentParser's `main`, except that a parsing or validation error is one line on stderr
    /// (`fmctl: --epochs must be ...`, exit 64) instead of the message, the usage and a hint:
    /// docs/exit-codes.md promises one line per error. Help and `--version` print in full as usual;
    /// errors already reported by `withUserErrors` arrive as a bare ExitCode.
    static func main() {
        restartWithIdleBLASThreads()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let exitCode as ExitCode {
            exit(withError: exitCode)
        } catch {
            let code = exitCode(for: error)
            let line = message(for: error).split(whereSeparator: \.isNewline).joined(separator: " ")
            guard code != .success, !line.isEmpty else { exit(withError: error) }
            printError("fmctl: \(line)")
            exit(withError: code)
        }
    }
}

/// OpenBLAS reads two settings only when it is loaded, before `main`, so the commands that
/// run a model execute themselves again once with them set (a value the user set is kept):
///
/// - `OPENBLAS_THREAD_TIMEOUT=4`. OpenBLAS's worker threads spin (sched_yield) for 2^28
///   cycles after every call before they sleep. Between the GEMMs of a training step fmctl
///   runs its own parallel kernels, and the spinning workers take the cores those kernels
///   need: measured on a 2-core VM (alternated runs of one epoch), sleeping at once cut the
///   process's CPU time from 14-16 s to 12.5 s, the energy a CPU model charges for, and the
///   epoch by a few per cent.
/// - `OPENBLAS_CORETYPE`, only where OpenBLAS fell back to a pre-AVX2 kernel on a CPU that
///   has AVX2 or AVX-512 (`BLAS.betterCoreType`; docs/architecture.md, "OpenBLAS's kernel").
///
/// The other commands use no BLAS, and `footprint measure` must hand the command it measures
/// the user's environment.
func restartWithIdleBLASThreads() {
    let modelCommands: Set = ["train", "evaluate", "predict", "generate", "compress"]
    guard CommandLine.arguments.count > 1, modelCommands.contains(CommandLine.arguments[1]) else { return }
    BLAS.restartWithTunedEnvironment(idleThreads: true)
}

/// Runs a command body, turning the project's error types into one line on stderr and
/// their sysexits code (docs/exit-codes.md): no stack trace for a user's mistake.
func withUserErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch {
        guard let (message, code) = userError(error) else { throw error }
        printError("fmctl: \(message)")
        throw ExitCode(code)
    }
}

/// The one-line message and sysexits code of the project's error types; nil for others.
func userError(_ error: any Error) -> (message: String, exitCode: Int32)? {
    switch error {
    case let error as DataError: (error.description, error.exitCode)
    case let error as FootprintError: (error.description, error.exitCode)
    case let error as UsageError: (error.message, 64)
    default: nil
    }
}

/// Unblocks `signals` in the calling thread, which threads started later inherit. A process
/// inherits its parent's signal mask, and a parent that starts fmctl from a libdispatch worker
/// thread (Foundation's `Process` in a Swift program, a test runner) has them blocked: the
/// handlers would never run and Ctrl-C would be lost.
func unblockSignals(_ signals: [Int32]) {
    var set = sigset_t()
    sigemptyset(&set)
    for signal in signals { sigaddset(&set, signal) }
    pthread_sigmask(SIG_UNBLOCK, &set, nil)
}

/// A bad option combination found after parsing (exit 64), e.g. a batch larger than the data.
struct UsageError: Error {
    let message: String
}

/// Resolves `--model cnn|mlp|gpt-mini|bert-mini|FILE.json` (an unknown name: exit 64; bad JSON:
/// 65 naming the file; missing: 66); `context` sets a built-in text model's context length.
func loadModelDescription(_ spec: String, context: Int = TextModels.defaultContext) throws -> ModelDescription {
    if let builtIn = ModelDescription.builtIn[spec] { return builtIn }
    if let text = TextModels.builtIn(spec, context: context) { return text }
    let builtInNames = (Array(ModelDescription.builtIn.keys) + Array(TextModels.objectives.keys)).sorted().joined(separator: ", ")
    let exists = FileManager.default.fileExists(atPath: spec)
    guard exists || spec.contains("/") || spec.hasSuffix(".json") else {
        throw DataError(path: "--model", message: "unknown model '\(spec)'; expected \(builtInNames) or a model JSON file", exitCode: 64)
    }
    guard exists else {
        throw DataError(path: spec, message: "no such model file; expected \(builtInNames) or a model JSON file", exitCode: 66)
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
func makeModel(_ description: ModelDescription, source: String, seed: UInt64) throws -> Model {
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
