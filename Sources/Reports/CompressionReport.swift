import Foundation

/// `fmctl compress RUN`: the baseline and every compressed variant measured side by side on
/// the test split (docs/compress.md). Reports imports no Models: fmctl fills the figures.
public struct CompressionReport: Sendable {
    public struct Variant: Sendable, Equatable {
        public var name: String
        /// `float`, `prune`, `int8` or `low-rank`.
        public var method: String
        public var accuracy: Double
        public var loss: Double
        /// The model file's bytes.
        public var sizeBytes: Int
        public var parameters: Int
        public var nonzeroParameters: Int
        public var latencyMsBatch1: Double
        /// At batch 256, over the energy window.
        public var imagesPerSecond: Double
        /// Nil without footprint measurement.
        public var inferenceJoulesPerImage: Double?
        /// Making the variant, fine-tuning included; nil for the baseline or without footprint.
        public var compressionEnergyJoules: Double?
        /// The variant's folder (the baseline's: its run folder).
        public var path: String
        /// Method settings (sparsity, rank, calibration, the int8 kernels), in order.
        public var details: [(String, String)]
        /// A text model's validation loss in bits per byte (`loss / ln 2`); nil for images.
        public var bitsPerByte: Double?

        public init(name: String, method: String, accuracy: Double, loss: Double, sizeBytes: Int, parameters: Int,
                    nonzeroParameters: Int, latencyMsBatch1: Double, imagesPerSecond: Double, inferenceJoulesPerImage: Double?,
                    compressionEnergyJoules: Double?, path: String, details: [(String, String)] = [], bitsPerByte: Double? = nil) {
            self.name = name; self.method = method; self.accuracy = accuracy; self.loss = loss; self.sizeBytes = sizeBytes
            self.parameters = parameters; self.nonzeroParameters = nonzeroParameters; self.latencyMsBatch1 = latencyMsBatch1
            self.imagesPerSecond = imagesPerSecond; self.inferenceJoulesPerImage = inferenceJoulesPerImage
            self.compressionEnergyJoules = compressionEnergyJoules; self.path = path; self.details = details
            self.bitsPerByte = bitsPerByte
        }

        public static func == (a: Variant, b: Variant) -> Bool {
            a.name == b.name && a.method == b.method && a.path == b.path && a.details.map(\.0) == b.details.map(\.0)
                && a.details.map(\.1) == b.details.map(\.1) && a.accuracy == b.accuracy && a.sizeBytes == b.sizeBytes
        }
    }

    public var run: String
    public var dataset: String
    public var testSamples: Int
    /// The energy windows' source (`rapl`, `estimate`, ...), as training labels its epochs.
    public var energySource: String?
    public var baseline: Variant
    public var variants: [Variant]
    /// Sentences the reader needs (a measured choice, an estimate).
    public var notes: [String]
    /// A text model's report: measured on validation windows, accuracy per token, loss in
    /// nats per byte with `bits_per_byte` beside it, throughput and energy per token
    /// (docs/compress.md, "Text models").
    public var text: Bool

    public init(run: String, dataset: String, testSamples: Int, energySource: String?, baseline: Variant,
                variants: [Variant], notes: [String] = [], text: Bool = false) {
        self.run = run; self.dataset = dataset; self.testSamples = testSamples; self.energySource = energySource
        self.baseline = baseline; self.variants = variants; self.notes = notes; self.text = text
    }

    /// JSON keys of a variant of an image model, in order; stable once released (add, never rename).
    public static let variantKeys = ["name", "method", "accuracy", "loss", "size_bytes", "parameters", "nonzero_parameters",
                                     "latency_ms_batch1", "images_per_s", "inference_j_per_image", "compression_energy_j",
                                     "path", "details"]
    /// JSON keys of a variant of a text model, in order: throughput and energy per token, and
    /// `bits_per_byte`.
    public static let textVariantKeys = ["name", "method", "accuracy", "loss", "bits_per_byte", "size_bytes", "parameters",
                                         "nonzero_parameters", "latency_ms_batch1", "tokens_per_s", "inference_j_per_token",
                                         "compression_energy_j", "path", "details"]

    /// What a throughput counts: images, or tokens for a text model.
    var unit: String { text ? "token" : "image" }

    public func render(format: RunComparisonFormat) -> String {
        switch format {
        case .json: return json().rendered() + "\n"
        case .table: return RunReport.table(header: columns, rows: textRows, markdown: false) + notesText
        case .markdown:
            return "## Compression of \(run)\n\n" + RunReport.table(header: columns, rows: textRows, markdown: true) + "\n" + notesText
        case .html: return html()
        }
    }

