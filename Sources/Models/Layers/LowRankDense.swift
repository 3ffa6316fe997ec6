import Tensor

/// A Dense layer whose kernel is a product of two thin factors (docs/compress.md):
/// `activation(x * kernel_u * kernel_v + bias)`, `kernel_u` (in, rank), `kernel_v` (rank, units).
/// `fmctl compress --low-rank R` builds it from a Dense kernel's truncated SVD; it trains like
/// any layer (Glorot-uniform factors, zero bias when built from JSON).
public final class LowRankDense: SoftmaxFusable {
    public var typeName: String { Options.typeName }
    public var name = "low_rank_dense"
    public let units: Int
    public let rank: Int
    public let activation: Activation
    public var emitsLogits = false

    public private(set) var inFeatures = 0
    private var u: UnsafeMutablePointer<Float>!, v: UnsafeMutablePointer<Float>!, bias: UnsafeMutablePointer<Float>!
    private var du: UnsafeMutablePointer<Float>!, dv: UnsafeMutablePointer<Float>!, dBias: UnsafeMutablePointer<Float>!
    private var hidden: FloatBuffer!, dHidden: FloatBuffer!, output: FloatBuffer!, inputGradient: FloatBuffer?
    private var input: UnsafePointer<Float>!

    public init(units: Int, rank: Int, activation: Activation = .linear) {
        self.units = units
        self.rank = rank
        self.activation = activation
    }

    public var configuration: LayerConfiguration {
        LayerConfiguration(Options(units: units, rank: rank, activation: activation), name: name)
    }

    public func build(inputShape: [Int]) throws -> [Int] {
        guard inputShape.count == 1 else {
            throw ModelError("\(name): LowRankDense needs a flat input, got shape \(inputShape); add a Flatten layer before it")
        }
        guard units > 0 else { throw ModelError("\(name): units must be positive, got \(units)") }
        inFeatures = inputShape[0]
        guard rank >= 1, rank <= min(inFeatures, units) else {
            throw ModelError("\(name): rank must be in 1...\(min(inFeatures, units)) (min of \(inFeatures) inputs and \(units) units), got \(rank)")
        }
        return outputShape
    }

    public var outputShape: [Int] { [units] }
    public var parameters: [ParameterSpec] {
        [ParameterSpec(name: "kernel_u", shape: [inFeatures, rank]), ParameterSpec(name: "kernel_v", shape: [rank, units]),
         ParameterSpec(name: "bias", shape: [units])]
    }

    public func bind(parameters: UnsafeMutablePointer<Float>, gradients: UnsafeMutablePointer<Float>) {
        u = parameters; v = parameters + inFeatures * rank; bias = v + rank * units
        du = gradients; dv = gradients + inFeatures * rank; dBias = dv + rank * units
    }

    public func initializeParameters(rng: inout Xoshiro256) {
        Initializer.glorotUniform(.init(start: u, count: inFeatures * rank), fanIn: inFeatures, fanOut: rank, rng: &rng)
        Initializer.glorotUniform(.init(start: v, count: rank * units), fanIn: rank, fanOut: units, rng: &rng)
        Initializer.zeros(.init(start: bias, count: units))
    }

    public func allocate(maxBatch: Int, needsInputGradient: Bool) {
        hidden = FloatBuffer(count: maxBatch * rank)
        dHidden = FloatBuffer(count: maxBatch * rank)
        output = FloatBuffer(count: maxBatch * units)
        inputGradient = needsInputGradient ? FloatBuffer(count: maxBatch * inFeatures) : nil
    }

    // input (B, IN) -> hidden (B, R) -> output (B, UNITS)
    public func forward(_ input: UnsafePointer<Float>, batch: Int, training: Bool) -> UnsafePointer<Float> {
        self.input = input
        sgemm(m: batch, n: rank, k: inFeatures, a: input, b: u, c: hidden.pointer)
        denseForward(hidden.pointer, v, bias, output.pointer, batch: batch, inFeatures: rank, outFeatures: units,
                     relu: activation == .relu)
        if activation != .relu { activationForward(appliedActivation, output.pointer, rows: batch, columns: units) }
        return UnsafePointer(output.pointer)
    }

    public func backward(_ dout: UnsafeMutablePointer<Float>, batch: Int) -> UnsafeMutablePointer<Float>? {
        activationBackward(appliedActivation, dout, output: output.pointer, rows: batch, columns: units)
        for j in 0..<units { dBias[j] = 0 }
        for i in 0..<batch { for j in 0..<units { dBias[j] += dout[i * units + j] } }
        sgemm(transposeA: true, m: rank, n: units, k: batch, a: hidden.pointer, b: dout, c: dv)          // dV = h^T dy
        sgemm(transposeB: true, m: batch, n: rank, k: units, a: dout, b: v, c: dHidden.pointer)         // dh = dy V^T
        sgemm(transposeA: true, m: inFeatures, n: rank, k: batch, a: input, b: dHidden.pointer, c: du)  // dU = x^T dh
        guard let dx = inputGradient else { return nil }
        sgemm(transposeB: true, m: batch, n: inFeatures, k: rank, a: dHidden.pointer, b: u, c: dx.pointer)
        return dx.pointer
    }

    public var flopsPerSample: LayerFLOPs {
        let f = 2 * rank * (inFeatures + units)
        return LayerFLOPs(forward: f, weightGradient: f, inputGradient: f)
    }
}

extension LowRankDense {
    /// `{"type": "LowRankDense", "units": 128, "rank": 32, "activation": "relu"}`.
    public struct Options: LayerOptions {
        public static let typeName = "LowRankDense"
        public static var keys: [String] { CodingKeys.allCases.map(\.rawValue) }
        public var units: Int
        public var rank: Int
        public var activation: Activation

        public init(units: Int, rank: Int, activation: Activation = .linear) {
            self.units = units
            self.rank = rank
            self.activation = activation
        }

        enum CodingKeys: String, CodingKey, CaseIterable { case units, rank, activation }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            units = try c.decode(Int.self, forKey: .units)
            rank = try c.decode(Int.self, forKey: .rank)
            activation = try c.decodeIfPresent(Activation.self, forKey: .activation) ?? .linear
        }

        public var sizes: [(key: String, value: Int)] { [("units", units), ("rank", rank)] }
        public func makeLayer() -> any Layer { LowRankDense(units: units, rank: rank, activation: activation) }
    }
}
