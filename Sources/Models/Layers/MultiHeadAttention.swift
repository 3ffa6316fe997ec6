import Foundation
import Tensor

/// Multi-head self-attention over a sequence `[T, D]` (docs/transformer.md): one fused
/// projection `qkv = x qkv_kernel + qkv_bias` (queries in columns `0..<D`, keys `D..<2D`,
/// values `2D..<3D`; head h takes columns `h*d..<(h+1)*d` of each, d = D / num_heads),
/// per (sample, head) a softmax of `q k^T / sqrt(d)` (masked above the diagonal when causal,
/// with dropout on the probabilities in training) times v, the heads concatenated, then
/// `output_kernel` and `output_bias`. The projections are one sgemm each over all B*T rows;
/// the attention core is `attentionForward`/`attentionBackward` (Tensor/Kernels/Attention.swift,
/// the kernel choice is in docs/transformer.md). A causal layer can also decode one position
/// at a time over a key/value cache (``IncrementalLayer``).
public final class MultiHeadAttention: Layer, StochasticLayer, IncrementalLayer, SharedScratchLayer,
    GradientBorrowingLayer, TransientOutputLayer, InputRecomputingLayer {
    public var typeName: String { Options.typeName }
    public var name = "multi_head_attention"
    public let numHeads: Int
    public let causal: Bool
    /// The dropout rate on the attention probabilities, as the options give it.
    public let dropout: Double
    public let useBias: Bool
    /// Set by the model from its seed; advanced by every training pass with dropout.
    public var rng = Xoshiro256(seed: 0)
    /// The attention core's implementation: sgemm per (sample, head), OpenBLAS single-threaded
    /// inside the pool's pieces, which measured faster than the row kernel at both benchmark
    /// shapes though it computes the whole `T x T` square of a causal layer
    /// (docs/transformer.md, "MultiHeadAttention: computation, kernels and measurements").
    package var kernel: AttentionKernel = .sgemm

    /// The sequence length (T) and model width (D), set by `build`.
    public private(set) var length = 0, width = 0
    private var qkvKernel: UnsafeMutablePointer<Float>!, qkvBias: UnsafeMutablePointer<Float>?
    private var outputKernel: UnsafeMutablePointer<Float>!, outputBias: UnsafeMutablePointer<Float>?
    private var dQKVKernel: UnsafeMutablePointer<Float>!, dQKVBias: UnsafeMutablePointer<Float>?
    private var dOutputKernel: UnsafeMutablePointer<Float>!, dOutputBias: UnsafeMutablePointer<Float>?

    // Workspaces (allocate): what backward needs from forward, and its own buffers.
    private var qkv: FloatBuffer!, probabilities: FloatBuffer!, dropped: FloatBuffer?
    private var heads: FloatBuffer!, output: FloatBuffer?
    var transientOutput: UnsafeMutablePointer<Float>?
    var backwardReadsOutput: Bool { false }
    /// Backward's gradients of the heads and of qkv (`4 D` per row): `sharedScratch`, or this
    /// buffer when the model shares none.
    private var ownBackwardScratch: FloatBuffer?, inputGradient: FloatBuffer?
    var sharedScratch: UnsafeMutablePointer<Float>?
    var borrowsGradients = false
    var lentGradients: UnsafeMutablePointer<UnsafeMutablePointer<Float>?>?
    private var needsInputGradient = false
    /// Rows of the allocated batch.
    private var maxRows = 0
    private var scratch: FloatBuffer!, scratchPieces = 1
    private var input: UnsafePointer<Float>!
    private var droppedThisPass = false

    // Decoding (beginDecoding): the key/value cache and one position's buffers.
    private var keyCache: FloatBuffer?, valueCache: FloatBuffer?
    private var stepQKV: FloatBuffer!, stepScores: FloatBuffer!, stepHeads: FloatBuffer!, stepOutput: FloatBuffer!
    private var decodeCapacity = 0, decodedPositions = 0

    /// - Parameters:
    ///   - numHeads: heads; must divide the input width.
    ///   - causal: mask the scores above the diagonal (a decoder).
    ///   - dropout: the rate of dropout on the attention probabilities in training, in [0, 1).
    ///   - useBias: add `qkv_bias` and `output_bias`.
    public init(numHeads: Int, causal: Bool = false, dropout: Double = 0, useBias: Bool = true) {
        self.numHeads = numHeads
        self.causal = causal
        self.dropout = dropout
        self.useBias = useBias
    }

    public var configuration: LayerConfiguration {
        LayerConfiguration(Options(numHeads: numHeads, causal: causal, dropout: dropout, useBias: useBias), name: name)
    }

    public func build(inputShape: [Int]) throws -> [Int] {
        try Options.check(numHeads: numHeads, dropout: dropout, label: name)
        guard inputShape.count == 2, inputShape.allSatisfy({ $0 > 0 }) else {
            throw ModelError("\(name): MultiHeadAttention needs a sequence input [T, D], got shape \(inputShape)")
        }
        guard inputShape[1] % numHeads == 0 else {
            throw ModelError("\(name): the width \(inputShape[1]) is not divisible by num_heads \(numHeads)")
        }
        // The probabilities, H x T x T per sample, are held to the limit on a layer's values
        // per sample (docs/model-json.md, "Validation").
        let (square, o1) = inputShape[0].multipliedReportingOverflow(by: inputShape[0])
        let (values, o2) = square.multipliedReportingOverflow(by: numHeads)
        guard !o1, !o2, values <= ModelDescription.maximumValuesPerSample else {
            throw ModelError("\(name): \(numHeads) heads of \(inputShape[0])x\(inputShape[0]) attention probabilities are more than \(ModelDescription.maximumValuesPerSample) values per sample")
        }
        length = inputShape[0]
        width = inputShape[1]
        return outputShape
    }

    public var outputShape: [Int] { [length, width] }
    /// d, the width of one head.
    public var headWidth: Int { width / numHeads }

    public var parameters: [ParameterSpec] {
        let d = width
        return [ParameterSpec(name: "qkv_kernel", shape: [d, 3 * d])]
            + (useBias ? [ParameterSpec(name: "qkv_bias", shape: [3 * d])] : [])
            + [ParameterSpec(name: "output_kernel", shape: [d, d])]
            + (useBias ? [ParameterSpec(name: "output_bias", shape: [d])] : [])
    }

    public func bind(parameters: UnsafeMutablePointer<Float>, gradients: UnsafeMutablePointer<Float>) {
        let d = width
        var p = parameters, g = gradients
        qkvKernel = p; dQKVKernel = g; p += 3 * d * d; g += 3 * d * d
        if useBias { qkvBias = p; dQKVBias = g; p += 3 * d; g += 3 * d }
        outputKernel = p; dOutputKernel = g; p += d * d; g += d * d
        if useBias { outputBias = p; dOutputBias = g }
    }

    public func initializeParameters(rng: inout Xoshiro256) {
        let d = width
        Initializer.glorotUniform(.init(start: qkvKernel, count: 3 * d * d), fanIn: d, fanOut: 3 * d, rng: &rng)
        Initializer.glorotUniform(.init(start: outputKernel, count: d * d), fanIn: d, fanOut: d, rng: &rng)
        if let qkvBias, let outputBias {
            Initializer.zeros(.init(start: qkvBias, count: 3 * d))
            Initializer.zeros(.init(start: outputBias, count: d))
        }
    }

    private func geometry(batch: Int) -> AttentionGeometry {
        AttentionGeometry(batch: batch, length: length, width: width, heads: numHeads, causal: causal)
    }

    var inputRecomputedBy: (any OutputRecomputable)?

    /// dHeads and dQKV (`4 D` per row), then the recomputed input (`D`) when the layer below
    /// recomputes it.
    func backwardScratchCount(maxBatch: Int) -> Int {
        maxBatch * length * (inputRecomputedBy == nil ? 4 : 5) * width
    }

    var lentGradientCounts: [Int] { needsInputGradient ? [length * width] : [] }

    public func allocate(maxBatch: Int, needsInputGradient: Bool) {
        let rows = maxBatch * length, g = geometry(batch: maxBatch)
        self.needsInputGradient = needsInputGradient
        maxRows = rows
        qkv = FloatBuffer(count: rows * 3 * width)
        probabilities = FloatBuffer(count: g.probabilityCount)
        dropped = dropout > 0 ? FloatBuffer(count: g.probabilityCount) : nil
        heads = FloatBuffer(count: rows * width)
        output = transientOutput == nil ? FloatBuffer(count: rows * width) : nil
        ownBackwardScratch = sharedScratch == nil ? FloatBuffer(count: backwardScratchCount(maxBatch: maxBatch)) : nil
        inputGradient = needsInputGradient && !borrowsGradients ? FloatBuffer(count: rows * width) : nil
        scratchPieces = AttentionGeometry.maximumPieces(threads: max(BLAS.threads, 2))
        scratch = FloatBuffer(count: scratchPieces * AttentionGeometry.scratchPerPiece(length: length))
    }

    // input (B*T, D) -> output (B*T, D)
    public func forward(_ input: UnsafePointer<Float>, batch: Int, training: Bool) -> UnsafePointer<Float> {
        self.input = input
        let rows = batch * length, d = width
        sgemm(m: rows, n: 3 * d, k: d, a: input, b: qkvKernel, c: qkv.pointer)
        if let qkvBias { biasForward(qkv.pointer, qkvBias, rows: rows, columns: 3 * d) }
        droppedThisPass = training && dropout > 0
        attentionForward(qkv: qkv.pointer, probabilities: probabilities.pointer,
                         dropped: droppedThisPass ? dropped?.pointer : nil, dropoutRate: Float(dropout),
                         seed: droppedThisPass ? rng.next() : 0, out: heads.pointer, scratch: scratch.pointer,
                         scratchPieces: scratchPieces, geometry: geometry(batch: batch), kernel: kernel)
        let y = transientOutput ?? output!.pointer
        sgemm(m: rows, n: d, k: d, a: heads.pointer, b: outputKernel, c: y)
        if let outputBias { biasForward(y, outputBias, rows: rows, columns: d) }
        return UnsafePointer(y)
    }

    public func backward(_ dout: UnsafeMutablePointer<Float>, batch: Int) -> UnsafeMutablePointer<Float>? {
        let rows = batch * length, d = width
        let dHeads = sharedScratch ?? ownBackwardScratch!.pointer, dQKV = dHeads + rows * d
        if let producer = inputRecomputedBy {
            let x = dHeads + maxRows * 4 * d
            producer.recomputeOutput(into: x, batch: batch)
            input = UnsafePointer(x)
        }
        // Output projection: dW = heads^T dY, db = column sums of dY, dHeads = dY W^T.
        sgemm(transposeA: true, m: d, n: d, k: rows, a: heads.pointer, b: dout, c: dOutputKernel)
        if let dOutputBias { columnSums(dout, rows: rows, columns: d, into: dOutputBias) }
        sgemm(transposeB: true, m: rows, n: d, k: d, a: dout, b: outputKernel, c: dHeads)
        attentionBackward(dout: dHeads, qkv: qkv.pointer, probabilities: probabilities.pointer,
                          dropped: droppedThisPass ? dropped.map { UnsafePointer($0.pointer) } : nil, dropoutRate: Float(dropout),
                          dqkv: dQKV, scratch: scratch.pointer, scratchPieces: scratchPieces,
                          geometry: geometry(batch: batch), kernel: kernel)
        // QKV projection: dW = x^T dQKV, db = column sums, dX = dQKV W^T.
        sgemm(transposeA: true, m: d, n: 3 * d, k: rows, a: input, b: dQKV, c: dQKVKernel)
        if let dQKVBias { columnSums(dQKV, rows: rows, columns: 3 * d, into: dQKVBias) }
        guard needsInputGradient else { return nil }
        if lentGradients?[0] == nil, inputGradient == nil { inputGradient = FloatBuffer(count: maxRows * d) }
        let dx = lentGradients?[0] ?? inputGradient!.pointer
        sgemm(transposeB: true, m: rows, n: d, k: 3 * d, a: dQKV, b: qkvKernel, c: dx)
        return dx
    }

    /// Per sample: the projections (`2 T D 3D` and `2 T D D`) and the attention products
    /// `q k^T` and `P v` as computed. The `.rows` kernel skips the masked keys of a causal
    /// layer, so its row t costs t+1 dot products: the causal halving is counted (T(T+1)/2
    /// instead of T^2); the `.sgemm` kernel computes the whole square and is counted so.
    /// The attention backward (dP, dV, dQ, dK: twice the forward's products) is counted in
    /// `weightGradient`, since the QKV kernel's gradient needs it even without an input
    /// gradient; `inputGradient` is the last product, dX = dQKV qkv_kernel^T.
    public var flopsPerSample: LayerFLOPs {
        let t = length, d = width
        let pairs = causal && kernel == .rows ? t * (t + 1) / 2 : t * t
        let attention = 2 * 2 * pairs * d  // q k^T and P v over all heads: 2 FLOPs x pairs x d per head x H
        let projections = 2 * t * d * 3 * d + 2 * t * d * d
        return LayerFLOPs(forward: projections + attention,
                          weightGradient: projections + 2 * t * d * d + 2 * attention,
                          inputGradient: 2 * t * 3 * d * d)
    }

    /// The last forward pass's probabilities and dropped probabilities (B, H, T, T) at the
    /// allocated batch, for the tests; nil before `allocate` (dropped: without dropout).
    var probabilitiesForTesting: [Float]? { probabilities?.array }
    var droppedForTesting: [Float]? { dropped?.array }

    // MARK: - Incremental decoding (docs/transformer.md, "Generation")

    /// Only a causal layer's output at a position depends on the positions before alone.
    public var decodesLeftToRight: Bool { causal }

    /// Sizes the key/value cache for `maxLength` positions and empties it.
    /// - Precondition: the layer is causal: a bidirectional layer's output at a position
    ///   depends on the positions after it, so it cannot be decoded one position at a time.
    public func beginDecoding(maxLength: Int) {
        precondition(causal, "\(name): MultiHeadAttention decodes one position at a time only when causal")
        precondition(maxLength > 0, "\(name): maxLength must be positive")
        let d = width
        if decodeCapacity < maxLength || keyCache == nil {
            keyCache = FloatBuffer(count: maxLength * d)
            valueCache = FloatBuffer(count: maxLength * d)
            stepScores = FloatBuffer(count: maxLength)
            decodeCapacity = maxLength
        }
        if stepQKV == nil {
            stepQKV = FloatBuffer(count: 3 * d)
            stepHeads = FloatBuffer(count: d)
            stepOutput = FloatBuffer(count: d)
        }
        decodedPositions = 0
    }

    /// The output row of `position` from its input row `inputs[0]` (D floats): computes the
    /// row's q, k, v, appends k and v to the cache and attends over positions 0...position.
    public func decodeStep(_ inputs: UnsafePointer<UnsafePointer<Float>>, count: Int, position: Int) -> UnsafePointer<Float> {
        precondition(count == 1, "\(name): MultiHeadAttention takes one input")
        precondition(keyCache != nil, "\(name): call beginDecoding before decodeStep")
        precondition(position == decodedPositions && position < decodeCapacity,
                     "\(name): decodeStep at position \(position), expected \(decodedPositions) (below \(decodeCapacity))")
        let d = width, hd = headWidth, x = inputs[0]
        let qkvRow = stepQKV.pointer
        sgemm(m: 1, n: 3 * d, k: d, a: x, b: qkvKernel, c: qkvRow)
        if let qkvBias { biasForward(qkvRow, qkvBias, rows: 1, columns: 3 * d) }
        let keys = keyCache!.pointer, values = valueCache!.pointer
        (keys + position * d).update(from: qkvRow + d, count: d)
        (values + position * d).update(from: qkvRow + 2 * d, count: d)
        let n = position + 1, s = stepScores.pointer, scale = 1 / Float(hd).squareRoot()
        for h in 0..<numHeads {
            let q = qkvRow + h * hd
            var m = -Float.infinity
            for j in 0..<n {
                var acc: Float = 0
                let k = keys + j * d + h * hd
                for c in 0..<hd { acc += q[c] * k[c] }
                s[j] = acc * scale
                m = max(m, s[j])
            }
            var sum: Float = 0
            for j in 0..<n { s[j] = expf(s[j] - m); sum += s[j] }
            let o = stepHeads.pointer + h * hd
            o.update(repeating: 0, count: hd)
            for j in 0..<n {
                let w = s[j] / sum, v = values + j * d + h * hd
                for c in 0..<hd { o[c] += w * v[c] }
            }
        }
        sgemm(m: 1, n: d, k: d, a: stepHeads.pointer, b: outputKernel, c: stepOutput.pointer)
        if let outputBias { biasForward(stepOutput.pointer, outputBias, rows: 1, columns: d) }
        decodedPositions += 1
        return UnsafePointer(stepOutput.pointer)
    }
}

