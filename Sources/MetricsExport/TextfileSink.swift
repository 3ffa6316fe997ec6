import FMSupport
import RunRecords

/// The metrics in a file for node_exporter's textfile collector (`--collector.textfile.directory`),
/// replaced atomically through `FMSupport`'s `FileWriter` so that the collector never reads half a
/// file. A write that fails (a full disk, a folder removed during the run) is told once and the
/// run goes on.
public final class TextfileSink: MetricsSink {
    public let path: String
    private let failure: FirstFailure

    /// - Parameters:
    ///   - path: the file; `FileWriter.checkReplaceable(_:)` should have accepted it.
    ///   - warn: prints one warning line.
    public init(path: String, warn: @escaping @Sendable (String) -> Void) {
        self.path = path
        failure = FirstFailure(warn: warn)
    }

    public func publish(_ exposition: [UInt8], of record: RunRecord) {
        do throws(FileWriteError) { try FileWriter.writeAtomically(exposition, to: path) } catch {
            failure.report("metrics textfile \(error.description); the run goes on without it")
        }
    }

    public func close() {}
}
