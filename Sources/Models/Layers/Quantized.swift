import CTensorKernels
import Tensor

/// A layer whose named parameters include int8 values (integers held as Float in the flat
/// parameter array): checkpoints store those tensors as safetensors I8 (docs/compress.md).
public protocol Int8StoredLayer: Layer {
    /// The names (within the layer, e.g. `kernel`) of the parameters stored as I8.
    var int8ParameterNames: [String] { get }
    /// Says that the parameters were written from outside (a checkpoint, a converter): the
    /// layer rebuilds what it derived from them (the packed int8 weights) at its next forward.
    func parametersChanged()
}

extension Model {
    /// The full names (`dense/kernel`) of the parameters stored as I8.
    public var int8ParameterNames: Set<String> {
        var out: Set<String> = []
        for case let layer as any Int8StoredLayer in layers {
            for p in layer.int8ParameterNames { out.insert("\(layer.name)/\(p)") }
        }
        return out
    }
}

/// What the two int8 layers share (docs/compress.md): their parameters `kernel` (K, N) int8
/// values, `kernel_scale` (N), `bias` (N), `input_scale` and `input_zero_point` (one value
/// each); the packed weights and the workspaces; the forward GEMM with its output scaling.
/// The layers are frozen: backward gives the input gradient through the dequantised kernel
/// and zero parameter gradients, so a quantised model can sit under a trained head.
final class Int8Core {
    let k: Int, n: Int
    var kernel: UnsafeMutablePointer<Float>!, kernelScale: UnsafeMutablePointer<Float>!
    var bias: UnsafeMutablePointer<Float>!, inputScale: UnsafeMutablePointer<Float>!
    var inputZeroPoint: UnsafeMutablePointer<Float>!
    var gradients: UnsafeMutablePointer<Float>!
    var weights: Int8Weights?
    var workspace: Int8Workspace?
    var dequantized: FloatBuffer?
    var rowsPerSample = 1

    init(k: Int, n: Int) { self.k = k; self.n = n }

    var parameterCount: Int { k * n + 2 * n + 2 }

    func specs(kernelShape: [Int]) -> [ParameterSpec] {
        [ParameterSpec(name: "kernel", shape: kernelShape), ParameterSpec(name: "kernel_scale", shape: [n]),
         ParameterSpec(name: "bias", shape: [n]), ParameterSpec(name: "input_scale", shape: [1]),
         ParameterSpec(name: "input_zero_point", shape: [1])]
    }

    func bind(_ p: UnsafeMutablePointer<Float>, _ g: UnsafeMutablePointer<Float>) {
        kernel = p; kernelScale = p + k * n; bias = kernelScale + n; inputScale = bias + n; inputZeroPoint = inputScale + 1
        gradients = g
        weights = nil
    }

    /// Zero weights, unit scales: a quantised layer gets its values from a converter or a checkpoint.
    func initialize() {
        kernel.update(repeating: 0, count: k * n)
        kernelScale.update(repeating: 1, count: n)
        bias.update(repeating: 0, count: n)
        inputScale.pointee = 1
        inputZeroPoint.pointee = 0
    }

    func allocate(maxRows: Int) {
        weights = nil
        workspace = nil
        rowsPerSample = 1
        maxRowsAllocated = maxRows
    }
    private var maxRowsAllocated = 0
    /// Rows the workspace is (or will be) sized for.
    var workspaceRows: Int { maxRowsAllocated }

    /// The packed weights and the workspace, built from the parameters on first use.
    func prepared() -> (Int8Weights, Int8Workspace) {
        if let weights, let workspace { return (weights, workspace) }
        let w = Int8Weights(values: kernel, k: k, n: n)
        let ws = Int8Workspace(rows: maxRowsAllocated, weights: w)
        let zp = Int32(inputZeroPoint.pointee)
        for j in 0..<n { ws.correction[j] = zp * w.columnSums[j] }
        let d = FloatBuffer(count: k * n)
        for i in 0..<k { for j in 0..<n { d.pointer[i * n + j] = kernel[i * n + j] * kernelScale[j] } }
        weights = w; workspace = ws; dequantized = d
        return (w, ws)
    }

    var zeroPoint: Int32 { Int32(inputZeroPoint.pointee) }

    /// output (rows, N) from the quantised activations already in the workspace (rows, paddedK).
    func multiplyAndScale(rows: Int, relu: Bool, into y: UnsafeMutablePointer<Float>) {
        let (w, ws) = prepared()
        Int8GEMM.multiplyScaled(Int8GEMM.kernel(m: rows, n: n, k: k), m: rows, weights: w, workspace: ws,
                                inputScale: inputScale.pointee, weightScale: kernelScale, bias: bias, relu: relu, into: y)
    }

