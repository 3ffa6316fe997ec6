import Foundation
import Models
import Tensor

/// A compression method's failure on the user's input (a sparsity outside (0, 1), a rank
/// above every Dense layer's, a model without the layers a method needs): one line.
public struct CompressionError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The compression methods of `fmctl compress` (docs/compress.md); `float` is the baseline.
public enum CompressionMethod: String, Sendable, Codable {
    case float, prune, int8
    case lowRank = "low-rank"
}

extension Model {
    /// Parameters that are not zero (a pruned model's are counted here, not in its file).
    public var nonzeroParameterCount: Int {
        namedParameters.reduce(0) { n, p in n + (0..<p.count).reduce(0) { $0 + (p.pointer[$1] != 0 ? 1 : 0) } }
    }

    /// Copies every parameter of `source` whose name and shape this model has; returns the
    /// names it copied.
    @discardableResult
    public func copyParameters(from source: Model) -> Set<String> {
        var byName: [String: Model.NamedParameter] = [:]
        for p in source.namedParameters { byName[p.name] = p }
        var copied: Set<String> = []
        for p in namedParameters {
            guard let s = byName[p.name], s.shape == p.shape else { continue }
            p.pointer.update(from: s.pointer, count: p.count)
            copied.insert(p.name)
        }
        return copied
    }
}

/// A new model of `description` (compiled with Adam, Keras's default) holding `source`'s
/// parameters wherever names and shapes agree.
func rebuild(_ source: Model, as description: ModelDescription) throws -> Model {
    let model = try description.makeModel(seed: 0)
    model.copyParameters(from: source)
    return model
}
