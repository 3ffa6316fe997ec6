import Tensor

/// A standalone activation (`Activation("relu")`, `ReLU()` in Keras).
public final class ActivationLayer: ParameterFreeLayer, SoftmaxFusable {
    public var typeName: String { Options.typeName }
    public var name = "activation"
    public let activation: Activation
    public var emitsLogits = false
    private var shape: [Int] = []
    private var output: FloatBuffer!

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
        y.update(from: input, count: n)
        activationForward(appliedActivation, y, rows: n / rowLength, columns: rowLength)
        return UnsafePointer(y)
    }

    public func backward(_ dout: UnsafeMutablePointer<Float>, batch: Int) -> UnsafeMutablePointer<Float>? {
        let n = batch * outputCount
        activationBackward(appliedActivation, dout, output: output.pointer, rows: n / rowLength, columns: rowLength)
        return dout
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
