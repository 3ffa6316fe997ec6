import Foundation
import Testing

/// What one run of the `fmctl` binary produced.
struct FmctlResult {
    let arguments: [String]
    let status: Int32
    /// True when the process ended by a signal (a trap or crash), not by exit.
    let signalled: Bool
    let timedOut: Bool
    let stdout: String
    let stderr: String

    /// The non-empty lines of stderr.
    var stderrLines: [String] {
        stderr.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
    }

    var description: String {
        "fmctl \(arguments.joined(separator: " ")) -> \(signalled ? "signal" : "exit") \(status)\(timedOut ? " (timed out)" : "")\n"
            + "stdout:\n\(stdout.suffix(2000))\nstderr:\n\(stderr.suffix(2000))"
    }
}

/// Runs the built `fmctl` binary, as a user would, in a working folder of the test's choosing.
enum Fmctl {
    /// `$FMCTL_BINARY` (`make test` points it at the release build), or the binary next to
    /// the test bundle (`swift test` builds both into one products folder), or
    /// `.build/debug/fmctl` under the package root.
    static let binary: String = {
        var candidates: [String] = []
        if let explicit = ProcessInfo.processInfo.environment["FMCTL_BINARY"] { candidates.append(explicit) }
        let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        candidates.append(runner.deletingLastPathComponent().appendingPathComponent("fmctl").path)
        let bundle = Bundle.main.bundleURL
        candidates.append(bundle.appendingPathComponent("fmctl").path)
        candidates.append(bundle.deletingLastPathComponent().appendingPathComponent("fmctl").path)
        let packageRoot = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(packageRoot.appendingPathComponent(".build/debug/fmctl").path)
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates.last!
    }()

    /// The environment every run gets: no RAPL (a powercap root that does not exist, so runs
    /// behave alike on a laptop with RAPL and on this VM), no GPU (an empty
    /// CUDA_VISIBLE_DEVICES, likewise for a machine with one), one OpenBLAS thread.
    static var environment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["FMCTL_POWERCAP_ROOT"] = "/nonexistent/fmctl-e2e-powercap"
        env["CUDA_VISIBLE_DEVICES"] = ""
        env["OPENBLAS_NUM_THREADS"] = "1"
        return env
    }

    /// Starts `fmctl arguments` in `directory` with stdout and stderr going to files there
    /// (or `executable`, a launcher such as mpirun whose arguments start fmctl); `changes` sets
    /// (or, with nil, removes) variables of `environment`.
    static func start(_ arguments: [String], in directory: String, executable: String = binary,
                      environment changes: [String: String?] = [:]) throws -> RunningFmctl {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.environment = environment.merging(changes.compactMapValues { $0 }) { _, new in new }
            .filter { key, _ in changes[key] != .some(nil) }
        let id = UUID().uuidString
        let stdoutPath = directory + "/.fmctl-stdout-" + id
        let stderrPath = directory + "/.fmctl-stderr-" + id
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        let stdout = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        let stderr = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        try process.run()
        try stdout.close()
        try stderr.close()
        return RunningFmctl(process: process, arguments: arguments, stdoutPath: stdoutPath, stderrPath: stderrPath, finished: finished)
    }

    /// Runs `fmctl arguments` to the end, killing it after `timeout` seconds (the test then fails).
    @discardableResult
    static func run(_ arguments: [String], in directory: String, timeout: Double = 60,
                    environment changes: [String: String?] = [:]) throws -> FmctlResult {
        try start(arguments, in: directory, environment: changes).wait(timeout: timeout)
    }
}

/// A started `fmctl`.
struct RunningFmctl {
    let process: Process
    let arguments: [String]
    let stdoutPath: String
    let stderrPath: String
    let finished: DispatchSemaphore

    var stdoutSoFar: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }

    /// Waits until `stdout` contains `text` or the process ends; false on timeout or end.
    func waitForOutput(_ text: String, timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if stdoutSoFar.contains(text) { return true }
            if !process.isRunning { return stdoutSoFar.contains(text) }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return false
    }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Waits for the end; after `timeout` seconds sends SIGKILL and reports a time-out.
    func wait(timeout: Double) throws -> FmctlResult {
        var timedOut = false
        if finished.wait(timeout: .now() + timeout) == .timedOut {
            timedOut = true
            kill(process.processIdentifier, SIGKILL)
            finished.wait()
        }
        process.waitUntilExit()
        let result = FmctlResult(
            arguments: arguments, status: process.terminationStatus,
            signalled: process.terminationReason == .uncaughtSignal, timedOut: timedOut,
            stdout: (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "")
        try? FileManager.default.removeItem(atPath: stdoutPath)
        try? FileManager.default.removeItem(atPath: stderrPath)
        return result
    }
}

// MARK: - Assertions

/// The user-error contract of docs/exit-codes.md: the sysexits code, one line on stderr that starts with
/// `fmctl:` and names the file or option, no trap, no stack trace, no usage screen.
func expectUserError(_ result: FmctlResult, exitCode: Int32, mentions: String,
                     sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(!result.timedOut, "\(result.description)", sourceLocation: sourceLocation)
    #expect(!result.signalled, "crashed: \(result.description)", sourceLocation: sourceLocation)
    #expect(result.status == exitCode, "\(result.description)", sourceLocation: sourceLocation)
    #expect(result.stderrLines.count == 1, "expected one line on stderr: \(result.description)", sourceLocation: sourceLocation)
    let line = result.stderrLines.first ?? ""
    #expect(line.hasPrefix("fmctl: "), "\(result.description)", sourceLocation: sourceLocation)
    #expect(line.contains(mentions), "the message should name '\(mentions)': \(result.description)", sourceLocation: sourceLocation)
    for trace in ["Fatal error", "Stack dump", "stack trace", "Usage:", "Swift runtime failure", "Illegal instruction"] {
        #expect(!result.stderr.contains(trace), "\(result.description)", sourceLocation: sourceLocation)
    }
}

/// Exit 0, without a crash or time-out.
func expectSuccess(_ result: FmctlResult, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(!result.timedOut && !result.signalled && result.status == 0, "\(result.description)", sourceLocation: sourceLocation)
}
