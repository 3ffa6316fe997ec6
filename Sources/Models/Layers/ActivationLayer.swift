import Tensor

/// A standalone activation (`Activation("relu")`, `ReLU()` in Keras). Elementwise, or over
/// the last axis for softmax, so any shape works (sequences `[T, D]` too).
public final class ActivationLayer: ParameterFreeLayer, SoftmaxFusable, IncrementalLayer {
    public var typeName: String { Options.typeName }
    public var name = "activation"
    public let activation: Activation
    public var emitsLogits = false
    private var shape: [Int] = []
    private var output: FloatBuffer!
    private var input: UnsafePointer<Float>?
    private var stepOutput: FloatBuffer?

    public init(_ activation: Activation) { self.activation = activation }

    public var configuration: LayerConfiguration {
        LayerConfiguration(Options(activation: activation), name: name)
    }

    public func build(inputShape: [Int]) throws -> [Int] {
        shape = inputShape
        return shape
    }

    public var outputShape: [Int] { shape }
    private var rowLength: Int { shape.last ?? 1 }

    public func allocate(maxBatch: Int, needsInputGradient: Bool) {
        output = FloatBuffer(count: maxBatch * outputCount)
    }

    public func forward(_ input: UnsafePointer<Float>, batch: Int, training: Bool) -> UnsafePointer<Float> {
        let y = output.pointer
        let n = batch * outputCount
        self.input = input
        activationForward(appliedActivation, input, into: y, rows: n / rowLength, columns: rowLength)
        return UnsafePointer(y)
    }

    public func backward(_ dout: UnsafeMutablePointer<Float>, batch: Int) -> UnsafeMutablePointer<Float>? {
        let n = batch * outputCount
        activationBackward(appliedActivation, dout, output: output.pointer, input: input, rows: n / rowLength, columns: rowLength)
        return dout
    }

    public func beginDecoding(maxLength: Int) { stepOutput = FloatBuffer(count: rowLength) }

    public func decodeStep(_ inputs: UnsafePointer<UnsafePointer<Float>>, count: Int, position: Int) -> UnsafePointer<Float> {
        if stepOutput == nil { beginDecoding(maxLength: position + 1) }
        let y = stepOutput!.pointer
        activationForward(appliedActivation, inputs[0], into: y, rows: 1, columns: rowLength)
        return UnsafePointer(y)
    }
}

extension ActivationLayer {
    /// `{"type": "Activation", "activation": "tanh"}`: `activation` required.
    public struct Options: LayerOptions {
        public static let typeName = "Activation"
        public static var keys: [String] { CodingKeys.allCases.map(\.rawValue) }
        public var activation: Activation

        public init(activation: Activation) { self.activation = activation }

        enum CodingKeys: String, CodingKey, CaseIterable { case activation }

        public func makeLayer() -> any Layer { ActivationLayer(activation) }
    }

    /// `{"type": "ReLU"}`: Keras's `ReLU()` layer, an ``ActivationLayer`` with ReLU.
    public struct ReLUOptions: LayerOptions {
        public static let typeName = "ReLU"
        public static let keys: [String] = []
        public init() {}
        public func makeLayer() -> any Layer { ActivationLayer(.relu) }
    }

    /// `{"type": "Softmax"}`: Keras's `Softmax()` layer, an ``ActivationLayer`` with softmax.
    public struct SoftmaxOptions: LayerOptions {
        public static let typeName = "Softmax"
        public static let keys: [String] = []
        public init() {}
        public func makeLayer() -> any Layer { ActivationLayer(.softmax) }
    }
}
