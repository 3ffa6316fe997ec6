import ArgumentParser
import Compression
import FMSupport
import Foundation
import Footprint
import Models
import Reports
import RunRecords
import Tensor

/// `fmctl compress RUN`: pruned, int8 and low-rank variants of a trained model, each written
/// as a loadable model under RUN/compressed/<name>/ and measured beside the float baseline on
/// the test split: accuracy, size, latency, throughput and inference energy (docs/compress.md).
struct Compress: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compress a trained model (pruning, int8, low-rank) and compare each variant's accuracy, size and inference energy.",
        discussion: """
            Writes each variant under RUN/compressed/<name>/ (model.safetensors and compress.json; the float \
            baseline's weights alone under compressed/float/) and reports them on the test split.
            """)

    @Argument(help: ArgumentHelp("A run folder of fmctl train, or a variant folder under compressed/.", valueName: "run-dir"))
    var runDirectory: String

    @Option(help: ArgumentHelp("Magnitude pruning to these sparsities, each in (0, 1), e.g. 0.5,0.8.", valueName: "s,..."))
    var prune: String?

    @Option(name: .customLong("prune-min-weights"), parsing: .unconditional, help: "Leave kernels with fewer weights than this whole when pruning (0: prune every kernel).")
    var pruneMinWeights = 1000

    @Flag(help: "Post-training int8 quantisation (per-channel weights, calibrated activations).")
    var int8 = false

    @Option(name: .customLong("low-rank"), help: ArgumentHelp("Factorise the Dense kernels to these ranks, or auto (the smallest within 1 point of the baseline's validation accuracy).", valueName: "r,...|auto"))
    var lowRank: String?

    @Option(name: .customLong("fine-tune-epochs"), parsing: .unconditional, help: "Fine-tuning epochs of pruned and low-rank variants.")
    var fineTuneEpochs = 1

    @Option(help: "Output format: table, json, markdown or html (with the accuracy-against-energy Pareto chart).")
    var format: RunComparisonFormat = .table

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Write the report to this file instead of stdout.", valueName: "file"))
    var output: String?

    @Option(help: ArgumentHelp("fashion-mnist, a folder of IDX files, fortunes or text:PATH (default: the run's).", valueName: "data"))
    var dataset: String?

    @Option(name: .customLong("batch-size"), parsing: .unconditional, help: "Fine-tuning batch size (default: the run's).")
    var batchSize: Int?

    @Flag(name: .customLong("int8-first-layer"), help: "Quantise a first convolution with patches under 16 values too (by default it stays float: measured slower in int8).")
    var int8FirstLayer = false

    @Option(name: .customLong("calibration-samples"), parsing: .unconditional, help: "Training images (text: windows) that calibrate the int8 activation ranges (min/max).")
    var calibrationSamples = 2048

    @Option(name: .customLong("measure-seconds"), parsing: .unconditional, help: "Length of each inference energy window, at least (seconds).")
    var measureSeconds = 3.0

    @Option(parsing: .unconditional, help: "Seed of the fine-tuning shuffles.")
    var seed: UInt64 = 0

    @Option(parsing: .unconditional, help: "Threads for OpenBLAS and fmctl's own kernels (default: the number of processors).")
    var threads: Int?

    @OptionGroup(title: "Footprint")
    var footprint: FootprintOptions

    /// `--prune` parsed.
    var sparsities: [Double] {
        (prune ?? "").split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
    }

    enum RankRequest: Equatable { case auto, rank(Int) }

    var ranks: [RankRequest] {
        (lowRank ?? "").split(separator: ",").compactMap { item in
            let s = item.trimmingCharacters(in: .whitespaces)
            return s == "auto" ? .auto : Int(s).map { .rank($0) }
        }
    }

    func validate() throws {
        guard prune != nil || int8 || lowRank != nil else {
            throw ValidationError("give at least one method: --prune S,..., --int8 or --low-rank R,...|auto")
        }
        if let prune {
            for item in prune.split(separator: ",", omittingEmptySubsequences: false) {
                let s = item.trimmingCharacters(in: .whitespaces)
                guard let v = Double(s), v > 0, v < 1 else {
                    throw ValidationError("--prune: sparsity must be in (0, 1), got '\(s)'")
                }
            }
        }
        if let lowRank {
            for item in lowRank.split(separator: ",", omittingEmptySubsequences: false) {
                let s = item.trimmingCharacters(in: .whitespaces)
                guard s == "auto" || (Int(s).map { $0 >= 1 } ?? false) else {
                    throw ValidationError("--low-rank: expected positive ranks or auto, got '\(s)'")
                }
            }
        }
        guard fineTuneEpochs >= 0 else { throw ValidationError("--fine-tune-epochs must be at least 0, got \(fineTuneEpochs)") }
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be positive, got \(batchSize)") }
        guard pruneMinWeights >= 0 else { throw ValidationError("--prune-min-weights must be at least 0, got \(pruneMinWeights)") }
        guard calibrationSamples >= 1 else { throw ValidationError("--calibration-samples must be positive, got \(calibrationSamples)") }
        guard measureSeconds >= 0, measureSeconds.isFinite else { throw ValidationError("--measure-seconds must be at least 0, got \(measureSeconds)") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    func run() throws {
        try withUserErrors { try withFootprintErrors { try compress() } }
    }

    /// What a variant folder records of its origin (compress.json), so that `compress` accepts it in turn.
    struct VariantInfo: Codable {
        var source: String
        var method: String
        var dataset: String
        var validationSplit: Double
        var batchSize: Int
        var limit: Int?
        var details: [String: String]

        enum CodingKeys: String, CodingKey {
            case source, method, dataset, details, limit
            case validationSplit = "validation_split"
            case batchSize = "batch_size"
        }
    }

    func compress() throws {
        BLAS.setThreads(threads ?? ProcessInfo.processInfo.activeProcessorCount)
        // The report is written last: a path that cannot take it stops the command before any
        // variant is written (exit 74).
        if let output {
            do throws(FileWriteError) { try FileWriter.checkReplaceable(output) } catch {
                throw FootprintError.ioError(path: "-o " + error.path, reason: error.message)
            }
        }
        let runPath = runDirectory.hasSuffix("/") && runDirectory.count > 1 ? String(runDirectory.dropLast()) : runDirectory
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: runPath, isDirectory: &isFolder), isFolder.boolValue else {
            throw DataError(path: runPath, message: "no such run folder; expected a run folder of fmctl train or a variant under compressed/", exitCode: 66)
        }
        let modelPath = runPath + "/model.safetensors"
        guard FileManager.default.fileExists(atPath: modelPath) else {
            throw DataError(path: runPath, message: "no model.safetensors in the folder; expected a run folder of fmctl train (with a saved model) or a variant under compressed/", exitCode: 66)
        }
        let (base, baseMetadata) = try ModelCheckpoint.load(path: modelPath)

        // Settings: the options, else the run's (run.json), else the variant's (compress.json).
        let record = try? RunFolder.load(path: runPath)
        let info = FileManager.default.contents(atPath: runPath + "/compress.json").flatMap { try? JSONDecoder().decode(VariantInfo.self, from: $0) }
        let datasetName = dataset ?? record?.config.training?.dataset ?? info?.dataset ?? Dataset.defaultName
        let validationSplit = record?.config.training?.validationSplit ?? info?.validationSplit ?? 0.1
        let batch = batchSize ?? record?.config.training?.batchSize ?? info?.batchSize ?? 32
        // A text run (docs/compress.md, "Text models"): its objective and window seed from
        // run.json, else from the checkpoint's metadata.
        let isText = TextCorpus.isText(datasetName)
        let objective = (record?.config.training?.objective ?? baseMetadata["objective"]).flatMap(TextObjective.init(rawValue:)) ?? .causal
        let textSeed = record?.config.training?.seed ?? baseMetadata["seed"].flatMap(UInt64.init) ?? 0
        // Metadata a variant's checkpoint carries over, so that evaluate and generate read it as the run's.
        let carried = baseMetadata.filter { ["objective", "seed"].contains($0.key) }

        // Every check on the input before anything is written.
        if !sparsities.isEmpty, !base.layers.contains(where: { $0 is Dense || $0 is Conv2D }) {
            throw UsageError(message: "--prune: the model has no Dense or Conv2D kernel to prune")
        }
        if !sparsities.isEmpty, !base.namedParameters.contains(where: { p in
            p.count >= pruneMinWeights && base.layers.contains { ($0 is Dense || $0 is Conv2D) && p.name == "\($0.name)/kernel" } }) {
            throw UsageError(message: "--prune: no Dense or Conv2D kernel has at least --prune-min-weights \(pruneMinWeights) weights")
        }
        if isText, !sparsities.isEmpty || !ranks.isEmpty {
            throw UsageError(message: "\(sparsities.isEmpty ? "--low-rank" : "--prune") supports image models only; on a text model use --int8")
        }
        if int8 {
            guard base.layers.contains(where: { $0 is Dense || $0 is Conv2D }) else { throw UsageError(message: "--int8: the model has no Dense or Conv2D layer to quantise") }
        }
        if !ranks.isEmpty {
            let dense = base.layers.compactMap { $0 as? Dense }
            guard !dense.isEmpty else { throw UsageError(message: "--low-rank: the model has no Dense layer to factorise") }
            let largest = dense.map { min($0.inFeatures, $0.units) }.max()!
            for case .rank(let r) in ranks where r > largest {
                throw UsageError(message: "--low-rank: rank \(r) is above min(m, n) = \(largest) of every Dense kernel")
            }
            for case .rank(let r) in ranks where !dense.contains(where: { r * ($0.inFeatures + $0.units) < $0.inFeatures * $0.units }) {
                throw UsageError(message: "--low-rank: rank \(r) makes no Dense layer smaller (r (m + n) must be below m n)")
            }
        }
        // The run's training data: its --limit, then its validation split from the end; for
        // text the validation windows are also what every variant is measured on (text data
        // has no test split; docs/transformer.md).
        let limit = record?.config.training?.limit ?? info?.limit
        let runData = try RunData.load(datasetName, for: base.modelDescription, source: modelPath, limit: limit,
                                       objective: objective, seed: textSeed, validationSplit: validationSplit)
        let trainData = runData.train
        try checkDataFits(runData.test, model: base, path: runData.path)
        let trainCount = validationSplitIndex(count: trainData.count, validationSplit: validationSplit)
        guard trainCount > 0 else { throw UsageError(message: "validation split \(validationSplit) leaves no training samples") }
        func part(_ r: Range<Int>) -> any LabeledBatchSource {
            if let windows = runData.text { return windows.slice(r) }
            return (trainData as! LabeledImages).slice(r)   // RunData's image training split
        }
        let train = part(0..<trainCount)
        let validation = part(trainCount..<trainData.count)
        let test = runData.test
        guard test.count > 0 else {
            throw DataError(path: runData.path, message: "too short for a validation window (the last \(Int(validationSplit * 100)) % of the windows); expected more text", exitCode: 65)
        }
        let fineTuneBatch = min(batch, trainCount)
        let unit = isText ? "window" : "image"

        let (settings, tracker) = try footprint.makeTracker()
        defer { tracker?.stop() }
        if let tracker {
            for warning in tracker.startupWarnings { printError("warning: \(warning)") }
            tracker.start()
            if settings.idleBaselineSeconds > 0 { try tracker.measureIdleBaseline(seconds: settings.idleBaselineSeconds) }
        }

        let out = runPath + "/compressed"
        var variants: [CompressionReport.Variant] = []
        var notes: [String] = []
        func freshBase() throws -> Model { try ModelCheckpoint.load(path: modelPath).model }

        // The baseline's weights alone, so that every size compares weights with weights.
        printError("compress: measuring the float baseline ...")
        let baselineFolder = try save(base, name: "float", method: .float, under: out, source: runPath, dataset: datasetName,
                                      validationSplit: validationSplit, batch: batch, limit: limit, metadata: carried, details: [:])
        let baseline = try measure(base, name: "float", method: .float, folder: baselineFolder, test: test, tracker: tracker,
                                   compressionJoules: nil, details: [])

        for s in sparsities {
            let name = "prune-" + Self.label(s)
            printError("compress: \(name): magnitude pruning, \(fineTuneEpochs) fine-tune epoch(s) ...")
            let (model, joules, pruner) = try window(tracker, "compress-\(name)") { () -> (Model, MagnitudePruner) in
                let model = try freshBase()
                let steps = fineTuneEpochs * ((trainCount + fineTuneBatch - 1) / fineTuneBatch)
                // Sparsity reaches its target halfway through fine-tuning; the second half
                // trains with the final masks held fixed.
                let schedule = PolynomialDecay(finalSparsity: s, beginStep: 0, endStep: max(0, steps / 2), power: 3, frequency: 100)
                let pruner = try MagnitudePruner(model: model, schedule: schedule, minimumWeights: pruneMinWeights)
                if steps > 0 {
                    _ = model.fit(train, epochs: fineTuneEpochs, batchSize: fineTuneBatch, seed: seed, observer: pruner)
                }
                // With no fine-tuning, or when the last pruning step (every 100) fell short of
                // the end of the schedule, the final masks are set once more at the target.
                if pruner.maskSparsity != s { pruner.updateMasks(sparsity: s) }
                return (model, pruner)
            }
            let folder = try save(model, name: name, method: .prune, under: out, source: runPath, dataset: datasetName,
                                  validationSplit: validationSplit, batch: batch, limit: limit, metadata: carried, details: ["sparsity": String(s)])
            let reached = zip(pruner.targets, pruner.sparsities).map { "\($0.parameter.name) \(String(format: "%.3f", $1))" }.joined(separator: ", ")
            // Sparse storage and a sparse kernel, measured on the pruned Dense kernels (the
            // variant itself stays dense: docs/compress.md says why).
            let sparse = SparseCheck.measure(model).map { r in
                ("sparse \(r.layer)", String(format: "density %.3f; CSR %d bytes vs dense %d; CSR product %.3f ms vs sgemm %.3f ms at batch %d",
                                             r.density, r.csrBytes, r.denseBytes, r.csrSeconds * 1000, r.denseSeconds * 1000, r.batch))
            }
            variants.append(try measure(model, name: name, method: .prune, folder: folder, test: test, tracker: tracker,
                                        compressionJoules: joules,
                                        details: [("sparsity", String(s)), ("layer_sparsities", reached),
                                                  ("schedule", "polynomial decay, power 3, 0 -> \(s) over the first half of \(pruner.step) steps, masks every 100 steps"),
                                                  ("fine_tune_epochs", String(fineTuneEpochs))] + sparse))
        }

        if int8 {
            let name = "int8"
            let calibration = "min/max over \(min(calibrationSamples, trainCount)) training \(unit)s"
            printError("compress: int8: calibrating on \(min(calibrationSamples, trainCount)) training \(unit)s ...")
            let (model, joules, _) = try window(tracker, "compress-\(name)") { () -> (Model, Int) in
                (try Quantization.quantize(base, calibration: train, range: 0..<min(calibrationSamples, trainCount),
                                           batchSize: isText ? textBatch : 256,
                                           keepFloat: int8FirstLayer ? { _ in false } : nil), 0)
            }
            let folder = try save(model, name: name, method: .int8, under: out, source: runPath, dataset: datasetName,
                                  validationSplit: validationSplit, batch: batch, limit: limit, metadata: carried,
                                  details: ["calibration": calibration])
            var v = try measure(model, name: name, method: .int8, folder: folder, test: test, tracker: tracker,
                                compressionJoules: joules,
                                details: [("float layers", model.layers.filter { $0 is Dense || $0 is Conv2D || $0 is MultiHeadAttention }.map(\.name).joined(separator: ",")),
                                          ("weights", "int8, symmetric per output channel"),
                                          ("activations", "uint8 with zero point, " + calibration)])
            for t in Int8GEMM.measuredChoices {
                let times = t.seconds.sorted { $0.value < $1.value }.map { "\($0.key) \(String(format: "%.3f", $0.value * 1000)) ms" }.joined(separator: ", ")
                v.details.append(("kernel \(t.m)x\(t.n)x\(t.k)", "\(t.chosen.rawValue) (\(times))"))
            }
            variants.append(v)
            notes.append("int8 GEMM kernel chosen per shape (M x N x K) by timing: " + Int8GEMM.measuredChoices.map { "\($0.m)x\($0.n)x\($0.k): \($0.chosen.rawValue)" }.joined(separator: "; "))
        }

        if !ranks.isEmpty {
            let baselineValidation = validation.count > 0 ? base.evaluate(validation, batchSize: 256).accuracy : baseline.accuracy
            func factorizeAndTune(_ r: Int) throws -> Model {
                let (model, _) = try LowRank.factorize(base, rank: r)
                if fineTuneEpochs > 0 { _ = model.fit(train, epochs: fineTuneEpochs, batchSize: fineTuneBatch, seed: seed) }
                return model
            }
            for request in ranks {
                let name: String
                var chosen = 0
                var tried: [String] = []
                switch request {
                case .auto: printError("compress: low-rank auto: searching the candidate ranks, \(fineTuneEpochs) fine-tune epoch(s) each ...")
                case .rank(let r): printError("compress: low-rank-\(r): truncated SVD, \(fineTuneEpochs) fine-tune epoch(s) ...")
                }
                let (model, joules, _) = try window(tracker, "compress-low-rank") { () -> (Model, Int) in
                    switch request {
                    case .rank(let r):
                        chosen = r
                        return (try factorizeAndTune(r), r)
                    case .auto:
                        // The smallest candidate rank within 1 point of the baseline's validation
                        // accuracy, by bisection over the ascending candidates.
                        let candidates = LowRank.candidateRanks(base).filter { r in
                            base.layers.contains { l in (l as? Dense).map { r * ($0.inFeatures + $0.units) < $0.inFeatures * $0.units } ?? false }
                        }
                        guard !candidates.isEmpty else { throw UsageError(message: "--low-rank auto: no rank makes a Dense layer smaller") }
                        var lo = 0, hi = candidates.count - 1
                        var best: (Int, Model)?
                        var closest: (rank: Int, model: Model, accuracy: Double)?
                        while lo <= hi {
                            let mid = (lo + hi) / 2
                            let m = try factorizeAndTune(candidates[mid])
                            let acc = validation.count > 0 ? m.evaluate(validation, batchSize: 256).accuracy : m.evaluate(test, batchSize: 256).accuracy
                            tried.append("\(candidates[mid]): \(String(format: "%.4f", acc))")
                            if closest == nil || acc > closest!.accuracy { closest = (candidates[mid], m, acc) }
                            if acc >= baselineValidation - 0.01 { best = (candidates[mid], m); hi = mid - 1 } else { lo = mid + 1 }
                        }
                        if best == nil, let closest {
                            // None within 1 point: the tried rank with the best validation accuracy.
                            best = (closest.rank, closest.model)
                            tried.append("none within 1 point; kept \(closest.rank), the most accurate tried")
                        }
                        chosen = best!.0
                        return (best!.1, best!.0)
                    }
                }
                name = "low-rank-\(chosen)" + (request == .auto ? "-auto" : "")
                let factorized = model.layers.filter { $0 is LowRankDense }.map(\.name).joined(separator: ",")
                let folder = try save(model, name: name, method: .lowRank, under: out, source: runPath, dataset: datasetName,
                                      validationSplit: validationSplit, batch: batch, limit: limit, metadata: carried, details: ["rank": String(chosen)])
                var details: [(String, String)] = [("rank", String(chosen)), ("factorized", factorized), ("fine_tune_epochs", String(fineTuneEpochs))]
                if request == .auto {
                    details.append(("auto", "smallest of the candidate ranks within 0.01 of the baseline's validation accuracy \(String(format: "%.4f", baselineValidation))"))
                    details.append(("tried", tried.joined(separator: "; ")))
                }
                variants.append(try measure(model, name: name, method: .lowRank, folder: folder, test: test, tracker: tracker,
                                            compressionJoules: joules, details: details))
            }
        }

        if tracker?.source == .estimate {
            notes.append("energy is an estimate (no RAPL counters): compare variants measured the same way")
        }
        let report = CompressionReport(run: runPath, dataset: datasetName, testSamples: test.count,
                                       energySource: tracker?.source.rawValue, baseline: baseline, variants: variants, notes: notes,
                                       text: isText)
        try writeReport(report.render(format: format), to: output)
    }

    /// `0.8` -> `0.8`, `0.50` -> `0.5`.
    static func label(_ s: Double) -> String {
        var t = String(format: "%.4f", s)
        while t.hasSuffix("0") { t.removeLast() }
        if t.hasSuffix(".") { t.removeLast() }
        return t
    }

    /// Runs `body` inside a footprint window; returns its result and the window's joules.
    func window<T, U>(_ tracker: EnergyTracker?, _ name: String, _ body: () throws -> (T, U)) throws -> (T, Double?, U) {
        guard let tracker else {
            let (t, u) = try body()
            return (t, nil, u)
        }
        let (r, m) = try tracker.measure(name, body)
        return (r.0, m.energyJoules, r.1)
    }

    /// Writes the variant's model.safetensors (weights only) and compress.json; returns the folder.
    func save(_ model: Model, name: String, method: CompressionMethod, under parent: String, source: String, dataset: String,
              validationSplit: Double, batch: Int, limit: Int?, metadata: [String: String], details: [String: String]) throws -> String {
        let folder = parent + "/" + name
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw DataError(path: folder, message: "cannot create the variant folder (\(error.localizedDescription))", exitCode: 73)
        }
        try ModelCheckpoint.save(model, to: folder + "/model.safetensors", includeOptimizer: false,
                                 metadata: metadata.merging(["compression": method.rawValue]) { _, b in b })
        let info = VariantInfo(source: source, method: method.rawValue, dataset: dataset, validationSplit: validationSplit,
                               batchSize: batch, limit: limit, details: details)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let json = try encoder.encode(info)
        guard FileManager.default.createFile(atPath: folder + "/compress.json", contents: json + Data("\n".utf8)) else {
            throw DataError(path: folder + "/compress.json", message: "cannot write", exitCode: 74)
        }
        return folder
    }

    /// Windows per forward pass of a text model's measurements (a window is `T` rows).
    var textBatch: Int { 64 }

    /// Accuracy and loss on the test split (batch 256; for text the validation windows at batch
    /// 64 windows, accuracy per token, loss in nats per byte and bits per byte); latency at
    /// batch 1 (mean over up to 300 images or windows after a warm-up); images (tokens) per
    /// second and joules per image (token) over repeated passes in one footprint window of at
    /// least `measureSeconds`.
    func measure(_ model: Model, name: String, method: CompressionMethod, folder: String, test: any LabeledBatchSource,
                 tracker: EnergyTracker?, compressionJoules: Double?, details: [(String, String)]) throws -> CompressionReport.Variant {
        let text = test is TextWindows
        let batch = text ? textBatch : 256
        // Units per sample that throughput and energy count: tokens of a window, or one image.
        let perSample = text ? model.rowsPerSample : 1
        let r = model.evaluate(test, batchSize: batch)
        let single = min(test.count, 300)
        _ = model.evaluate(test, range: 0..<min(single, 20), batchSize: 1)
        var t0 = DispatchTime.now().uptimeNanoseconds
        _ = model.evaluate(test, range: 0..<single, batchSize: 1)
        let latency = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6 / Double(single)
        _ = model.evaluate(test, range: 0..<min(test.count, batch), batchSize: batch)
        try tracker?.beginWindow("inference-\(name)")
        var units = 0
        t0 = DispatchTime.now().uptimeNanoseconds
        var seconds = 0.0
        repeat {
            _ = model.evaluate(test, batchSize: batch)
            units += test.count * perSample
            seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        } while seconds < measureSeconds
        let energy = try tracker?.endWindow("inference-\(name)")
        let size = (try? FileManager.default.attributesOfItem(atPath: folder + "/model.safetensors")[.size] as? Int) ?? 0
        return CompressionReport.Variant(
            name: name, method: method.rawValue, accuracy: r.accuracy, loss: r.loss, sizeBytes: size,
            parameters: model.parameterCount, nonzeroParameters: model.nonzeroParameterCount, latencyMsBatch1: latency,
            imagesPerSecond: Double(units) / seconds, inferenceJoulesPerImage: energy.map { $0.energyJoules / Double(units) },
            compressionEnergyJoules: compressionJoules, path: folder, details: details,
            bitsPerByte: text ? r.loss / log(2) : nil)
    }
}
