import Foundation
import Tensor

/// An optimiser updates the model's flat parameter array from its flat gradient array in
/// one loop (llm.c style): no per-layer bookkeeping.
public protocol Optimizer: AnyObject {
    var name: String { get }
    var learningRate: Float { get set }
    /// Prepares state for `count` parameters (moments, velocities).
    func allocate(count: Int)
    func step(parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>, count: Int)
    /// Named state arrays for checkpoints (e.g. Adam's `m`, `v`), and scalar state.
    var stateArrays: [(name: String, buffer: FloatBuffer)] { get }
    var stepCount: Int { get set }
}

/// Adam in Keras's form (lr 0.001, beta1 0.9, beta2 0.999, epsilon 1e-7):
///   alpha = lr * sqrt(1 - beta2^t) / (1 - beta1^t)
///   m += (g - m) * (1 - beta1);  v += (g*g - v) * (1 - beta2)
///   w -= m * alpha / (sqrt(v) + epsilon)
/// Folding both bias corrections into alpha (instead of correcting m and v) is why Keras's
/// epsilon is effectively scaled by sqrt(1 - beta2^t) relative to the paper's form; we keep
/// Keras's form so that the same seed trains the same way.
public final class Adam: Optimizer {
    public let name = "adam"
    public var learningRate: Float
    public let beta1: Float, beta2: Float, epsilon: Float
    public var stepCount = 0
    private var m: FloatBuffer!, v: FloatBuffer!

    /// Keras's defaults.
    /// - Parameters:
    ///   - learningRate: the step size.
    ///   - beta1: decay of the first moment.
    ///   - beta2: decay of the second moment.
    ///   - epsilon: added to `sqrt(v)` (Keras's form, see above).
    public init(learningRate: Float = 0.001, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-7) {
        self.learningRate = learningRate
        self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon
    }

    public func allocate(count: Int) {
        m = FloatBuffer(count: count)
        v = FloatBuffer(count: count)
    }

    public var stateArrays: [(name: String, buffer: FloatBuffer)] { [("m", m), ("v", v)] }

    public func step(parameters w: UnsafeMutablePointer<Float>, gradients g: UnsafePointer<Float>, count: Int) {
        let alpha = beginStep()
        update(parameters: w, gradients: g, range: 0..<count, alpha: alpha)
    }

    /// Counts a step and returns its alpha (the learning rate with both bias corrections);
    /// `step` is `beginStep` then `update` over every parameter. A model whose layers update
    /// their own weights during backward (`AdamFusedLayer`) updates the rest by range.
    func beginStep() -> Float {
        stepCount += 1
        let t = Double(stepCount)
        return Float(Double(learningRate) * (1 - pow(Double(beta2), t)).squareRoot() / (1 - pow(Double(beta1), t)))
    }

    /// The update of parameters `range` (indices into the flat arrays) for a step begun by
    /// `beginStep`.
    func update(parameters w: UnsafeMutablePointer<Float>, gradients g: UnsafePointer<Float>, range: Range<Int>, alpha: Float) {
        let o = range.lowerBound
        adamUpdate(parameters: w + o, gradients: g + o, m: m.pointer + o, v: v.pointer + o, count: range.count,
                   alpha: alpha, beta1: beta1, beta2: beta2, epsilon: epsilon)
    }

    /// What a layer needs to apply this step's update to its weights itself, the weights
    /// starting at `offset` in the flat arrays.
    func fusedUpdate(offset: Int, alpha: Float) -> FusedAdamUpdate {
        FusedAdamUpdate(m: m.pointer + offset, v: v.pointer + offset, alpha: alpha, beta1: beta1, beta2: beta2, epsilon: epsilon)
    }
}

/// One Adam step's state and constants for a layer that updates its own weights during
/// backward: the moments of its weights and the step's alpha.
struct FusedAdamUpdate {
    let m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>
    let alpha: Float, beta1: Float, beta2: Float, epsilon: Float
}

/// A layer that can update its leading `fusedParameterCount` parameters with Adam inside
/// its backward pass (the rest of its parameters are left to the optimiser).
protocol AdamFusedLayer: Layer {
    /// Set by the model before each training step's backward pass; nil: gradients only.
    var fusedAdam: FusedAdamUpdate? { get set }
    var fusedParameterCount: Int { get }
}

/// Stochastic gradient descent, Keras's form (lr 0.01): plain `w -= lr * g`; with momentum
/// `velocity = momentum * velocity - lr * g; w += velocity`; Nesterov
/// `w += momentum * velocity - lr * g` after the velocity update.
public final class SGD: Optimizer {
    public let name = "sgd"
    public var learningRate: Float
    public let momentum: Float
    public let nesterov: Bool
    public var stepCount = 0
    private var velocity: FloatBuffer?

    /// Keras's defaults.
    /// - Parameters:
    ///   - learningRate: the step size.
    ///   - momentum: 0 for plain SGD.
    ///   - nesterov: Nesterov's form of momentum.
    public init(learningRate: Float = 0.01, momentum: Float = 0, nesterov: Bool = false) {
        self.learningRate = learningRate
        self.momentum = momentum
        self.nesterov = nesterov
    }

    public func allocate(count: Int) {
        velocity = momentum > 0 ? FloatBuffer(count: count) : nil
    }

    public var stateArrays: [(name: String, buffer: FloatBuffer)] {
        velocity.map { [("velocity", $0)] } ?? []
    }

    public func step(parameters w: UnsafeMutablePointer<Float>, gradients g: UnsafePointer<Float>, count: Int) {
        stepCount += 1
        let lr = learningRate
        guard let velocity else {
            for i in 0..<count { w[i] -= lr * g[i] }
            return
        }
        let v = velocity.pointer, mu = momentum
        for i in 0..<count {
            v[i] = mu * v[i] - lr * g[i]
            w[i] += nesterov ? mu * v[i] - lr * g[i] : v[i]
        }
    }
}
