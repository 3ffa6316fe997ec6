import ArgumentParser
import Foundation
import Models

extension TextObjective: ExpressibleByArgument {}

/// What a run trains and evaluates on: an image data set (its train and test splits) or a
/// text corpus cut into windows, whose validation part is also what the final evaluation
/// reads (docs/transformer.md, "Text data").
struct RunData {
    let train: any LabeledBatchSource
    let test: any LabeledBatchSource
    /// The text windows (train), or nil for images.
    let text: TextWindows?
    /// The folder or file the data came from, for error messages.
    let path: String

    /// What the final evaluation reads: the test split, or for text the validation windows.
    var testName: String { text == nil ? "test" : "validation" }

    /// The default `--dataset` of a model: fortunes for the built-in text models, else Fashion-MNIST.
    static func defaultDataset(model: String) -> String {
        TextModels.objectives[model] != nil ? TextCorpus.fortunesName : Dataset.defaultName
    }

    /// Loads `dataset` for a model whose description is `description`: images (the first
    /// `limit` training samples), or text windows of the model's input length.
    /// - Throws: ``DataError`` for unreadable or unfit data, naming the file or option.
    static func load(_ dataset: String, for description: ModelDescription, source: String, limit: Int?,
                     objective: TextObjective, seed: UInt64, validationSplit: Double) throws -> RunData {
        guard TextCorpus.isText(dataset) else {
            let data = try Dataset.load(directory: dataset)
            let train = limit.map { data.train.prefix(min($0, data.train.count)) } ?? data.train
            return RunData(train: train, test: data.test, text: nil, path: Dataset.directory(for: dataset))
        }
        let shape = description.inputs.map(\.shape)
        guard shape.count == 1, shape[0].count == 1 else {
            throw DataError(path: source, message: "the model takes inputs of shape \(shape.map { "\($0)" }.joined(separator: ", ")); a text data set feeds one sequence of token ids, shape [T]", exitCode: 65)
        }
        let corpus = try TextCorpus.load(dataset)
        var windows = try corpus.windows(context: shape[0][0], objective: objective, seed: seed)
        if let limit { windows = windows.prefix(limit) }
        let split = validationSplitIndex(count: windows.count, validationSplit: validationSplit)
        return RunData(train: windows, test: windows.slice(split..<windows.count), text: windows, path: corpus.path)
    }
}

/// Refuses data the model cannot take, exit 65 naming `path`: a model with several inputs,
/// samples with another number of values than the model's input, labels beyond its outputs (a
/// one-output model is binary: labels 0 and 1), or labels per sample other than the model's
/// rows per sample (a language model gives one row of scores per position). `fit` and
/// `evaluate` would otherwise stop on a precondition.
func checkDataFits(_ data: any LabeledBatchSource, model: Model, path: String) throws {
    guard model.inputs.count == 1 else {
        let names = model.inputs.map(\.name).joined(separator: ", ")
        throw DataError(path: path, message: "the model has \(model.inputs.count) inputs (\(names)); a data set feeds a model with one input", exitCode: 65)
    }
    let what = data is TextWindows ? "windows" : "images"
    guard data.sampleShape.reduce(1, *) == model.inputCount else {
        throw DataError(path: path, message: "\(what) of shape \(data.sampleShape) do not fit the model's input \(model.inputShape)", exitCode: 65)
    }
    let classes = model.outputShape.last ?? 1
    let rows = model.outputCount / max(classes, 1)
    guard data.labelsPerSample == rows else {
        throw DataError(path: path, message: "\(what) carry \(data.labelsPerSample) label(s) each but the model's output \(model.outputShape) gives \(rows) row(s) of scores; a text model needs output [T, 256]", exitCode: 65)
    }
    guard data.classCount <= max(classes, 2) else {
        throw DataError(path: path, message: "labels go up to \(data.classCount - 1) but the model has \(classes) outputs", exitCode: 65)
    }
}
