import ArgumentParser
import FMSupport
import Footprint
import MetricsExport
import RunRecords

/// The Prometheus export options shared by `fmctl train` and `fmctl footprint measure`
/// (`@OptionGroup var metrics: MetricsOptions`); docs/metrics.md.
struct MetricsOptions: ParsableArguments {
    @Option(name: .customLong("metrics-textfile"),
            help: ArgumentHelp("Write the run's Prometheus metrics to this file (for node_exporter's textfile collector), replaced atomically after every epoch and at the end.", valueName: "file"))
    var textfile: String?

    @Option(name: .customLong("pushgateway"),
            help: ArgumentHelp("Push the run's Prometheus metrics to this Pushgateway (job fmctl, grouped by run_id and instance) after every epoch and at the end; a gateway that is down gives one warning.", valueName: "url"))
    var pushgateway: String?

    func validate() throws {
        if let pushgateway, PushgatewaySink.gatewayURL(pushgateway) == nil {
            throw ValidationError("--pushgateway '\(pushgateway)': expected an http:// URL with a host and without a query, e.g. http://localhost:9091 (https is not supported)")
        }
    }

    /// An exporter for the options given (nil for none), not yet following a run folder. Checks
    /// first that the textfile can be written (exit 74 otherwise), so that a bad path stops the
    /// command before it has written anything.
    func makeExporter() throws -> MetricsExporter? {
        let warn: @Sendable (String) -> Void = { printError("warning: \($0)") }
        var sinks: [any MetricsSink] = []
        if let textfile {
            do throws(FileWriteError) { try FileWriter.checkReplaceable(textfile) } catch {
                throw FootprintError.ioError(path: "--metrics-textfile " + error.path, reason: error.message)
            }
            sinks.append(TextfileSink(path: textfile, warn: warn))
        }
        if let url = pushgateway.flatMap(PushgatewaySink.gatewayURL) {
            sinks.append(PushgatewaySink(gateway: url, warn: warn))
        }
        return sinks.isEmpty ? nil : MetricsExporter(sinks: sinks)
    }
}
