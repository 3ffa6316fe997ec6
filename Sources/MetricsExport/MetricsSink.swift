import RunRecords
import Synchronization

/// Somewhere a run's metrics go (CodeCarbon's output methods, Zeus's exporters): each publish
/// hands the whole exposition, which replaces what the sink held.
public protocol MetricsSink: AnyObject, Sendable {
    /// Takes the run's metrics, rendered, with the record they were rendered from. Called on the
    /// thread that trains: it returns quickly and never throws (a sink reports its own failures).
    func publish(_ exposition: [UInt8], of record: RunRecord)
    /// Waits, for a bounded time, for what `publish` started.
    func close()
}

/// Renders a run's metrics and hands them to every sink, each time its run folder rewrites
/// run.json: after every epoch and at the end.
public final class MetricsExporter: Sendable {
    public let sinks: [any MetricsSink]

    public init(sinks: [any MetricsSink]) {
        self.sinks = sinks
    }

    public func publish(_ record: RunRecord) {
        let exposition = PrometheusExposition.render(RunMetrics.families(of: record))
        for sink in sinks { sink.publish(exposition, of: record) }
    }

    /// Publishes the folder's record whenever run.json is rewritten from now on.
    public func follow(_ folder: RunFolder) {
        folder.recordWritten = { [self] in publish($0) }
    }

    public func close() {
        for sink in sinks { sink.close() }
    }
}

/// A sink's first failure, told once: a Pushgateway that is down for the whole run, or a
/// textfile folder that disappears, gives one warning, not one per epoch.
final class FirstFailure: Sendable {
    private let reported = Atomic<Bool>(false)
    private let warn: @Sendable (String) -> Void

    init(warn: @escaping @Sendable (String) -> Void) {
        self.warn = warn
    }

    func report(_ message: String) {
        if !reported.exchange(true, ordering: .relaxed) { warn(message) }
    }
}
