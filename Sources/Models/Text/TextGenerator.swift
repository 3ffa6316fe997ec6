import Foundation
import Tensor

/// Samples bytes from a causal text model one position at a time (docs/transformer.md,
/// "Generation"): each layer runs as an ``IncrementalLayer``, so attention reads the keys and
/// values of the positions before from its cache instead of recomputing the prefix. When the
/// sequence reaches the model's context length, the window slides: the last half of the
/// context is decoded again from position 0 (learned positions cannot go past the context),
/// which recomputes that half once per half-context of new bytes.
public final class TextGenerator {
    public let model: Model
    /// Positions the model takes (its input's length).
    public let context: Int
    private let steppers: [any IncrementalLayer]
    private let values: UnsafeMutablePointer<UnsafePointer<Float>?>
    private let gathered: UnsafeMutablePointer<UnsafePointer<Float>>
    private let token: UnsafeMutablePointer<Float>
    private var logits: [Float]
    private var position = 0
    private var window: [UInt8] = []

    /// - Throws: ``ModelError`` when the model does not take one sequence of token ids and
    ///   give one row of scores per position, or a layer cannot decode left to right (a layer
    ///   that is not incremental, or bidirectional attention).
    public init(model: Model) throws {
        guard model.inputs.count == 1, model.inputShape.count == 1 else {
            throw ModelError("\(model.name): generation needs a model with one input of token ids, shape [T]; this one takes \(model.inputs.map(\.shape))")
        }
        context = model.inputShape[0]
        guard model.outputShape.count == 2, model.outputShape[0] == context else {
            throw ModelError("\(model.name): generation needs one row of scores per position, shape [\(context), vocabulary]; the output is \(model.outputShape)")
        }
        var steppers: [any IncrementalLayer] = []
        for layer in model.layers {
            guard let s = layer as? any IncrementalLayer else {
                throw ModelError("\(model.name): layer \(layer.name) (\(layer.typeName)) cannot run one position at a time; generation needs a decoder of Embedding, attention and position-wise layers")
            }
            guard s.decodesLeftToRight else {
                throw ModelError("\(model.name): layer \(layer.name) (\(layer.typeName)) attends in both directions; only a causal model (a decoder such as gpt-mini) generates text")
            }
            steppers.append(s)
        }
        self.model = model
        self.steppers = steppers
        let tensors = model.inputs.count + model.layers.count
        values = .allocate(capacity: tensors)
        values.initialize(repeating: nil, count: tensors)
        gathered = .allocate(capacity: max(1, model.layerInputs.map(\.count).max() ?? 1))
        token = .allocate(capacity: 1)
        logits = [Float](repeating: 0, count: model.outputShape[1])
    }

    deinit {
        values.deallocate()
        gathered.deallocate()
        token.deallocate()
    }

    /// Clears the caches: the next byte fed is position 0.
    public func reset() {
        for s in steppers { s.beginDecoding(maxLength: context) }
        position = 0
        window = []
    }

    /// Runs one byte through the model at the next position and returns the scores of the byte
    /// after it: log-probabilities up to a constant (logits).
    @discardableResult
    public func feed(_ byte: UInt8) -> [Float] {
        if position == context {
            // Slide: decode the last half of the window again from position 0.
            let keep = Array(window.suffix(context / 2))
            reset()
            for b in keep { step(b) }
        }
        step(byte)
        return logits
    }

    private func step(_ byte: UInt8) {
        token.pointee = Float(byte)
        let n = model.inputs.count
        values[0] = UnsafePointer(token)
        for (j, s) in steppers.enumerated() {
            let ins = model.layerInputs[j]
            for k in 0..<ins.count { gathered[k] = values[ins[k]]! }
            values[n + j] = s.decodeStep(gathered, count: ins.count, position: position)
        }
        let out = values[model.outputTensor]!
        let v = logits.count
        if model.plan.softmaxFused {
            for i in 0..<v { logits[i] = out[i] }
        } else {
            // Probabilities (a softmax that no loss owns): their logs are logits.
            for i in 0..<v { logits[i] = logf(max(out[i], .leastNormalMagnitude)) }
        }
        position += 1
        window.append(byte)
    }

    /// Continues `prompt` by `count` sampled bytes, calling `emit` with each as it is drawn.
    /// - Parameters:
    ///   - prompt: the bytes to start from (at least one).
    ///   - count: bytes to draw.
    ///   - temperature: divides the logits; 0 takes the most likely byte every time.
    ///   - topK: draws only among the `topK` most likely bytes (nil: all).
    ///   - seed: the sampler's seed (the same seed gives the same text).
    ///   - emit: called with each byte as it is drawn (to print as it goes).
    /// - Returns: the drawn bytes.
    public func generate(prompt: [UInt8], count: Int, temperature: Float = 1, topK: Int? = nil, seed: UInt64 = 0,
                         emit: (UInt8) -> Void = { _ in }) -> [UInt8] {
        precondition(!prompt.isEmpty, "a prompt needs at least one byte")
        precondition(temperature >= 0 && (topK ?? 1) >= 1)
        reset()
        var scores: [Float] = []
        for b in prompt { scores = feed(b) }
        var rng = Xoshiro256(seed: seed)
        var out: [UInt8] = []
        out.reserveCapacity(count)
        for _ in 0..<count {
            let b = Self.sample(scores, temperature: temperature, topK: topK, rng: &rng)
            out.append(b)
            emit(b)
            if out.count < count { scores = feed(b) }
        }
        return out
    }

    /// Draws one index from logits: greedy at temperature 0, else softmax(logits / T) over the
    /// `topK` largest (ties at the k-th value kept), by inverse CDF with one uniform draw.
    static func sample(_ logits: [Float], temperature: Float, topK: Int?, rng: inout Xoshiro256) -> UInt8 {
        var best = 0
        for i in 1..<logits.count where logits[i] > logits[best] { best = i }
        if temperature == 0 { return UInt8(truncatingIfNeeded: best) }
        var threshold = -Float.infinity
        if let k = topK, k < logits.count {
            threshold = logits.sorted(by: >)[k - 1]
        }
        let top = logits[best]
        var weights = [Double](repeating: 0, count: logits.count)
        var total = 0.0
        for i in logits.indices where logits[i] >= threshold {
            weights[i] = exp(Double((logits[i] - top) / temperature))
            total += weights[i]
        }
        var u = Double(rng.nextUnitFloat()) * total
        for i in weights.indices where weights[i] > 0 {
            u -= weights[i]
            if u <= 0 { return UInt8(truncatingIfNeeded: i) }
        }
        return UInt8(truncatingIfNeeded: best)
    }
}