extension MultiHeadAttention {
    /// `{"type": "MultiHeadAttention", "num_heads": 4, "causal": true}`: `num_heads` required;
    /// `causal` false, `dropout` 0 (on the attention probabilities), `use_bias` true by default.
    public struct Options: LayerOptions {
        public static let typeName = "MultiHeadAttention"
        public static var keys: [String] { CodingKeys.allCases.map(\.rawValue) }
        public var numHeads: Int
        public var causal: Bool
        public var dropout: Double
        public var useBias: Bool

        public init(numHeads: Int, causal: Bool = false, dropout: Double = 0, useBias: Bool = true) {
            self.numHeads = numHeads
            self.causal = causal
            self.dropout = dropout
            self.useBias = useBias
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case numHeads = "num_heads", causal, dropout, useBias = "use_bias"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            numHeads = try c.decode(Int.self, forKey: .numHeads)
            causal = try c.decodeIfPresent(Bool.self, forKey: .causal) ?? false
            dropout = try c.decodeIfPresent(Double.self, forKey: .dropout) ?? 0
            useBias = try c.decodeIfPresent(Bool.self, forKey: .useBias) ?? true
        }

        /// The options' own ranges (the width's divisibility is checked at `build`).
        static func check(numHeads: Int, dropout: Double, label: String?) throws {
            let prefix = label.map { "\($0): " } ?? ""
            guard numHeads > 0 else { throw ModelError("\(prefix)num_heads must be positive, got \(numHeads)") }
            guard dropout >= 0, dropout < 1, Float(dropout) < 1 else { throw ModelError("\(prefix)dropout must be in [0, 1), got \(dropout)") }
        }

        public var sizes: [(key: String, value: Int)] { [("num_heads", numHeads)] }
        public func makeLayer() throws -> any Layer {
            try Self.check(numHeads: numHeads, dropout: dropout, label: nil)
            return MultiHeadAttention(numHeads: numHeads, causal: causal, dropout: dropout, useBias: useBias)
        }
    }
}
