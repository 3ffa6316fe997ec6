import Foundation
import Tensor

/// A stack of layers, each feeding the next (Keras's `Sequential`).
///
/// Parameters, gradients and optimiser state live in flat arrays (one allocation each);
/// every layer owns views into them. Workspaces are sized once per batch size, so a training
/// step allocates nothing.
public final class Sequential {
    public let name: String
    public let inputShape: [Int]
    public let layers: [any Layer]
    public let outputShape: [Int]
    public let parameterCount: Int
    public private(set) var loss: Loss = .sparseCategoricalCrossentropy
    public private(set) var optimizer: any Optimizer = Adam()

    let parameters: FloatBuffer
    let gradients: FloatBuffer
    /// Offsets of each layer's parameters in the flat array.
    let parameterOffsets: [Int]
    /// True when the last layer's softmax is fused into the cross-entropy loss.
    private(set) var fusedSoftmax = false
    /// Whether layers may be fused (the first conv block, Adam inside Dense's backward).
    let fuseLayers: Bool
    /// With Adam: the layers that update their weights during backward, with the offset of
    /// those weights, and the parameter ranges the optimiser still updates.
    private(set) var adamFusedLayers: [(layer: any AdamFusedLayer, offset: Int)] = []
    private var optimizerRanges: [Range<Int>] = []

    // Batch workspaces, sized by `prepare(maxBatch:)`.
    private(set) var maxBatch = 0
    private var batchInputs: FloatBuffer!
    private var batchLabels: Int32Buffer!
    private var probabilities: FloatBuffer!
    private var outputGradient: FloatBuffer!

    /// Builds the layers from the input shape (per sample, e.g. `[28, 28, 1]`) and
    /// initialises the parameters from `seed` (Glorot uniform kernels, zero biases).
    /// `fuseLayers` lets a first Conv2D(relu) + 2x2 MaxPool2D run as one fused kernel (the
    /// same results; off only to compare against the layer-by-layer path).
    public init(name: String = "sequential", inputShape: [Int], layers: [any Layer], seed: UInt64 = 0,
                fuseLayers: Bool = true) throws {
        guard !layers.isEmpty else { throw ModelError("\(name): a model needs at least one layer") }
        guard !inputShape.isEmpty, inputShape.allSatisfy({ $0 > 0 }) else {
            throw ModelError("\(name): input shape must be positive dimensions, got \(inputShape)")
        }
        self.name = name
        self.fuseLayers = fuseLayers
        self.inputShape = inputShape
        self.layers = layers
        var counters: [String: Int] = [:]
        var shape = inputShape
        var offsets: [Int] = []
        var total = 0
        for layer in layers {
            let base = Self.snakeCase(layer.typeName)
            let n = counters[base, default: 0]
            counters[base] = n + 1
            layer.name = n == 0 ? base : "\(base)_\(n)"
            shape = try layer.build(inputShape: shape)
            offsets.append(total)
            total += layer.parameterCount
        }
        outputShape = shape
        parameterOffsets = offsets
        // A ReLU convolution feeding a max-pool: the pool's backward applies the ReLU mask
        // (one pass over the gradient instead of two).
        for (below, above) in zip(layers, layers.dropFirst()) {
            if let conv = below as? Conv2D, conv.activation == .relu, let pool = above as? MaxPool2D {
                conv.reluMaskAppliedDownstream = true
                pool.appliesReLUMask = true
            }
        }
        // The first layer, a ReLU convolution under a 2x2 pool, runs fused with the pool
        // (no input gradient is needed below it): see `convReLUPoolForward`.
        if fuseLayers, layers.count > 1, let conv = layers[0] as? Conv2D, let pool = layers[1] as? MaxPool2D,
           conv.activation == .relu, convReLUPoolApplies(conv.geometry, pool.poolGeometry) {
            conv.fusedPool = pool
            pool.fusedWithConvolutionBelow = true
        }
        parameterCount = total
        parameters = FloatBuffer(count: total)
        gradients = FloatBuffer(count: total)
        var rng = Xoshiro256(seed: seed)
        for (layer, offset) in zip(layers, offsets) {
            layer.bind(parameters: parameters.pointer + offset, gradients: gradients.pointer + offset)
            layer.initializeParameters(rng: &rng)
        }
        compile()
    }

