import Tensor

/// Layer normalisation over the last axis (Keras's `LayerNormalization(axis=-1)`):
/// `y = (x - mean) / sqrt(var + epsilon) * gamma + beta` per row, biased variance,
/// `gamma` `[D]` (ones), `beta` `[D]` (zeros), `epsilon` 0.001 by default as Keras
/// (PyTorch's is 1e-5; docs/transformer.md). The forward pass keeps each row's mean and
/// reciprocal standard deviation for the backward pass.
public final class LayerNormalization: Layer, IncrementalLayer, TransientOutputLayer, OutputRecomputable {
    public var typeName: String { Options.typeName }
    public var name = "layer_normalization"
    public let epsilon: Double
    private var shape: [Int] = []
    private var features = 0, rowsPerSample = 1
    private var gamma: UnsafeMutablePointer<Float>!, beta: UnsafeMutablePointer<Float>!
    private var dGamma: UnsafeMutablePointer<Float>!, dBeta: UnsafeMutablePointer<Float>!
    private var output: FloatBuffer?, mean: FloatBuffer!, rstd: FloatBuffer!, scratch: FloatBuffer!
    var transientOutput: UnsafeMutablePointer<Float>?
    /// Backward reads the input and the row statistics, from which the output can be recomputed.
    var backwardReadsOutput: Bool { false }
    var canRecomputeOutput: Bool { true }
    private var needsInputGradient = true
    private var input: UnsafePointer<Float>!
    private var stepOutput: FloatBuffer?, stepStatistics: FloatBuffer?

    /// - Parameter epsilon: added to the variance; positive.
    public init(epsilon: Double = 0.001) { self.epsilon = epsilon }

    public var configuration: LayerConfiguration { LayerConfiguration(Options(epsilon: epsilon), name: name) }

    public func build(inputShape: [Int]) throws -> [Int] {
        guard epsilon > 0, epsilon.isFinite else {
            throw ModelError("\(name): LayerNormalization epsilon must be a positive number, got \(epsilon)")
        }
        guard let last = inputShape.last, inputShape.allSatisfy({ $0 > 0 }) else {
            throw ModelError("\(name): LayerNormalization needs an input [..., features] of positive sizes, got shape \(inputShape)")
        }
        shape = inputShape
        features = last
        rowsPerSample = inputShape.dropLast().reduce(1, *)
        return shape
    }

    public var outputShape: [Int] { shape }
    public var parameters: [ParameterSpec] {
        [ParameterSpec(name: "gamma", shape: [features]), ParameterSpec(name: "beta", shape: [features])]
    }

    public func bind(parameters: UnsafeMutablePointer<Float>, gradients: UnsafeMutablePointer<Float>) {
        gamma = parameters; beta = parameters + features
        dGamma = gradients; dBeta = gradients + features
    }

    public func initializeParameters(rng: inout Xoshiro256) {
        gamma.update(repeating: 1, count: features)
        Initializer.zeros(.init(start: beta, count: features))
    }

    public func allocate(maxBatch: Int, needsInputGradient: Bool) {
        let rows = maxBatch * rowsPerSample
        output = transientOutput == nil ? FloatBuffer(count: rows * features) : nil
        mean = FloatBuffer(count: rows)
        rstd = FloatBuffer(count: rows)
        scratch = FloatBuffer(count: layerNormBackwardScratchCount(columns: features))
        self.needsInputGradient = needsInputGradient
    }

    // input (B, ..., D) -> output (B, ..., D), as (B * rowsPerSample) rows
    public func forward(_ input: UnsafePointer<Float>, batch: Int, training: Bool) -> UnsafePointer<Float> {
        self.input = input
        let y = transientOutput ?? output!.pointer
        layerNormForward(input, gamma: gamma, beta: beta, y, mean: mean.pointer, rstd: rstd.pointer,
                         rows: batch * rowsPerSample, columns: features, epsilon: Float(epsilon))
        return UnsafePointer(y)
    }

    /// The normalised rows again from the kept input, mean and reciprocal standard deviation.
    func recomputeOutput(into destination: UnsafeMutablePointer<Float>, batch: Int) {
        layerNormApply(input, gamma: gamma, beta: beta, destination, mean: mean.pointer, rstd: rstd.pointer,
                       rows: batch * rowsPerSample, columns: features)
    }

    /// Writes the input gradient over `dout` (one pass per row) and returns it.
    public func backward(_ dout: UnsafeMutablePointer<Float>, batch: Int) -> UnsafeMutablePointer<Float>? {
        layerNormBackward(dout, input, gamma: gamma, mean: mean.pointer, rstd: rstd.pointer,
                          dx: needsInputGradient ? dout : nil, dgamma: dGamma, dbeta: dBeta, scratch: scratch.pointer,
                          rows: batch * rowsPerSample, columns: features)
        return needsInputGradient ? dout : nil
    }

    public var flopsPerSample: LayerFLOPs { .zero }

    public func beginDecoding(maxLength: Int) {
        stepOutput = FloatBuffer(count: features)
        stepStatistics = FloatBuffer(count: 2)
    }

    public func decodeStep(_ inputs: UnsafePointer<UnsafePointer<Float>>, count: Int, position: Int) -> UnsafePointer<Float> {
        if stepOutput == nil { beginDecoding(maxLength: position + 1) }
        let s = stepStatistics!.pointer
        layerNormForward(inputs[0], gamma: gamma, beta: beta, stepOutput!.pointer, mean: s, rstd: s + 1,
                         rows: 1, columns: features, epsilon: Float(epsilon))
        return UnsafePointer(stepOutput!.pointer)
    }
}

extension LayerNormalization {
    /// `{"type": "LayerNormalization", "epsilon": 1e-5}`: `epsilon` 0.001 by default, positive.
    public struct Options: LayerOptions {
        public static let typeName = "LayerNormalization"
        public static var keys: [String] { CodingKeys.allCases.map(\.rawValue) }
        public var epsilon: Double

        public init(epsilon: Double = 0.001) { self.epsilon = epsilon }

        enum CodingKeys: String, CodingKey, CaseIterable { case epsilon }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            epsilon = try c.decodeIfPresent(Double.self, forKey: .epsilon) ?? 0.001
        }

        public func makeLayer() -> any Layer { LayerNormalization(epsilon: epsilon) }
    }
}
