import Tensor

/// Flattens each sample to a vector. NHWC is already contiguous per sample, so this is a
/// view: forward and backward pass their pointers through.
public final class Flatten: ParameterFreeLayer {
    public var typeName: String { Options.typeName }
    public var name = "flatten"
    private var count = 0

    public init() {}

    public var configuration: LayerConfiguration { LayerConfiguration(Options(), name: name) }

    public func build(inputShape: [Int]) throws -> [Int] {
        count = inputShape.reduce(1, *)
        return outputShape
    }

    public var outputShape: [Int] { [count] }
    public func allocate(maxBatch: Int, needsInputGradient: Bool) {}
    public func forward(_ input: UnsafePointer<Float>, batch: Int, training: Bool) -> UnsafePointer<Float> { input }
    public func backward(_ dout: UnsafeMutablePointer<Float>, batch: Int) -> UnsafeMutablePointer<Float>? { dout }
}

extension Flatten {
    /// `{"type": "Flatten"}`: no options.
    public struct Options: LayerOptions {
        public static let typeName = "Flatten"
        public static let keys: [String] = []
        public init() {}
        public func makeLayer() -> any Layer { Flatten() }
    }
}