    func zeroGradients() { gradients.update(repeating: 0, count: parameterCount) }
}

/// A Dense layer with int8 weights (per-output-channel symmetric scales) and uint8 input
/// activations (one calibrated scale and zero point): `y = s_in * s_j * (sum (q_x - zp) q_w) + bias`.
/// Like ``Dense`` it acts on the last axis: an input `[..., F]` gives `[..., units]`, every
/// leading position a row (docs/transformer.md, docs/compress.md); it decodes one row at a time
/// for `fmctl generate`.
public final class QuantizedDense: SoftmaxFusable, Int8StoredLayer, IncrementalLayer {
    public var typeName: String { Options.typeName }
    public var name = "quantized_dense"
    public let units: Int
    public let activation: Activation
    public var emitsLogits = false
    public private(set) var inFeatures = 0
    /// The leading dimensions of the input (empty for a flat input), kept in the output.
    private var leadingShape: [Int] = []
    /// Rows per sample: the product of the leading dimensions.
    public private(set) var rowsPerSample = 1
    private var core: Int8Core!
    private var output: FloatBuffer!, inputGradient: FloatBuffer?
    /// The GEMM's output before an activation whose backward needs its input (GELU).
    private var preActivation: FloatBuffer?
    private var stepOutput: FloatBuffer?, stepPreActivation: FloatBuffer?

    public init(units: Int, activation: Activation = .linear) {
        self.units = units
        self.activation = activation
    }

    public var configuration: LayerConfiguration {
        LayerConfiguration(Options(units: units, activation: activation), name: name)
    }

    public func build(inputShape: [Int]) throws -> [Int] {
        guard let last = inputShape.last, inputShape.allSatisfy({ $0 > 0 }) else {
            throw ModelError("\(name): QuantizedDense needs an input [..., features] of positive sizes, got shape \(inputShape)")
        }
        guard units > 0 else { throw ModelError("\(name): units must be positive, got \(units)") }
        inFeatures = last
        leadingShape = Array(inputShape.dropLast())
        rowsPerSample = leadingShape.reduce(1, *)
        core = Int8Core(k: inFeatures, n: units)
        return outputShape
    }

    public var outputShape: [Int] { leadingShape + [units] }
    public var parameters: [ParameterSpec] { core.specs(kernelShape: [inFeatures, units]) }
    public var int8ParameterNames: [String] { ["kernel"] }
    public func parametersChanged() { core.weights = nil; core.workspace = nil }

    public func bind(parameters: UnsafeMutablePointer<Float>, gradients: UnsafeMutablePointer<Float>) {
        core.bind(parameters, gradients)
    }

    public func initializeParameters(rng: inout Xoshiro256) { core.initialize() }

    public func allocate(maxBatch: Int, needsInputGradient: Bool) {
        let maxRows = maxBatch * rowsPerSample
        core.allocate(maxRows: maxRows)
        output = FloatBuffer(count: maxRows * units)
        preActivation = activation.backwardNeedsInput ? FloatBuffer(count: maxRows * units) : nil
        inputGradient = needsInputGradient ? FloatBuffer(count: maxRows * inFeatures) : nil
    }

    /// `rows` rows of `input` through the int8 GEMM into `y`, the activation applied (from
    /// `pre`, which keeps the GEMM's output, for GELU).
    private func compute(_ input: UnsafePointer<Float>, rows: Int, pre: UnsafeMutablePointer<Float>?,
                         into y: UnsafeMutablePointer<Float>) {
        let (w, ws) = core.prepared()
        fm_quantize_u8(input, rows, inFeatures, inFeatures, 1 / core.inputScale.pointee, Int32(core.zeroPoint),
                       ws.activations, w.paddedK)
        if let pre {
            core.multiplyAndScale(rows: rows, relu: false, into: pre)
            activationForward(appliedActivation, UnsafePointer(pre), into: y, rows: rows, columns: units)
            return
        }
        core.multiplyAndScale(rows: rows, relu: activation == .relu, into: y)
        if activation != .relu { activationForward(appliedActivation, y, rows: rows, columns: units) }
    }

    // input (B, ..., IN) -> output (B, ..., UNITS), as (B * rowsPerSample) rows
    public func forward(_ input: UnsafePointer<Float>, batch: Int, training: Bool) -> UnsafePointer<Float> {
        compute(input, rows: batch * rowsPerSample, pre: preActivation?.pointer, into: output.pointer)
        return UnsafePointer(output.pointer)
    }