    func variantJSON(_ v: Variant) -> JSONValue {
        var fields: [(String, JSONValue)] = [("name", .string(v.name)), ("method", .string(v.method)), ("accuracy", .number(v.accuracy)),
                                             ("loss", .number(v.loss))]
        if text { fields.append(("bits_per_byte", .number(v.bitsPerByte))) }
        fields += [
            ("size_bytes", .number(Double(v.sizeBytes))), ("parameters", .number(Double(v.parameters))),
            ("nonzero_parameters", .number(Double(v.nonzeroParameters))), ("latency_ms_batch1", .number(v.latencyMsBatch1)),
            ("\(unit)s_per_s", .number(v.imagesPerSecond)), ("inference_j_per_\(unit)", .number(v.inferenceJoulesPerImage)),
            ("compression_energy_j", .number(v.compressionEnergyJoules)), ("path", .string(v.path)),
            ("details", .object(v.details.map { ($0.0, .string($0.1)) })),
        ]
        return .object(fields)
    }

    public func json() -> JSONValue {
        .object([
            ("run", .string(run)), ("dataset", .string(dataset)), ("test_samples", .number(Double(testSamples))),
            ("energy_source", .string(energySource)), ("baseline", variantJSON(baseline)),
            ("variants", .array(variants.map(variantJSON))), ("notes", .array(notes.map { .string($0) })),
        ])
    }

    public static let header = ["variant", "method", "accuracy", "loss", "size bytes", "size %", "params", "nonzero",
                                "latency ms", "images/s", "J/image", "compress J", "pareto"]
    /// A text model's columns: token accuracy, loss in nats/byte, bits/byte, per token.
    public static let textHeader = ["variant", "method", "token acc", "nats/byte", "bits/byte", "size bytes", "size %", "params",
                                    "nonzero", "latency ms", "tokens/s", "J/token", "compress J", "pareto"]
    var columns: [String] { text ? Self.textHeader : Self.header }

    var all: [Variant] { [baseline] + variants }

    var optimal: [Bool?] {
        RunComparison.paretoOptimal(all.map { v in v.inferenceJoulesPerImage.map { (cost: $0, accuracy: v.accuracy) } })
    }

    var textRows: [[String]] {
        zip(all, optimal).map { v, best in
            var row: [String] = [v.name, v.method, String(format: "%.4f", v.accuracy), String(format: "%.4f", v.loss)]
            if text { row.append(v.bitsPerByte.map { String(format: "%.4f", $0) } ?? "-") }
            let percent = 100 * Double(v.sizeBytes) / Double(max(1, baseline.sizeBytes))
            row += [String(v.sizeBytes), String(format: "%.1f", percent), String(v.parameters), String(v.nonzeroParameters)]
            row += [String(format: "%.3f", v.latencyMsBatch1), String(format: "%.0f", v.imagesPerSecond)]
            row.append(v.inferenceJoulesPerImage.map { String(format: "%.3g", $0) } ?? "-")
            row.append(v.compressionEnergyJoules.map { String(format: "%.1f", $0) } ?? "-")
            row.append(best.map { $0 ? "yes" : "no" } ?? "-")
            return row
        }
    }

    var notesText: String {
        let split = text ? "validation windows: \(testSamples) windows" : "test split: \(testSamples) images"
        var lines = ["(\(split) of \(dataset); energy: \(energySource ?? "not measured"); "
            + "pareto: no other variant is at least as accurate for at most its J/\(unit))"]
        lines += notes
        return lines.joined(separator: "\n") + "\n"
    }

    func html() -> String {
        var body = "<header><h1>Compression of \(XMLText.escape(run))</h1>\n<p class=\"subtitle\">\(variants.count) variant(s) "
            + "against the float baseline on \(testSamples) \(text ? "validation windows" : "test images") of \(XMLText.escape(dataset))</p></header>\n"
        let placed = zip(all, optimal).compactMap { v, best in
            best.map { (label: v.name, x: v.inferenceJoulesPerImage! * 1000, accuracy: v.accuracy, optimal: $0) }
        }
        if placed.isEmpty {
            body += "<section><h2>Accuracy against energy per inference</h2>\n"
                + HTMLReport.empty("Accuracy against J per inference", "No variant has a measured energy per inference.") + "</section>\n"
        } else {
            body += "<section><h2>Accuracy against energy per inference</h2>\n<figure class=\"wide\">"
                + RunComparison.paretoChart(title: "Test accuracy against energy per inference (Pareto-optimal variants joined)",
                                            xLabel: "energy per inference (mJ per \(unit), batch 256)", points: placed)
                + "</figure></section>\n"
        }
        body += "<section><h2>Variants</h2>\n"
            + HTMLPage.table(className: "compare", header: columns, rows: textRows, textColumns: ["variant", "method"])
        body += notesText.split(separator: "\n").map { "<p>\(XMLText.escape(String($0)))</p>\n" }.joined() + "</section>\n"
        return HTMLPage.document(title: "fmctl compress", body: body)
    }
}
