import Tensor

/// Inverted dropout: in training each element is zeroed with probability `rate` and the
/// survivors scaled by 1/(1 - rate), so inference is the identity (Keras). The mask comes
/// from the model's seeded generator.
public final class Dropout: ParameterFreeLayer {
    public let typeName = "Dropout"
    public var name = "dropout"
    public let rate: Float
    private var shape: [Int] = []
    private var output: FloatBuffer!, mask: FloatBuffer!
    private var trainingPass = false
    /// Set by the model from its seed; advanced by every training pass.
    public var rng = Xoshiro256(seed: 0)

    public init(rate: Float) { self.rate = rate }

    public var configuration: LayerConfiguration {
        LayerConfiguration(type: typeName, name: name, rate: Double(rate))
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
}

/// A standalone activation (`Activation("relu")`, `ReLU()` in Keras).
public final class ActivationLayer: ParameterFreeLayer, SoftmaxFusable {
    public let typeName = "Activation"
    public var name = "activation"
    public let activation: Activation
    public var emitsLogits = false
    private var shape: [Int] = []
    private var output: FloatBuffer!

    public init(_ activation: Activation) { self.activation = activation }

    public var configuration: LayerConfiguration {
        LayerConfiguration(type: typeName, name: name, activation: activation)
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