    /// Chooses the loss and optimiser (Keras's `compile`). A softmax output with a
    /// cross-entropy loss is fused: the last layer emits logits and the loss owns the softmax.
    public func compile(optimizer: any Optimizer = Adam(), loss: Loss = .sparseCategoricalCrossentropy) {
        self.optimizer = optimizer
        self.loss = loss
        optimizer.allocate(count: parameterCount)
        if let last = layers.last as? any SoftmaxFusable {
            fusedSoftmax = last.activation == .softmax && loss.fusesWithSoftmax
            last.emitsLogits = fusedSoftmax
        } else {
            fusedSoftmax = false
        }
        // With Adam, a Dense layer applies the update to its kernel inside its backward
        // pass (`denseBackwardAdam`); the optimiser updates the other ranges after it.
        adamFusedLayers = []
        optimizerRanges = [0..<parameterCount]
        if fuseLayers, optimizer is Adam {
            var ranges: [Range<Int>] = []
            var next = 0
            for (layer, offset) in zip(layers, parameterOffsets) {
                guard let fusable = layer as? any AdamFusedLayer, fusable.fusedParameterCount > 0 else { continue }
                adamFusedLayers.append((fusable, offset))
                if offset > next { ranges.append(next..<offset) }
                next = offset + fusable.fusedParameterCount
            }
            if parameterCount > next { ranges.append(next..<parameterCount) }
            optimizerRanges = ranges
        }
    }

    /// Outputs per sample (classes for a classifier).
    public var outputCount: Int { outputShape.reduce(1, *) }
    public var inputCount: Int { inputShape.reduce(1, *) }

    /// Sizes every workspace for batches of up to `maxBatch` samples (once per batch size).
    public func prepare(maxBatch: Int) {
        guard maxBatch != self.maxBatch else { return }
        self.maxBatch = maxBatch
        for (i, layer) in layers.enumerated() {
            layer.allocate(maxBatch: maxBatch, needsInputGradient: i > 0)
        }
        batchInputs = FloatBuffer(count: maxBatch * inputCount)
        batchLabels = Int32Buffer(count: maxBatch)
        probabilities = FloatBuffer(count: maxBatch * outputCount)
        outputGradient = FloatBuffer(count: maxBatch * outputCount)
    }

    /// The forward pass over `batch` samples in `input`; returns the last layer's output
    /// (logits when the softmax is fused).
    func forward(_ input: UnsafePointer<Float>, batch: Int, training: Bool) -> UnsafePointer<Float> {
        var x = input
        for layer in layers { x = layer.forward(x, batch: batch, training: training) }
        return x
    }

    /// One optimisation step on the batch already in the input and label buffers.
    /// Returns the batch's summed loss and correct count.
    func trainStep(batch: Int) -> (lossSum: Double, correct: Int) {
        let out = forward(batchInputs.pointer, batch: batch, training: true)
        let r = loss.evaluate(outputs: out, labels: batchLabels.pointer, batch: batch, classes: outputCount,
                              fused: fusedSoftmax, probabilities: probabilities.pointer, gradient: outputGradient.pointer)
        let adam = adamFusedLayers.isEmpty ? nil : optimizer as? Adam
        let alpha = adam?.beginStep() ?? 0
        if let adam {
            for (layer, offset) in adamFusedLayers { layer.fusedAdam = adam.fusedUpdate(offset: offset, alpha: alpha) }
        }
        var g: UnsafeMutablePointer<Float>? = outputGradient.pointer
        for layer in layers.reversed() {
            guard let dout = g else { break }
            g = layer.backward(dout, batch: batch)
        }
        if let adam {
            for (layer, _) in adamFusedLayers { layer.fusedAdam = nil }
            for range in optimizerRanges {
                adam.update(parameters: parameters.pointer, gradients: gradients.pointer, range: range, alpha: alpha)
            }
        } else {
            optimizer.step(parameters: parameters.pointer, gradients: gradients.pointer, count: parameterCount)
        }
        return r
    }

    /// Loss and correct count of the batch in the buffers, forward only.
    func evaluateStep(batch: Int) -> (lossSum: Double, correct: Int) {
        let out = forward(batchInputs.pointer, batch: batch, training: false)
        return loss.evaluate(outputs: out, labels: batchLabels.pointer, batch: batch, classes: outputCount,
                             fused: fusedSoftmax, probabilities: probabilities.pointer, gradient: nil)
    }

