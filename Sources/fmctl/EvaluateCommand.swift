import ArgumentParser
import Foundation
import Models
import Tensor

/// Finds the checkpoint of `RUN_DIR|FILE.safetensors`.
func checkpointPath(_ spec: String) -> String {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: spec, isDirectory: &isDirectory), isDirectory.boolValue {
        return spec + "/model.safetensors"
    }
    return spec
}

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a trained model on a data set's test split (loss, accuracy, images per second).")

    @Argument(help: ArgumentHelp("A run folder or a model.safetensors file.", valueName: "run-dir|file"))
    var checkpoint: String

    @Option(help: ArgumentHelp("fashion-mnist, a folder of IDX files with the standard names, fortunes, or text:PATH. Default: fortunes for a text model, else fashion-mnist.", valueName: "data"))
    var dataset: String?

    @Option(name: .customLong("batch-size"), parsing: .unconditional, help: "Samples per forward pass.")
    var batchSize = 32

    @Option(parsing: .unconditional, help: "Threads for OpenBLAS and fmctl's own kernels (default: the number of processors).")
    var threads: Int?

    func validate() throws {
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive, got \(batchSize)") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    func run() throws {
        try withUserErrors {
            BLAS.setThreads(threads ?? ProcessInfo.processInfo.activeProcessorCount)
            let path = checkpointPath(checkpoint)
            let (model, metadata) = try ModelCheckpoint.load(path: path)
            let textModel = model.inputShape.count == 1 && model.outputShape.count == 2
            let dataset = self.dataset ?? (textModel ? TextCorpus.fortunesName : Dataset.defaultName)
            if TextCorpus.isText(dataset) { return try evaluateText(model, path: path, dataset: dataset, metadata: metadata) }
            let test = try Dataset.loadTest(directory: dataset)
            try checkDataFits(test, model: model, path: Dataset.directory(for: dataset))
            let t0 = Date()
            let r = model.evaluate(test, batchSize: batchSize)
            let seconds = Date().timeIntervalSince(t0)
            print(ProgressPrinter.evaluationLine(samples: test.count, batchSize: batchSize, seconds: seconds,
                                                 accuracy: r.accuracy, loss: r.loss))
            print(String(format: "%@: %d test images, accuracy %.4f, loss %.4f, %.0f images/s",
                         path, test.count, r.accuracy, r.loss, Double(test.count) / seconds))
        }
    }
}

extension Evaluate {
    /// A text model on the validation windows of a corpus (the last 10 %, as in training), with
    /// the objective it was trained for (from the checkpoint; causal-lm when it does not say).
    func evaluateText(_ model: Model, path: String, dataset: String, metadata: [String: String]) throws {
        let objective = metadata["objective"].flatMap(TextObjective.init(rawValue:)) ?? .causal
        let seed = metadata["seed"].flatMap(UInt64.init) ?? 0
        let data = try RunData.load(dataset, for: model.modelDescription, source: path, limit: nil, objective: objective,
                                    seed: seed, validationSplit: 0.1)
        try checkDataFits(data.test, model: model, path: data.path)
        guard data.test.count > 0 else {
            throw DataError(path: data.path, message: "too short for a validation window (the last 10 % of the windows); expected more text", exitCode: 65)
        }
        let t0 = Date()
        let r = model.evaluate(data.test, batchSize: batchSize)
        let seconds = Date().timeIntervalSince(t0)
        let context = model.inputShape[0]
        print(ProgressPrinter.evaluationLine(samples: data.test.count, batchSize: batchSize, seconds: seconds,
                                             accuracy: r.accuracy, loss: r.loss, bitsPerByte: true))
        print(String(format: "%@: %d validation windows of %d bytes (%@), token accuracy %.4f, loss %.4f nats/byte, %.4f bits/byte, %.0f tokens/s",
                     path, data.test.count, context, objective.rawValue, r.accuracy, r.loss, r.loss / log(2),
                     Double(data.test.count * context) / seconds))
    }
}

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify images from an IDX file: one line per image with its class and probability.")

    @Argument(help: ArgumentHelp("A run folder or a model.safetensors file.", valueName: "run-dir|file"))
    var checkpoint: String

    @Option(help: ArgumentHelp("IDX images file (raw or .gz), e.g. t10k-images-idx3-ubyte.gz.", valueName: "idx"))
    var input: String

    @Option(parsing: .unconditional, help: "Classify the first N images only.")
    var count: Int?

    func validate() throws {
        if let count, count < 1 { throw ValidationError("--count must be positive, got \(count)") }
    }

    func run() throws {
        try withUserErrors {
            let (model, _) = try ModelCheckpoint.load(path: checkpointPath(checkpoint))
            let idx = try IDX.read(path: input)
            guard idx.dimensions.count >= 2, idx.dimensions.dropFirst().reduce(1, *) == model.inputCount else {
                throw DataError(path: input, message: "images of shape \(Array(idx.dimensions.dropFirst())) do not fit the model's input \(model.inputShape)", exitCode: 65)
            }
            let n = min(count ?? idx.dimensions[0], idx.dimensions[0])
            let size = model.inputCount
            let images = LabeledImages(images: Array(idx.bytes.prefix(n * size)), labels: [Int32](repeating: 0, count: n),
                                       height: model.inputShape.first ?? size, width: model.inputShape.count > 1 ? model.inputShape[1] : 1,
                                       channels: model.inputShape.count > 2 ? model.inputShape[2] : 1, classCount: model.outputCount)
            let p = model.predict(images)
            print("index\tclass\tprobability")
            for i in 0..<n {
                let row = (0..<model.outputCount).map { p[i, $0] }
                let best = model.outputCount == 1 ? (row[0] > 0.5 ? 1 : 0) : row.indices.max { row[$0] < row[$1] }!
                let prob = model.outputCount == 1 ? (best == 1 ? row[0] : 1 - row[0]) : row[best]
                print("\(i)\t\(best)\t" + String(format: "%.4f", prob))
            }
        }
    }
}

struct Summary: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a model's layers, output shapes and parameter counts (like Keras's model.summary()).")

    @Option(help: ArgumentHelp("cnn, mlp, gpt-mini, bert-mini, a model JSON file, or a model.safetensors file.", valueName: "model"))
    var model = "cnn"

    @Option(parsing: .unconditional, help: "Context length of a built-in text model.")
    var context = TextModels.defaultContext

    func validate() throws {
        guard context >= 1, context <= ModelDescription.maximumSize else {
            throw ValidationError("--context must be in 1...\(ModelDescription.maximumSize), got \(context)")
        }
    }

    func run() throws {
        try withUserErrors {
            let net: Model
            if model.hasSuffix(".safetensors") {
                net = try ModelCheckpoint.load(path: model).model
            } else {
                net = try makeModel(try loadModelDescription(model, context: context), source: model, seed: 0)
            }
            print(net.summary(), terminator: "")
            let f = net.flopsPerSample
            print(" FLOPs per sample: \(formatCount(f.forward)) forward, \(formatCount(f.training)) per training step")
        }
    }
}
