import Tensor

/// Max-pooling over NHWC images; stride defaults to the pool size (Keras). Keeps the argmax
/// of every window for backward.
public final class MaxPool2D: ParameterFreeLayer, ReLUMaskSink, ConvolutionFusablePool {
    public var typeName: String { Options.typeName }
    public var name = "max_pooling2d"
    public let poolSize: (height: Int, width: Int)
    public let strides: (height: Int, width: Int)
    public let padding: Padding

    private var geometry: PoolGeometry!
    private var output: FloatBuffer!, argmax: Int32Buffer!, inputGradient: FloatBuffer?
    /// Set by the model when the layer below ends in a ReLU: backward then applies its mask.
    var appliesReLUMask = false
    /// Set by the model when the convolution below computes this pool in its fused kernel:
    /// forward returns the output that convolution wrote, backward passes the gradient down.
    var fusedWithConvolutionBelow = false

    var poolGeometry: PoolGeometry { geometry }
    var outputPointer: UnsafeMutablePointer<Float> { output.pointer }
    var argmaxPointer: UnsafeMutablePointer<Int32> { argmax.pointer }

    /// - Parameters:
    ///   - poolSize: the window (height, width).
    ///   - strides: the step between windows (the pool size by default, as in Keras).
    ///   - padding: `valid` or `same`.
    public init(poolSize: (Int, Int) = (2, 2), strides: (Int, Int)? = nil, padding: Padding = .valid) {
        self.poolSize = (poolSize.0, poolSize.1)
        self.strides = strides.map { ($0.0, $0.1) } ?? self.poolSize
        self.padding = padding
    }

    public convenience init(poolSize: Int, strides: Int? = nil, padding: Padding = .valid) {
        self.init(poolSize: (poolSize, poolSize), strides: strides.map { ($0, $0) }, padding: padding)
    }

    public var configuration: LayerConfiguration {
        LayerConfiguration(Options(poolSize: [poolSize.height, poolSize.width], strides: [strides.height, strides.width],
                                   padding: padding), name: name)
    }

    public func build(inputShape: [Int]) throws -> [Int] {
        guard inputShape.count == 3 else {
            throw ModelError("\(name): MaxPooling2D needs an image input [height, width, channels], got \(inputShape)")
        }
        guard poolSize.height > 0, poolSize.width > 0, strides.height > 0, strides.width > 0 else {
            throw ModelError("\(name): pool_size and strides must be positive")
        }
        let g = PoolGeometry(batch: 1, height: inputShape[0], width: inputShape[1], channels: inputShape[2],
                             poolHeight: poolSize.height, poolWidth: poolSize.width,
                             strideHeight: strides.height, strideWidth: strides.width, padding: padding)
        guard g.outHeight > 0, g.outWidth > 0 else {
            throw ModelError("\(name): a \(poolSize.height)x\(poolSize.width) pool does not fit a \(inputShape[0])x\(inputShape[1]) input")
        }
        geometry = g
        return outputShape
    }

    public var outputShape: [Int] { [geometry.outHeight, geometry.outWidth, geometry.channels] }

    public func allocate(maxBatch: Int, needsInputGradient: Bool) {
        let g = geometry.with(batch: maxBatch)
        output = FloatBuffer(count: g.outputCount)
        argmax = Int32Buffer(count: g.outputCount)
        // Fused with the convolution below, backward passes the gradient through.
        inputGradient = needsInputGradient && !fusedWithConvolutionBelow ? FloatBuffer(count: g.inputCount) : nil
    }

    public func forward(_ input: UnsafePointer<Float>, batch: Int, training: Bool) -> UnsafePointer<Float> {
        if fusedWithConvolutionBelow { return UnsafePointer(output.pointer) }
        maxPoolForward(input, output.pointer, argmax: argmax.pointer, geometry.with(batch: batch))
        return UnsafePointer(output.pointer)
    }

    public func backward(_ dout: UnsafeMutablePointer<Float>, batch: Int) -> UnsafeMutablePointer<Float>? {
        if fusedWithConvolutionBelow { return dout }
        guard let inputGradient else { return nil }
        maxPoolBackward(dout, argmax: argmax.pointer, inputGradient.pointer, geometry.with(batch: batch),
                        reluMask: appliesReLUMask ? UnsafePointer(output.pointer) : nil)
        return inputGradient.pointer
    }
}

extension MaxPool2D {
    /// `{"type": "MaxPooling2D", "pool_size": [2, 2]}` (alias `MaxPool2D`): `pool_size` 2,
    /// `strides` the pool size and `padding` valid by default.
    public struct Options: LayerOptions {
        public static let typeName = "MaxPooling2D"
        public static let aliases = ["MaxPool2D"]
        public static var keys: [String] { CodingKeys.allCases.map(\.rawValue) }
        public var poolSize: [Int]
        public var strides: [Int]
        public var padding: Padding

        public init(poolSize: [Int] = [2, 2], strides: [Int]? = nil, padding: Padding = .valid) {
            self.poolSize = poolSize
            self.strides = strides ?? poolSize
            self.padding = padding
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case strides, padding
            case poolSize = "pool_size"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            poolSize = try c.decodePair(.poolSize, default: [2, 2])
            strides = try c.decodePair(.strides, default: poolSize)
            padding = try c.decodeIfPresent(Padding.self, forKey: .padding) ?? .valid
        }

        public var sizes: [(key: String, value: Int)] {
            poolSize.map { ("pool_size", $0) } + strides.map { ("strides", $0) }
        }

        public func makeLayer() -> any Layer {
            MaxPool2D(poolSize: (poolSize[0], poolSize[1]), strides: (strides[0], strides[1]), padding: padding)
        }
    }
}
