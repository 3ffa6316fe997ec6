import Tensor

/// Inverted dropout: in training each element is zeroed with probability `rate` and the
/// survivors scaled by 1/(1 - rate), so inference is the identity (Keras). The mask comes
/// from the model's seeded generator.
/// Elementwise, so any shape works (residual dropout on `[T, D]`); decoding is the identity.
public final class Dropout: ParameterFreeLayer, StochasticLayer, IncrementalLayer {
    public var typeName: String { Options.typeName }
    public var name = "dropout"
    public let rate: Float
    private var shape: [Int] = []
    private var output: FloatBuffer!, mask: FloatBuffer!
    private var trainingPass = false
    /// Set by the model from its seed; advanced by every training pass.
    public var rng = Xoshiro256(seed: 0)

    /// - Parameter rate: the fraction of elements zeroed in training, in [0, 1).
    public init(rate: Float) { self.rate = rate }

    public var configuration: LayerConfiguration {
        LayerConfiguration(Options(rate: Double(rate)), name: name)
    }

    public func build(inputShape: [Int]) throws -> [Int] {
        guard rate >= 0, rate < 1 else { throw ModelError("\(name): rate must be in [0, 1), got \(rate)") }
        shape = inputShape
        return shape
    }

    public var outputShape: [Int] { shape }

    public func allocate(maxBatch: Int, needsInputGradient: Bool) {
        output = FloatBuffer(count: maxBatch * outputCount)
        mask = FloatBuffer(count: maxBatch * outputCount)
    }

    public func forward(_ input: UnsafePointer<Float>, batch: Int, training: Bool) -> UnsafePointer<Float> {
        trainingPass = training && rate > 0
        guard trainingPass else { return input }
        let n = batch * outputCount
        let scale = 1 / (1 - rate)
        let m = mask.pointer, y = output.pointer
        for i in 0..<n {
            m[i] = rng.nextUnitFloat() >= rate ? scale : 0
            y[i] = input[i] * m[i]
        }
        return UnsafePointer(y)
    }

    public func backward(_ dout: UnsafeMutablePointer<Float>, batch: Int) -> UnsafeMutablePointer<Float>? {
        if trainingPass {
            let m = mask.pointer
            for i in 0..<(batch * outputCount) { dout[i] *= m[i] }
        }
        return dout
    }

    public func beginDecoding(maxLength: Int) {}

    /// Inference: the identity (the input row itself).
    public func decodeStep(_ inputs: UnsafePointer<UnsafePointer<Float>>, count: Int, position: Int) -> UnsafePointer<Float> {
        inputs[0]
    }
}

extension Dropout {
    /// `{"type": "Dropout", "rate": 0.2}`: `rate` required, in [0, 1).
    public struct Options: LayerOptions {
        public static let typeName = "Dropout"
        public static var keys: [String] { CodingKeys.allCases.map(\.rawValue) }
        public var rate: Double

        public init(rate: Double) { self.rate = rate }

        enum CodingKeys: String, CodingKey, CaseIterable { case rate }

        public func makeLayer() -> any Layer { Dropout(rate: Float(rate)) }
    }
}
