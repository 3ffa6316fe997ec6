import Prometheus

/// The Prometheus text exposition format (version 0.0.4, what node_exporter's textfile
/// collector and the Pushgateway read), written by swift-prometheus: it validates the names,
/// escapes label values and help text, and writes the `# HELP` and `# TYPE` lines.
public enum PrometheusExposition {
    /// The media type of the text format, for an HTTP body.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// The families in the order given; the series inside a family come in no fixed order. A
    /// series whose value is not finite, or a counter's below zero, is left out: a counter
    /// cannot hold it (swift-prometheus traps on a negative increment), and one NaN makes every
    /// sum or average over a gauge's series NaN.
    public static func render(_ families: [MetricFamily]) -> [UInt8] {
        var bytes: [UInt8] = []
        for family in families {
            // One registry per family: a registry keeps its families in a dictionary, so a single
            // one would write them in a different order in every process.
            let registry = PrometheusCollectorRegistry()
            let descriptor = MetricNameDescriptor(metricName: family.name, unitName: "", helpText: family.help)
            for sample in family.samples where sample.value.isFinite && (family.kind == .gauge || sample.value >= 0) {
                let labels = sample.labels.map { ($0.name, $0.value) }
                switch family.kind {
                case .counter:
                    registry.makeCounter(descriptor: descriptor, labels: labels).increment(by: sample.value)
                case .gauge:
                    registry.makeGauge(descriptor: descriptor, labels: labels).set(sample.value)
                }
            }
            registry.emit(into: &bytes)
        }
        return bytes
    }
}
