import Tensor

/// GELU (PyTorch's `nn.GELU`): `x * Phi(x)` with the exact erf form, or with `approximate`
/// the tanh form (`approximate='tanh'`, GPT-2's). Elementwise, any shape; the backward pass
/// reads the forward pass's input (docs/transformer.md).
public final class GELU: ParameterFreeLayer, IncrementalLayer {
    public var typeName: String { Options.typeName }
    public var name = "gelu"
    public let approximate: Bool
    private var shape: [Int] = []
    private var output: FloatBuffer!, stepOutput: FloatBuffer?
    private var input: UnsafePointer<Float>!

    /// - Parameter approximate: the tanh form instead of erf.
    public init(approximate: Bool = false) { self.approximate = approximate }

    public var configuration: LayerConfiguration { LayerConfiguration(Options(approximate: approximate), name: name) }

    public func build(inputShape: [Int]) throws -> [Int] {
        guard !inputShape.isEmpty, inputShape.allSatisfy({ $0 > 0 }) else {
            throw ModelError("\(name): GELU needs an input of positive sizes, got shape \(inputShape)")
        }
        shape = inputShape
        return shape
    }

    public var outputShape: [Int] { shape }

    public func allocate(maxBatch: Int, needsInputGradient: Bool) {
        output = FloatBuffer(count: maxBatch * outputCount)
    }

    public func forward(_ input: UnsafePointer<Float>, batch: Int, training: Bool) -> UnsafePointer<Float> {
        self.input = input
        geluForward(input, output.pointer, count: batch * outputCount, approximate: approximate)
        return UnsafePointer(output.pointer)
    }

    public func backward(_ dout: UnsafeMutablePointer<Float>, batch: Int) -> UnsafeMutablePointer<Float>? {
        geluBackward(dout, input: input, dout, count: batch * outputCount, approximate: approximate)
        return dout
    }

    public func beginDecoding(maxLength: Int) { stepOutput = FloatBuffer(count: shape.last ?? 1) }

    public func decodeStep(_ inputs: UnsafePointer<UnsafePointer<Float>>, count: Int, position: Int) -> UnsafePointer<Float> {
        if stepOutput == nil { beginDecoding(maxLength: position + 1) }
        geluForward(inputs[0], stepOutput!.pointer, count: shape.last ?? 1, approximate: approximate)
        return UnsafePointer(stepOutput!.pointer)
    }
}

extension GELU {
    /// `{"type": "GELU", "approximate": true}`: `approximate` false (erf) by default.
    public struct Options: LayerOptions {
        public static let typeName = "GELU"
        public static var keys: [String] { CodingKeys.allCases.map(\.rawValue) }
        public var approximate: Bool

        public init(approximate: Bool = false) { self.approximate = approximate }

        enum CodingKeys: String, CodingKey, CaseIterable { case approximate }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            approximate = try c.decodeIfPresent(Bool.self, forKey: .approximate) ?? false
        }

        public func makeLayer() -> any Layer { GELU(approximate: approximate) }
    }
}