    /// Probabilities of the batch in the input buffer, written to the probabilities buffer.
    func predictStep(batch: Int) -> UnsafePointer<Float> {
        let out = forward(batchInputs.pointer, batch: batch, training: false)
        guard fusedSoftmax else { return out }
        softmaxForward(out, probabilities.pointer, rows: batch, columns: outputCount)
        return UnsafePointer(probabilities.pointer)
    }

    func fill(_ source: any LabeledBatchSource, indices: UnsafeBufferPointer<Int>) {
        source.fillBatch(indices: indices, inputs: batchInputs.pointer, labels: batchLabels.pointer)
    }

    static func snakeCase(_ s: String) -> String {
        var out = ""
        for (i, c) in s.enumerated() {
            if c.isUppercase, i > 0, let prev = out.last, prev.isLowercase { out.append("_") }
            out.append(Character(c.lowercased()))
        }
        return out
    }
}

// MARK: - Parameters by name

extension Sequential {
    /// A named view of one parameter tensor (`dense_1/kernel`), for checkpoints.
    public struct NamedParameter {
        public let name: String
        public let shape: [Int]
        public let pointer: UnsafeMutablePointer<Float>
        public var count: Int { shape.reduce(1, *) }
        public var values: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
    }

    public var namedParameters: [NamedParameter] {
        var out: [NamedParameter] = []
        for (layer, offset) in zip(layers, parameterOffsets) {
            var o = offset
            for p in layer.parameters {
                out.append(NamedParameter(name: "\(layer.name)/\(p.name)", shape: p.shape, pointer: parameters.pointer + o))
                o += p.count
            }
        }
        return out
    }

    /// All parameters as one flat array (the order of `namedParameters`).
    public var flatParameters: [Float] { parameters.array }
}

// MARK: - FLOPs and summary

extension Sequential {
    /// GEMM FLOPs per sample: forward, and a training step (forward, weight gradients, and
    /// input gradients of every layer but the first).
    public var flopsPerSample: (forward: Int, training: Int) {
        var forward = 0, backward = 0
        for (i, layer) in layers.enumerated() {
            let f = layer.flopsPerSample
            forward += f.forward
            backward += f.weightGradient + (i > 0 ? f.inputGradient : 0)
        }
        return (forward, forward + backward)
    }

    /// A table like Keras's `model.summary()`.
    public func summary() -> String {
        func fmt(_ n: Int) -> String {
            let s = String(n)
            var out = ""
            for (i, c) in s.reversed().enumerated() {
                if i > 0 && i % 3 == 0 { out.append(",") }
                out.append(c)
            }
            return String(out.reversed())
        }
        let rows = layers.map { layer -> (String, String, String) in
            ("\(layer.name) (\(layer.typeName))",
             "(None, " + layer.outputShape.map(String.init).joined(separator: ", ") + ")",
             fmt(layer.parameterCount))
        }
        let w0 = max(28, rows.map(\.0.count).max() ?? 0 + 2), w1 = 25, w2 = 15
        func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s + " " : s + String(repeating: " ", count: w - s.count) }
        var out = "Model: \"\(name)\"\n"
        let rule = String(repeating: "━", count: w0 + w1 + w2 + 1)
        out += rule + "\n"
        out += pad("Layer (type)", w0) + pad("Output Shape", w1) + "Param #\n"
        out += rule + "\n"
        for (i, r) in rows.enumerated() {
            out += pad(r.0, w0) + pad(r.1, w1) + r.2 + "\n"
            out += (i == rows.count - 1 ? rule : String(repeating: "─", count: w0 + w1 + w2 + 1)) + "\n"
        }
        let bytes = parameterCount * 4
        let size = bytes >= 1 << 20 ? String(format: "%.2f MB", Double(bytes) / 1048576) : String(format: "%.2f KB", Double(bytes) / 1024)
        out += " Total params: \(fmt(parameterCount)) (\(size))\n"
        out += " Trainable params: \(fmt(parameterCount)) (\(size))\n"
        out += " Non-trainable params: 0 (0.00 B)\n"
        return out
    }
}
