import Tensor

/// A 2-D convolution over NHWC images: `activation(conv(x, kernel) + bias)`. The kernel is
/// stored (KH*KW*Cin, Cout), Keras's (kh, kw, cin, cout) flattened, so one sgemm against the
/// batch's im2col matrix computes the whole layer.
public final class Conv2D: SoftmaxFusable, ReLUMaskSource, PoolFusingConvolution {
    public var typeName: String { Options.typeName }
    public var name = "conv2d"
    public let filters: Int
    public let kernelSize: (height: Int, width: Int)
    public let strides: (height: Int, width: Int)
    public let padding: Padding
    public let activation: Activation
    public var emitsLogits = false

    public private(set) var geometry: ConvGeometry!
    private var kernel: UnsafeMutablePointer<Float>!, bias: UnsafeMutablePointer<Float>!
    private var dKernel: UnsafeMutablePointer<Float>!, dBias: UnsafeMutablePointer<Float>!
    private var output: FloatBuffer!, cols: FloatBuffer!
    private var dcols: FloatBuffer?, inputGradient: FloatBuffer?, workspace: FloatBuffer!
    /// Set by the model when the next layer (a max-pool) applies this layer's ReLU mask in
    /// its own backward pass, so that the mask is not applied twice.
    var reluMaskAppliedDownstream = false
    /// Set by the model when this is the first layer, a ReLU convolution that the fused
    /// conv+ReLU+pool kernels can run together with the 2x2 pool above it.
    var fusedPool: (any ConvolutionFusablePool)?
    var outputIsReLU: Bool { activation == .relu }

    func canFuse(with pool: any ConvolutionFusablePool) -> Bool {
        activation == .relu && convReLUPoolApplies(geometry, pool.poolGeometry)
    }
    private var patchOffsets: UnsafeMutablePointer<Int>?
    private var input: UnsafePointer<Float>!

    /// - Parameters:
    ///   - filters: output channels.
    ///   - kernelSize: the window (height, width).
    ///   - strides: the step between windows (height, width).
    ///   - padding: `valid` (no padding) or `same` (TensorFlow's rule).
    ///   - activation: applied to the output.
    public init(filters: Int, kernelSize: (Int, Int), strides: (Int, Int) = (1, 1),
                padding: Padding = .valid, activation: Activation = .linear) {
        self.filters = filters
        self.kernelSize = (kernelSize.0, kernelSize.1)
        self.strides = (strides.0, strides.1)
        self.padding = padding
        self.activation = activation
    }

    public convenience init(filters: Int, kernelSize: Int, strides: Int = 1,
                            padding: Padding = .valid, activation: Activation = .linear) {
        self.init(filters: filters, kernelSize: (kernelSize, kernelSize), strides: (strides, strides),
                  padding: padding, activation: activation)
    }

    public var configuration: LayerConfiguration {
        LayerConfiguration(Options(filters: filters, kernelSize: [kernelSize.height, kernelSize.width],
                                   strides: [strides.height, strides.width], padding: padding, activation: activation),
                           name: name)
    }

    public func build(inputShape: [Int]) throws -> [Int] {
        guard inputShape.count == 3 else {
            throw ModelError("\(name): Conv2D needs an image input [height, width, channels], got \(inputShape)")
        }
        guard filters > 0, kernelSize.height > 0, kernelSize.width > 0, strides.height > 0, strides.width > 0 else {
            throw ModelError("\(name): filters, kernel_size and strides must be positive")
        }
        guard !activation.backwardNeedsInput else {
            throw ModelError("\(name): Conv2D does not take activation '\(activation.rawValue)'; add a GELU layer after it")
        }
        let g = ConvGeometry(batch: 1, height: inputShape[0], width: inputShape[1], inChannels: inputShape[2],
                             kernelHeight: kernelSize.height, kernelWidth: kernelSize.width, outChannels: filters,
                             strideHeight: strides.height, strideWidth: strides.width, padding: padding)
        guard g.outHeight > 0, g.outWidth > 0 else {
            throw ModelError("\(name): a \(kernelSize.height)x\(kernelSize.width) kernel does not fit a \(inputShape[0])x\(inputShape[1]) input with padding '\(padding.rawValue)'")
        }
        geometry = g
        return outputShape
    }

    public var outputShape: [Int] { [geometry.outHeight, geometry.outWidth, filters] }
    public var parameters: [ParameterSpec] {
        [ParameterSpec(name: "kernel", shape: [kernelSize.height, kernelSize.width, geometry.inChannels, filters]),
         ParameterSpec(name: "bias", shape: [filters])]
    }

    public func bind(parameters: UnsafeMutablePointer<Float>, gradients: UnsafeMutablePointer<Float>) {
        kernel = parameters; bias = parameters + geometry.weightCount
        dKernel = gradients; dBias = gradients + geometry.weightCount
    }

    public func initializeParameters(rng: inout Xoshiro256) {
        let area = kernelSize.height * kernelSize.width
        Initializer.glorotUniform(.init(start: kernel, count: geometry.weightCount),
                                  fanIn: area * geometry.inChannels, fanOut: area * filters, rng: &rng)
        Initializer.zeros(.init(start: bias, count: filters))
    }