    public func backward(_ dout: UnsafeMutablePointer<Float>, batch: Int) -> UnsafeMutablePointer<Float>? {
        let rows = batch * rowsPerSample
        activationBackward(appliedActivation, dout, output: output.pointer, input: preActivation.map { UnsafePointer($0.pointer) },
                           rows: rows, columns: units)
        core.zeroGradients()
        guard let dx = inputGradient else { return nil }
        _ = core.prepared()
        sgemm(transposeB: true, m: rows, n: inFeatures, k: units, a: dout, b: core.dequantized!.pointer, c: dx.pointer)
        return dx.pointer
    }

    public var flopsPerSample: LayerFLOPs {
        let f = 2 * inFeatures * units * rowsPerSample
        return LayerFLOPs(forward: f, weightGradient: 0, inputGradient: f)
    }

    // MARK: Incremental decoding (one row)

    public func beginDecoding(maxLength: Int) {
        stepOutput = FloatBuffer(count: units)
        stepPreActivation = activation.backwardNeedsInput ? FloatBuffer(count: units) : nil
        // The workspace holds at least one row even when the model was never prepared.
        if core.workspaceRows < 1 { core.allocate(maxRows: 1) }
    }

    public func decodeStep(_ inputs: UnsafePointer<UnsafePointer<Float>>, count: Int, position: Int) -> UnsafePointer<Float> {
        if stepOutput == nil { beginDecoding(maxLength: position + 1) }
        compute(inputs[0], rows: 1, pre: stepPreActivation?.pointer, into: stepOutput!.pointer)
        return UnsafePointer(stepOutput!.pointer)
    }
}

extension QuantizedDense {
    /// `{"type": "QuantizedDense", "units": 128, "activation": "relu"}`, written by
    /// `fmctl compress --int8`; its values come from the checkpoint.
    public struct Options: LayerOptions {
        public static let typeName = "QuantizedDense"
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
        public func makeLayer() -> any Layer { QuantizedDense(units: units, activation: activation) }
    }
}

/// A Conv2D with int8 weights (per-filter symmetric scales) and uint8 input activations: the
/// input is quantised once, im2col'd in uint8 (padding is the quantised zero), and one int8
/// GEMM computes the layer.
public final class QuantizedConv2D: SoftmaxFusable, Int8StoredLayer {
    public var typeName: String { Options.typeName }
    public var name = "quantized_conv2d"
    public let options: Conv2D.Options
    public var activation: Activation { options.activation }
    public var emitsLogits = false
    public private(set) var geometry: ConvGeometry!
    private var core: Int8Core!
    private var output: FloatBuffer!, quantizedInput: [UInt8] = []
    private var dcols: FloatBuffer?, inputGradient: FloatBuffer?

    public init(_ options: Conv2D.Options) { self.options = options }

    public var configuration: LayerConfiguration {
        LayerConfiguration(Options(options), name: name)
    }

    public func build(inputShape: [Int]) throws -> [Int] {
        guard inputShape.count == 3 else {
            throw ModelError("\(name): QuantizedConv2D needs an image input [height, width, channels], got \(inputShape)")
        }
        let o = options
        guard o.filters > 0, o.kernelSize.count == 2, o.strides.count == 2, (o.kernelSize + o.strides).allSatisfy({ $0 > 0 }) else {
            throw ModelError("\(name): filters, kernel_size and strides must be positive")
        }
        let g = ConvGeometry(batch: 1, height: inputShape[0], width: inputShape[1], inChannels: inputShape[2],
                             kernelHeight: o.kernelSize[0], kernelWidth: o.kernelSize[1], outChannels: o.filters,
                             strideHeight: o.strides[0], strideWidth: o.strides[1], padding: o.padding)
        guard g.outHeight > 0, g.outWidth > 0 else {
            throw ModelError("\(name): a \(o.kernelSize[0])x\(o.kernelSize[1]) kernel does not fit a \(inputShape[0])x\(inputShape[1]) input with padding '\(o.padding.rawValue)'")
        }
        geometry = g
        core = Int8Core(k: g.patchSize, n: o.filters)
        return outputShape
    }

    public var outputShape: [Int] { [geometry.outHeight, geometry.outWidth, options.filters] }
    public var parameters: [ParameterSpec] {
        core.specs(kernelShape: [options.kernelSize[0], options.kernelSize[1], geometry.inChannels, options.filters])
    }
    public var int8ParameterNames: [String] { ["kernel"] }
    public func parametersChanged() { core.weights = nil; core.workspace = nil }

    public func bind(parameters: UnsafeMutablePointer<Float>, gradients: UnsafeMutablePointer<Float>) {
        core.bind(parameters, gradients)
    }

    public func initializeParameters(rng: inout Xoshiro256) { core.initialize() }

