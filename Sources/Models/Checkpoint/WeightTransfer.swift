import Foundation

/// What ``Model/loadWeights(from:)`` copied: the layers matched by name, and the ones left
/// as initialised on each side.
public struct WeightTransfer: Sendable, Equatable {
    /// Layers of this model whose parameters came from the checkpoint.
    public var loaded: [String] = []
    /// Layers of this model with parameters that the checkpoint does not have (kept as initialised).
    public var initialised: [String] = []
    /// Layers in the checkpoint that this model does not have.
    public var unused: [String] = []
}

extension Model {
    /// Transfer learning: copies into this model the parameters of every layer that a
    /// checkpoint holds under the same layer name (docs/transformer.md, "Fine-tuning").
    /// The optimiser state is not taken: fine-tuning starts its own.
    /// - Parameter path: a `model.safetensors` written by fmctl.
    /// - Returns: which layers were loaded, kept, and not used.
    /// - Throws: ``DataError`` naming the file: unreadable (66), corrupt (65), a layer whose
    ///   parameter has another shape or is missing in the checkpoint (65, naming the layer),
    ///   or no layer in common (65).
    @discardableResult
    public func loadWeights(from path: String) throws(DataError) -> WeightTransfer {
        let (tensors, _) = try Safetensors.read(path: path)
        var byName: [String: SafetensorsTensor] = [:]
        for t in tensors where !t.name.hasPrefix("optimizer/") { byName[t.name] = t }
        let checkpointLayers = Set(byName.keys.compactMap { name in name.lastIndex(of: "/").map { String(name[..<$0]) } })
        var result = WeightTransfer()
        let params = namedParameters
        var k = 0
        for layer in layers {
            let mine = params[k..<(k + layer.parameters.count)]
            k += layer.parameters.count
            guard !mine.isEmpty else { continue }
            guard checkpointLayers.contains(layer.name) else {
                result.initialised.append(layer.name)
                continue
            }
            for p in mine {
                guard let t = byName[p.name] else {
                    throw DataError.badData(path, "layer '\(layer.name)': the checkpoint has no '\(p.name)'; expected the same layer type")
                }
                guard t.shape == p.shape else {
                    throw DataError.badData(path, "layer '\(layer.name)': '\(p.name)' has shape \(t.shape) in the checkpoint, this model needs \(p.shape)")
                }
            }
            for p in mine {
                byName[p.name]!.values.withUnsafeBufferPointer { p.pointer.update(from: $0.baseAddress!, count: p.count) }
            }
            result.loaded.append(layer.name)
        }
        let names = Set(layers.map(\.name))
        result.unused = checkpointLayers.subtracting(names).sorted()
        guard !result.loaded.isEmpty else {
            throw DataError.badData(path, "no layer of model '\(name)' is in the checkpoint by name (it has \(checkpointLayers.sorted().prefix(5).joined(separator: ", ")))")
        }
        return result
    }
}
