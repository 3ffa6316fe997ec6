import Foundation
import Tensor

extension Model {
    /// This model in the JSON description format (the layers' own configurations; a layer's
    /// `inputs` only where it does not take the previous layer's output).
    public var modelDescription: ModelDescription {
        let configurations = layers.enumerated().map { j, layer in
            var c = layer.configuration
            let implicit = j == 0 ? (inputs.count == 1 ? [0] : []) : [inputs.count + j - 1]
            if layerInputs[j] != implicit { c.inputs = layerInputs[j].map(tensorName) }
            return c
        }
        return ModelDescription(name: name, inputs: inputs, layers: configurations, loss: loss)
    }
}

/// `model.safetensors`: the weights under Keras-style names (`conv2d/kernel`), the model
/// description in `__metadata__["model"]`, and, for resuming, the optimiser state as flat
/// tensors (`optimizer/m`, `optimizer/v`) with its step count and settings (AdamW's decay and
/// betas, the learning-rate schedule) in the metadata.
public enum ModelCheckpoint {
    public static let formatVersion = "1"

    /// Writes the checkpoint atomically (temp file, fsync, rename): a crash leaves the
    /// previous checkpoint whole.
    /// - Parameters:
    ///   - model: the model (a graph keeps its `inputs` in the description).
    ///   - path: the file to write (`model.safetensors`).
    ///   - includeOptimizer: also store the optimiser's state, so that training resumes exactly.
    ///   - extra: metadata keys of the caller (training position, seed).
    /// - Throws: ``DataError`` with exit code 74 when the file cannot be written.
    public static func save(_ model: Model, to path: String, includeOptimizer: Bool = true,
                            metadata extra: [String: String] = [:]) throws(DataError) {
        let int8 = model.int8ParameterNames
        var tensors = model.namedParameters.map {
            SafetensorsTensor(name: $0.name, shape: $0.shape, values: $0.values, dtype: int8.contains($0.name) ? .i8 : .f32)
        }
        var metadata = extra
        metadata["format"] = "fmctl"
        metadata["format_version"] = formatVersion
        metadata["model"] = model.modelDescription.jsonString()
        if includeOptimizer {
            let opt = model.optimizer
            metadata["optimizer"] = opt.name
            metadata["optimizer_step"] = String(opt.stepCount)
            metadata["learning_rate"] = String(opt.learningRate)
            if let sgd = opt as? SGD {
                metadata["momentum"] = String(sgd.momentum)
                metadata["nesterov"] = String(sgd.nesterov)
            }
            if let adamW = opt as? AdamW {
                metadata["weight_decay"] = String(adamW.weightDecay)
                metadata["beta_1"] = String(adamW.beta1)
                metadata["beta_2"] = String(adamW.beta2)
                metadata["epsilon"] = String(adamW.epsilon)
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys   // the same state, the same bytes
            if opt.schedule != .constant, let json = try? encoder.encode(opt.schedule) {
                metadata["learning_rate_schedule"] = String(decoding: json, as: UTF8.self)
            }
            for (name, buffer) in opt.stateArrays {
                tensors.append(SafetensorsTensor(name: "optimizer/\(name)", shape: [buffer.count], values: buffer.array))
            }
        }
        try Safetensors.write(tensors: tensors, metadata: metadata, to: path)
    }

    /// Rebuilds the model from the description in the file and loads its weights bit for bit;
    /// restores the optimiser state when the file holds it. Every mismatch is a bad-data error
    /// naming the file.
    /// - Parameter path: a file written by ``save(_:to:includeOptimizer:metadata:)``.
    /// - Returns: the model, compiled with its optimiser when the file holds one, and the metadata.
    /// - Throws: ``DataError``: 66 for a missing file, 65 for a corrupt one or a mismatch.
    public static func load(path: String) throws(DataError) -> (model: Model, metadata: [String: String]) {
        let (tensors, metadata) = try Safetensors.read(path: path)
        func bad(_ message: String) -> DataError { DataError(path: path, message: message, exitCode: DataError.badDataExitCode) }
        guard let json = metadata["model"] else { throw bad("no model description in the safetensors metadata (key 'model'); expected a checkpoint written by fmctl") }
        let model: Model
        do {
            model = try ModelDescription.parse(Data(json.utf8)).makeModel()
        } catch {
            throw bad("model description in the metadata is invalid: \(error)")
        }
        var byName: [String: SafetensorsTensor] = [:]
        for t in tensors { byName[t.name] = t }
        for p in model.namedParameters {
            guard let t = byName[p.name] else { throw bad("tensor '\(p.name)' is missing") }
            guard t.shape == p.shape else { throw bad("tensor '\(p.name)' has shape \(t.shape), the model needs \(p.shape)") }
            t.values.withUnsafeBufferPointer { p.pointer.update(from: $0.baseAddress!, count: p.count) }
        }
        if let name = metadata["optimizer"] {
            let lr = metadata["learning_rate"].flatMap(Float.init)
            let optimizer: any Optimizer
            switch name {
            case "adam": optimizer = Adam(learningRate: lr ?? 0.001)
            case "sgd":
                optimizer = SGD(learningRate: lr ?? 0.01, momentum: metadata["momentum"].flatMap(Float.init) ?? 0,
                                nesterov: metadata["nesterov"] == "true")
            case "adamw":
                func number(_ key: String, _ fallback: Float) throws(DataError) -> Float {
                    guard let text = metadata[key] else { return fallback }
                    guard let x = Float(text), x.isFinite, x >= 0 else { throw bad("\(key) in the metadata is not a number >= 0: '\(text)'") }
                    return x
                }
                optimizer = AdamW(learningRate: lr ?? 0.001, beta1: try number("beta_1", 0.9), beta2: try number("beta_2", 0.999),
                                  epsilon: try number("epsilon", 1e-8), weightDecay: try number("weight_decay", 0.01))
            default: throw bad("unknown optimizer '\(name)' in the metadata (expected adam, adamw or sgd)")
            }
            if let json = metadata["learning_rate_schedule"] {
                guard let schedule = try? JSONDecoder().decode(LearningRateSchedule.self, from: Data(json.utf8)) else {
                    throw bad("learning_rate_schedule in the metadata is not a schedule: \(json)")
                }
                optimizer.schedule = schedule
            }
            model.compile(optimizer: optimizer, loss: model.loss)
            guard let step = metadata["optimizer_step"].flatMap(Int.init), step >= 0 else {
                throw bad("optimizer_step in the metadata is missing or not a count")
            }
            optimizer.stepCount = step
            for (stateName, buffer) in optimizer.stateArrays {
                guard let t = byName["optimizer/\(stateName)"] else { throw bad("optimizer state 'optimizer/\(stateName)' is missing") }
                guard t.values.count == buffer.count else {
                    throw bad("optimizer state 'optimizer/\(stateName)' has \(t.values.count) values, the model has \(buffer.count) parameters")
                }
                t.values.withUnsafeBufferPointer { buffer.pointer.update(from: $0.baseAddress!, count: buffer.count) }
            }
        }
        return (model, metadata)
    }
}