    public func allocate(maxBatch: Int, needsInputGradient: Bool) {
        let g = geometry.with(batch: maxBatch)
        core.allocate(maxRows: g.patches)
        output = FloatBuffer(count: g.outputCount)
        quantizedInput = [UInt8](repeating: 0, count: g.inputCount)
        dcols = needsInputGradient ? FloatBuffer(count: g.patches * g.patchSize) : nil
        inputGradient = needsInputGradient ? FloatBuffer(count: g.inputCount) : nil
    }

    public func forward(_ input: UnsafePointer<Float>, batch: Int, training: Bool) -> UnsafePointer<Float> {
        let g = geometry.with(batch: batch)
        let (w, ws) = core.prepared()
        let zp = core.zeroPoint
        quantizedInput.withUnsafeMutableBufferPointer { q in
            quantizeAndIm2col(input, q.baseAddress!, g, inverseScale: 1 / core.inputScale.pointee, zeroPoint: zp,
                              cols: ws.activations, rowStride: w.paddedK)
        }
        core.multiplyAndScale(rows: g.patches, relu: activation == .relu, into: output.pointer)
        if activation != .relu { activationForward(appliedActivation, output.pointer, rows: g.patches, columns: options.filters) }
        return UnsafePointer(output.pointer)
    }

    public func backward(_ dout: UnsafeMutablePointer<Float>, batch: Int) -> UnsafeMutablePointer<Float>? {
        let g = geometry.with(batch: batch)
        activationBackward(appliedActivation, dout, output: output.pointer, rows: g.patches, columns: options.filters)
        core.zeroGradients()
        guard let dx = inputGradient, let dcols else { return nil }
        _ = core.prepared()
        sgemm(transposeB: true, m: g.patches, n: g.patchSize, k: options.filters, a: dout, b: core.dequantized!.pointer,
              c: dcols.pointer)
        col2im(dcols.pointer, dx.pointer, g)
        return dx.pointer
    }

    public var flopsPerSample: LayerFLOPs {
        let f = 2 * geometry.outHeight * geometry.outWidth * geometry.patchSize * options.filters
        return LayerFLOPs(forward: f, weightGradient: 0, inputGradient: f)
    }
}

extension QuantizedConv2D {
    /// Conv2D's options under the type name `QuantizedConv2D`, written by `fmctl compress --int8`.
    public struct Options: LayerOptions {
        public static let typeName = "QuantizedConv2D"
        public static var keys: [String] { Conv2D.Options.keys }
        public var convolution: Conv2D.Options

        public init(_ convolution: Conv2D.Options) { self.convolution = convolution }
        public init(from decoder: any Decoder) throws { convolution = try Conv2D.Options(from: decoder) }
        public func encode(to encoder: any Encoder) throws { try convolution.encode(to: encoder) }
        public var sizes: [(key: String, value: Int)] { convolution.sizes }
        public func makeLayer() -> any Layer { QuantizedConv2D(convolution) }
    }
}

/// Quantises a float NHWC batch to uint8 and im2cols it (docs/compress.md), the images split
/// across the worker pool.
func quantizeAndIm2col(_ x: UnsafePointer<Float>, _ q: UnsafeMutablePointer<UInt8>, _ g: ConvGeometry, inverseScale: Float,
                       zeroPoint: Int32, cols: UnsafeMutablePointer<UInt8>, rowStride: Int) {
    struct Job {
        let x: UnsafePointer<Float>, q: UnsafeMutablePointer<UInt8>, g: ConvGeometry, inverseScale: Float, zeroPoint: Int32
        let cols: UnsafeMutablePointer<UInt8>, rowStride: Int, split: PieceSplit
    }
    let split = PieceSplit(g.batch, pieces: 2 * BLAS.threads, minimumPerPiece: max(1, 16_384 / max(1, g.height * g.width * g.inChannels)))
    var job = Job(x: x, q: q, g: g, inverseScale: inverseScale, zeroPoint: zeroPoint, cols: cols, rowStride: rowStride, split: split)
    runPieces(&job, pieces: split.pieces) { context, i in
        let j = context!.assumingMemoryBound(to: Job.self).pointee
        let r = j.split.range(i), g = j.g
        let image = g.height * g.width * g.inChannels, patches = g.outHeight * g.outWidth
        fm_quantize_u8(j.x + r.lowerBound * image, r.count * g.height * g.width, g.inChannels, g.inChannels, j.inverseScale,
                       j.zeroPoint, j.q + r.lowerBound * image, g.inChannels)
        fm_im2col_u8(j.q + r.lowerBound * image, r.count, g.height, g.width, g.inChannels, g.kernelHeight, g.kernelWidth,
                     g.strideHeight, g.strideWidth, g.outHeight, g.outWidth, g.padTop, g.padLeft, UInt8(j.zeroPoint),
                     j.cols + r.lowerBound * patches * j.rowStride, j.rowStride)
    }
}