    deinit { patchOffsets?.deallocate() }

    public func allocate(maxBatch: Int, needsInputGradient: Bool) {
        let g = geometry.with(batch: maxBatch)
        workspace = FloatBuffer(count: conv2dBackwardWorkspaceCount(g))
        if fusedPool != nil && !needsInputGradient {
            // The fused kernels read the input image directly and write the pool's buffers.
            if patchOffsets == nil {
                patchOffsets = .allocate(capacity: g.patchSize)
                convPatchOffsets(g, into: patchOffsets!)
            }
            return
        }
        fusedPool?.fusedWithConvolutionBelow = false
        fusedPool = nil
        output = FloatBuffer(count: g.outputCount)
        cols = FloatBuffer(count: g.patches * g.patchSize)
        dcols = needsInputGradient ? FloatBuffer(count: g.patches * g.patchSize) : nil
        inputGradient = needsInputGradient ? FloatBuffer(count: g.inputCount) : nil
    }

    // input (B, H, W, Cin) -> output (B, OH, OW, Cout)
    public func forward(_ input: UnsafePointer<Float>, batch: Int, training: Bool) -> UnsafePointer<Float> {
        let g = geometry.with(batch: batch)
        if let pool = fusedPool, let patchOffsets {
            self.input = input
            let pg = pool.poolGeometry.with(batch: batch)
            convReLUPoolForward(input, kernel, bias: bias, pooled: pool.outputPointer, winner: pool.argmaxPointer,
                                offsets: patchOffsets, g, pg)
            return input  // the pool above returns its own (already computed) output
        }
        let y = output.pointer
        conv2dForward(input, kernel, bias: bias, y, cols: cols.pointer, g, relu: activation == .relu)
        if activation != .relu { activationForward(appliedActivation, y, rows: g.patches, columns: filters) }
        return UnsafePointer(y)
    }

    public func backward(_ dout: UnsafeMutablePointer<Float>, batch: Int) -> UnsafeMutablePointer<Float>? {
        let g = geometry.with(batch: batch)
        if let pool = fusedPool, let patchOffsets {
            // dout is the gradient of the pooled output (the pool passed it through).
            convReLUPoolWeightGradient(input, dpooled: dout, pooled: pool.outputPointer, winner: pool.argmaxPointer,
                                       offsets: patchOffsets, dweight: dKernel, dbias: dBias, partials: workspace.pointer,
                                       g, pool.poolGeometry.with(batch: batch))
            return nil
        }
        if !reluMaskAppliedDownstream {
            activationBackward(appliedActivation, dout, output: output.pointer, rows: g.patches, columns: filters)
        }
        conv2dBackward(dout, cols: cols.pointer, kernel, dweight: dKernel, dbias: dBias,
                       dinp: inputGradient?.pointer, dcols: dcols?.pointer, workspace: workspace.pointer, g)
        return inputGradient?.pointer
    }

    public var flopsPerSample: LayerFLOPs {
        let f = 2 * geometry.outHeight * geometry.outWidth * geometry.patchSize * filters
        return LayerFLOPs(forward: f, weightGradient: f, inputGradient: f)
    }
}

extension Conv2D {
    /// `{"type": "Conv2D", "filters": 32, "kernel_size": [3, 3], "activation": "relu"}`:
    /// `filters` and `kernel_size` required; `strides` 1, `padding` valid and `activation`
    /// linear by default (an integer size stands for both dimensions, as in Keras).
    public struct Options: LayerOptions {
        public static let typeName = "Conv2D"
        public static var keys: [String] { CodingKeys.allCases.map(\.rawValue) }
        public var filters: Int
        public var kernelSize: [Int]
        public var strides: [Int]
        public var padding: Padding
        public var activation: Activation

        public init(filters: Int, kernelSize: [Int], strides: [Int] = [1, 1], padding: Padding = .valid,
                    activation: Activation = .linear) {
            self.filters = filters; self.kernelSize = kernelSize; self.strides = strides
            self.padding = padding; self.activation = activation
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case filters, strides, padding, activation
            case kernelSize = "kernel_size"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            filters = try c.decode(Int.self, forKey: .filters)
            kernelSize = try c.decodePair(.kernelSize)
            strides = try c.decodePair(.strides, default: [1, 1])
            padding = try c.decodeIfPresent(Padding.self, forKey: .padding) ?? .valid
            activation = try c.decodeIfPresent(Activation.self, forKey: .activation) ?? .linear
        }

        public var sizes: [(key: String, value: Int)] {
            [("filters", filters)] + kernelSize.map { ("kernel_size", $0) } + strides.map { ("strides", $0) }
        }

        public func makeLayer() -> any Layer {
            Conv2D(filters: filters, kernelSize: (kernelSize[0], kernelSize[1]), strides: (strides[0], strides[1]),
                   padding: padding, activation: activation)
        }
    }
}
