import Tensor

/// A fully connected layer: `activation(x * kernel + bias)`, kernel (in, units) as Keras
/// stores it, Glorot-uniform kernel and zero bias.
public final class Dense: SoftmaxFusable, AdamFusedLayer {
    public var typeName: String { Options.typeName }
    public var name = "dense"
    public let units: Int
    public let activation: Activation
    public var emitsLogits = false

    public private(set) var inFeatures = 0
    private var kernel: UnsafeMutablePointer<Float>!, bias: UnsafeMutablePointer<Float>!
    private var dKernel: UnsafeMutablePointer<Float>!, dBias: UnsafeMutablePointer<Float>!
    private var output: FloatBuffer!, inputGradient: FloatBuffer?
    private var transposedGradient: FloatBuffer!
    var fusedAdam: FusedAdamUpdate?
    var fusedParameterCount: Int { inFeatures * units }
    private var input: UnsafePointer<Float>!

    /// - Parameters:
    ///   - units: outputs per sample.
    ///   - activation: applied to the output (softmax is fused with a cross-entropy loss).
    public init(units: Int, activation: Activation = .linear) {
        self.units = units
        self.activation = activation
    }

    public var configuration: LayerConfiguration {
        LayerConfiguration(Options(units: units, activation: activation), name: name)
    }

    public func build(inputShape: [Int]) throws -> [Int] {
        guard inputShape.count == 1 else {
            throw ModelError("\(name): Dense needs a flat input, got shape \(inputShape); add a Flatten layer before it")
        }
        guard units > 0 else { throw ModelError("\(name): units must be positive, got \(units)") }
        inFeatures = inputShape[0]
        return outputShape
    }

    public var outputShape: [Int] { [units] }
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

    public func allocate(maxBatch: Int, needsInputGradient: Bool) {
        output = FloatBuffer(count: maxBatch * units)
        inputGradient = needsInputGradient ? FloatBuffer(count: maxBatch * inFeatures) : nil
        transposedGradient = FloatBuffer(count: denseBackwardAdamScratchCount(maxBatch: maxBatch, outFeatures: units))
    }

    // input (B, IN) -> output (B, UNITS)
    public func forward(_ input: UnsafePointer<Float>, batch: Int, training: Bool) -> UnsafePointer<Float> {
        self.input = input
        let y = output.pointer
        denseForward(input, kernel, bias, y, batch: batch, inFeatures: inFeatures, outFeatures: units,
                     relu: activation == .relu)
        if activation != .relu { activationForward(appliedActivation, y, rows: batch, columns: units) }
        return UnsafePointer(y)
    }

    public func backward(_ dout: UnsafeMutablePointer<Float>, batch: Int) -> UnsafeMutablePointer<Float>? {
        activationBackward(appliedActivation, dout, output: output.pointer, rows: batch, columns: units)
        if let a = fusedAdam {
            // The kernel is updated here; its slice of the gradient array is not written.
            denseBackwardAdam(dout, input, weight: kernel, m: a.m, v: a.v, dbias: dBias, dinp: inputGradient?.pointer,
                              scratch: transposedGradient.pointer, batch: batch, inFeatures: inFeatures,
                              outFeatures: units, alpha: a.alpha, beta1: a.beta1, beta2: a.beta2, epsilon: a.epsilon)
        } else {
            denseBackward(dout, input, kernel, dweight: dKernel, dbias: dBias, dinp: inputGradient?.pointer,
                          scratch: transposedGradient.pointer, batch: batch, inFeatures: inFeatures, outFeatures: units)
        }
        return inputGradient?.pointer
    }

    public var flopsPerSample: LayerFLOPs {
        let f = 2 * inFeatures * units
        return LayerFLOPs(forward: f, weightGradient: f, inputGradient: f)
    }
}

extension Dense {
    /// `{"type": "Dense", "units": 128, "activation": "relu"}`: `units` required, `activation`
    /// linear by default.
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
