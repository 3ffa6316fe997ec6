import Tensor

/// A fully connected layer over the last axis: `activation(x * kernel + bias)`, kernel
/// (in, units) as Keras stores it, Glorot-uniform kernel and zero bias. An input `[..., F]`
/// gives `[..., units]`: every leading position is a row (docs/transformer.md), so the
/// kernels run on `batch x rowsPerSample` rows; a flat input `[F]` has one row per sample.
public final class Dense: SoftmaxFusable, AdamFusedLayer, IncrementalLayer, SharedScratchLayer,
    GradientBorrowingLayer, TransientOutputLayer, OutputRecomputable, InputRecomputingLayer {
    public var typeName: String { Options.typeName }
    public var name = "dense"
    public let units: Int
    public let activation: Activation
    public var emitsLogits = false

    public private(set) var inFeatures = 0
    /// The leading dimensions of the input (empty for a flat input), kept in the output.
    private var leadingShape: [Int] = []
    /// Rows per sample: the product of the leading dimensions.
    public private(set) var rowsPerSample = 1
    private var kernel: UnsafeMutablePointer<Float>!, bias: UnsafeMutablePointer<Float>!
    private var dKernel: UnsafeMutablePointer<Float>!, dBias: UnsafeMutablePointer<Float>!
    private var output: FloatBuffer?, inputGradient: FloatBuffer?
    var transientOutput: UnsafeMutablePointer<Float>?
    private var outputPointer: UnsafeMutablePointer<Float> { transientOutput ?? output!.pointer }
    var inputRecomputedBy: (any OutputRecomputable)?
    /// Floats of the backward workspace at the allocated batch (the recomputed input follows it).
    private var workspaceCount = 0
    /// `x * kernel + bias` before an activation whose backward needs its input (GELU).
    private var preActivation: FloatBuffer?
    /// The backward pass's own scratch when the model shares none (`sharedScratch`).
    private var ownScratch: FloatBuffer?
    var sharedScratch: UnsafeMutablePointer<Float>?
    var borrowsGradients = false
    var lentGradients: UnsafeMutablePointer<UnsafeMutablePointer<Float>?>?
    private var maxRows = 0
    private var needsInputGradient = false
    var fusedAdam: FusedAdamUpdate?
    /// Adam runs inside backward for a flat input only: a sequence layer's many rows take
    /// `denseRowsBackward`, which stores the gradient (the optimiser then updates it).
    var fusedParameterCount: Int { rowsPerSample == 1 ? inFeatures * units : 0 }
    private var input: UnsafePointer<Float>!
    private var stepOutput: FloatBuffer?, stepPreActivation: FloatBuffer?

    /// - Parameters:
    ///   - units: outputs per row.
    ///   - activation: applied to the output (softmax is fused with a cross-entropy loss).
    public init(units: Int, activation: Activation = .linear) {
        self.units = units
        self.activation = activation
    }

    public var configuration: LayerConfiguration {
        LayerConfiguration(Options(units: units, activation: activation), name: name)
    }

    public func build(inputShape: [Int]) throws -> [Int] {
        guard let last = inputShape.last, inputShape.allSatisfy({ $0 > 0 }) else {
            throw ModelError("\(name): Dense needs an input [..., features] of positive sizes, got shape \(inputShape)")
        }
        guard units > 0 else { throw ModelError("\(name): units must be positive, got \(units)") }
        inFeatures = last
        leadingShape = Array(inputShape.dropLast())
        rowsPerSample = leadingShape.reduce(1, *)
        return outputShape
    }

    public var outputShape: [Int] { leadingShape + [units] }
    public var parameters: [ParameterSpec] {
        [ParameterSpec(name: "kernel", shape: [inFeatures, units]), ParameterSpec(name: "bias", shape: [units])]
    }

    public func bind(parameters: UnsafeMutablePointer<Float>, gradients: UnsafeMutablePointer<Float>) {
        kernel = parameters; bias = parameters + inFeatures * units
        dKernel = gradients; dBias = gradients + inFeatures * units
    }

    public func initializeParameters(rng: inout Xoshiro256) {
        Initializer.glorotUniform(.init(start: kernel, count: inFeatures * units), fanIn: inFeatures, fanOut: units, rng: &rng)
        Initializer.zeros(.init(start: bias, count: units))
    }

    private func workspaceCount(maxBatch: Int) -> Int {
        let maxRows = maxBatch * rowsPerSample
        return rowsPerSample == 1 ? denseBackwardAdamScratchCount(maxBatch: maxRows, outFeatures: units) : 0
    }

    /// The workspace, then the recomputed input when the layer below recomputes it.
    func backwardScratchCount(maxBatch: Int) -> Int {
        workspaceCount(maxBatch: maxBatch) + (inputRecomputedBy == nil ? 0 : maxBatch * rowsPerSample * inFeatures)
    }

    /// Linear and GELU (which keeps its input) backward passes do not read the output.
    var backwardReadsOutput: Bool { !(activation == .linear || activation.backwardNeedsInput) }
    var canRecomputeOutput: Bool { activation.backwardNeedsInput }

    func recomputeOutput(into destination: UnsafeMutablePointer<Float>, batch: Int) {
        let rows = batch * rowsPerSample
        activationForward(appliedActivation, UnsafePointer(preActivation!.pointer), into: destination, rows: rows, columns: units)
    }

    var lentGradientCounts: [Int] { needsInputGradient ? [rowsPerSample * inFeatures] : [] }

    public func allocate(maxBatch: Int, needsInputGradient: Bool) {
        let maxRows = maxBatch * rowsPerSample
        self.maxRows = maxRows
        self.needsInputGradient = needsInputGradient
        output = transientOutput == nil ? FloatBuffer(count: maxRows * units) : nil
        workspaceCount = workspaceCount(maxBatch: maxBatch)
        preActivation = activation.backwardNeedsInput ? FloatBuffer(count: maxRows * units) : nil
        inputGradient = needsInputGradient && !borrowsGradients ? FloatBuffer(count: maxRows * inFeatures) : nil
        ownScratch = sharedScratch == nil ? FloatBuffer(count: backwardScratchCount(maxBatch: maxBatch)) : nil
    }

    // input (B, ..., IN) -> output (B, ..., UNITS), as (B * rowsPerSample) rows
    public func forward(_ input: UnsafePointer<Float>, batch: Int, training: Bool) -> UnsafePointer<Float> {
        self.input = input
        let rows = batch * rowsPerSample
        let y = outputPointer
        if let pre = preActivation {
            denseForward(input, kernel, bias, pre.pointer, batch: rows, inFeatures: inFeatures, outFeatures: units)
            activationForward(appliedActivation, UnsafePointer(pre.pointer), into: y, rows: rows, columns: units)
            return UnsafePointer(y)
        }
        denseForward(input, kernel, bias, y, batch: rows, inFeatures: inFeatures, outFeatures: units,
                     relu: activation == .relu)
        if activation != .relu { activationForward(appliedActivation, y, rows: rows, columns: units) }
        return UnsafePointer(y)
    }

    public func backward(_ dout: UnsafeMutablePointer<Float>, batch: Int) -> UnsafeMutablePointer<Float>? {
        let rows = batch * rowsPerSample
        let dinp = needsInputGradient ? lentGradients?[0] ?? ownInputGradient() : nil
        let scratch = sharedScratch ?? ownScratch!.pointer
        if let producer = inputRecomputedBy {
            let x = scratch + workspaceCount
            producer.recomputeOutput(into: x, batch: batch)
            input = UnsafePointer(x)
        }
        activationBackward(appliedActivation, dout, output: outputPointer, input: preActivation.map { UnsafePointer($0.pointer) },
                           rows: rows, columns: units)
        if rowsPerSample > 1 {
            denseRowsBackward(dout, input, kernel, dweight: dKernel, dbias: dBias, dinp: dinp,
                              rows: rows, inFeatures: inFeatures, outFeatures: units)
        } else if let a = fusedAdam {
            // The kernel is updated here; its slice of the gradient array is not written.
            denseBackwardAdam(dout, input, weight: kernel, m: a.m, v: a.v, dbias: dBias, dinp: dinp,
                              scratch: scratch, batch: rows, inFeatures: inFeatures,
                              outFeatures: units, alpha: a.alpha, beta1: a.beta1, beta2: a.beta2, epsilon: a.epsilon)
        } else {
            denseBackward(dout, input, kernel, dweight: dKernel, dbias: dBias, dinp: dinp,
                          scratch: scratch, batch: rows, inFeatures: inFeatures, outFeatures: units)
        }
        return dinp
    }

    /// The layer's own input-gradient buffer (made here when the model lends buffers but did not
    /// for this call: the layer is run by itself).
    private func ownInputGradient() -> UnsafeMutablePointer<Float> {
        if inputGradient == nil { inputGradient = FloatBuffer(count: maxRows * inFeatures) }
        return inputGradient!.pointer
    }

    public var flopsPerSample: LayerFLOPs {
        let f = 2 * inFeatures * units * rowsPerSample
        return LayerFLOPs(forward: f, weightGradient: f, inputGradient: f)
    }

    // MARK: Incremental decoding (one row)

    public func beginDecoding(maxLength: Int) {
        stepOutput = FloatBuffer(count: units)
        stepPreActivation = activation.backwardNeedsInput ? FloatBuffer(count: units) : nil
    }

    public func decodeStep(_ inputs: UnsafePointer<UnsafePointer<Float>>, count: Int, position: Int) -> UnsafePointer<Float> {
        if stepOutput == nil { beginDecoding(maxLength: position + 1) }
        let y = stepOutput!.pointer
        if let pre = stepPreActivation {
            denseForward(inputs[0], kernel, bias, pre.pointer, batch: 1, inFeatures: inFeatures, outFeatures: units)
            activationForward(appliedActivation, UnsafePointer(pre.pointer), into: y, rows: 1, columns: units)
        } else {
            denseForward(inputs[0], kernel, bias, y, batch: 1, inFeatures: inFeatures, outFeatures: units,
                         relu: activation == .relu)
            if activation != .relu { activationForward(appliedActivation, y, rows: 1, columns: units) }
        }
        return UnsafePointer(y)
    }
}

extension Dense {
    /// `{"type": "Dense", "units": 128, "activation": "relu"}`: `units` required, `activation`
    /// linear by default (also `gelu`, `gelu_tanh`). Acts on the last axis of its input.
    public struct Options: LayerOptions {
        public static let typeName = "Dense"
        public static var keys: [String] { CodingKeys.allCases.map(\.rawValue) }
        public var units: Int
        public var activation: Activation

        public init(units: Int, activation: Activation = .linear) {
            self.units = units
            self.activation = activation
        }

        enum CodingKeys: String, CodingKey, CaseIterable { case units, activation }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            units = try c.decode(Int.self, forKey: .units)
            activation = try c.decodeIfPresent(Activation.self, forKey: .activation) ?? .linear
        }

        public var sizes: [(key: String, value: Int)] { [("units", units)] }
        public func makeLayer() -> any Layer { Dense(units: units, activation: activation) }
    }
}
