import Foundation
import Tensor

/// A contiguous range of the flat parameter array that an optimiser step updates, and
/// whether weight decay applies to it (AdamW decays parameters named `...kernel` only;
/// docs/transformer.md). Frozen parameters are in no segment.
public struct ParameterSegment: Sendable, Equatable {
    public let range: Range<Int>
    public let decays: Bool

    public init(range: Range<Int>, decays: Bool) {
        self.range = range
        self.decays = decays
    }
}

/// An optimiser updates the model's flat parameter array from its flat gradient array in
/// one loop per segment (llm.c style): no per-layer bookkeeping.
public protocol Optimizer: AnyObject {
    var name: String { get }
    /// The base learning rate; the rate of a step is `schedule`'s at that step.
    var learningRate: Float { get set }
    /// How the learning rate varies with the step count (constant by default).
    var schedule: LearningRateSchedule { get set }
    /// Prepares state for `count` parameters (moments, velocities).
    func allocate(count: Int)
    /// One step over the parameters in `segments` (the model hands the trainable ones, each
    /// saying whether it decays); parameters outside every segment are left alone.
    func step(parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>, segments: [ParameterSegment])
    /// Named state arrays for checkpoints (e.g. Adam's `m`, `v`), and scalar state.
    var stateArrays: [(name: String, buffer: FloatBuffer)] { get }
    var stepCount: Int { get set }
}

extension Optimizer {
    /// One step over the first `count` parameters, all decayed (where the optimiser decays).
    public func step(parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>, count: Int) {
        step(parameters: parameters, gradients: gradients, segments: [ParameterSegment(range: 0..<count, decays: true)])
    }

    /// The learning rate the last step used (the base rate before the first step's schedule
    /// value, when no step was taken).
    public var currentLearningRate: Float {
        schedule.rate(base: learningRate, step: max(0, stepCount - 1))
    }
}

/// The learning rate as a function of the optimiser's step count (docs/transformer.md,
/// "Training text models"): optionally a linear warmup, then constant, or a cosine decay
/// from the base rate to `minimum` at `decaySteps`, constant after (nanoGPT's `get_lr`,
/// Keras's `CosineDecay` with `warmup_steps`). Step `s` counts the steps taken before the
/// one whose rate is asked, from 0, so a resumed optimiser continues the schedule.
public struct LearningRateSchedule: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case constant, cosine
    }

    public var kind: Kind
    /// Steps of linear warmup: step s < warmupSteps has rate `base * (s + 1) / (warmupSteps + 1)`.
    public var warmupSteps: Int
    /// The step at which the cosine reaches `minimum` (nil: the run's total steps, which
    /// `fit` fills in).
    public var decaySteps: Int?
    /// The rate after the decay (nil: a tenth of the base rate, nanoGPT's).
    public var minimum: Float?

    public init(kind: Kind = .constant, warmupSteps: Int = 0, decaySteps: Int? = nil, minimum: Float? = nil) {
        self.kind = kind
        self.warmupSteps = warmupSteps
        self.decaySteps = decaySteps
        self.minimum = minimum
    }

    public static let constant = LearningRateSchedule()

    /// Warmup over `warmupSteps`, then a cosine from the base rate to `minimum` at `decaySteps`.
    public static func cosine(warmupSteps: Int = 0, decaySteps: Int? = nil, minimum: Float? = nil) -> LearningRateSchedule {
        LearningRateSchedule(kind: .cosine, warmupSteps: warmupSteps, decaySteps: decaySteps, minimum: minimum)
    }

    /// The rate of the step after `step` steps (0-based) for base rate `base`.
    public func rate(base: Float, step s: Int) -> Float {
        if s < warmupSteps { return Float(Double(base) * Double(s + 1) / Double(warmupSteps + 1)) }
        guard kind == .cosine else { return base }
        let low = Double(minimum ?? base / 10)
        let end = decaySteps ?? Int.max
        if s > end || end <= warmupSteps { return Float(low) }
        let ratio = Double(s - warmupSteps) / Double(end - warmupSteps)
        let coefficient = 0.5 * (1 + cos(Double.pi * ratio))
        return Float(low + coefficient * (Double(base) - low))
    }
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
    public var schedule = LearningRateSchedule.constant
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

    public func step(parameters w: UnsafeMutablePointer<Float>, gradients g: UnsafePointer<Float>, segments: [ParameterSegment]) {
        let alpha = beginStep()
        for segment in segments { update(parameters: w, gradients: g, range: segment.range, alpha: alpha) }
    }

    /// Counts a step and returns its alpha (the scheduled learning rate with both bias
    /// corrections); `step` is `beginStep` then `update` over every segment. A model whose
    /// layers update their own weights during backward (`AdamFusedLayer`) updates the rest by range.
    func beginStep() -> Float {
        let lr = schedule.rate(base: learningRate, step: stepCount)
        stepCount += 1
        let t = Double(stepCount)
        return Float(Double(lr) * (1 - pow(Double(beta2), t)).squareRoot() / (1 - pow(Double(beta1), t)))
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
    public var schedule = LearningRateSchedule.constant
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

    public func step(parameters w: UnsafeMutablePointer<Float>, gradients g: UnsafePointer<Float>, segments: [ParameterSegment]) {
        let lr = schedule.rate(base: learningRate, step: stepCount)
        stepCount += 1
        for segment in segments {
            guard let velocity else {
                for i in segment.range { w[i] -= lr * g[i] }
                continue
            }
            let v = velocity.pointer, mu = momentum
            for i in segment.range {
                v[i] = mu * v[i] - lr * g[i]
                w[i] += nesterov ? mu * v[i] - lr * g[i] : v[i]
            }
        }
    }
}

/// AdamW in PyTorch's form (`torch.optim.AdamW`; docs/transformer.md, "Training text
/// models"): lr 0.001, betas 0.9/0.999, eps 1e-8 added to the bias-corrected `sqrt(v)`,
/// weight decay 0.01 applied first as `w -= lr * weight_decay * w` (decoupled, Loshchilov &
/// Hutter), then
///   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
///   w -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
/// Decay applies only to the segments the model marks as decaying (parameters named
/// `...kernel`); `lr` is the scheduled rate of the step.
public final class AdamW: Optimizer {
    public let name = "adamw"
    public var learningRate: Float
    public let beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float
    public var stepCount = 0
    public var schedule = LearningRateSchedule.constant
    private var m: FloatBuffer!, v: FloatBuffer!

    /// PyTorch's defaults.
    /// - Parameters:
    ///   - learningRate: the step size.
    ///   - beta1: decay of the first moment.
    ///   - beta2: decay of the second moment.
    ///   - epsilon: added to the bias-corrected `sqrt(v)`.
    ///   - weightDecay: the decoupled decay coefficient (0 makes this Adam in PyTorch's form).
    public init(learningRate: Float = 0.001, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
                weightDecay: Float = 0.01) {
        self.learningRate = learningRate
        self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon; self.weightDecay = weightDecay
    }

    public func allocate(count: Int) {
        m = FloatBuffer(count: count)
        v = FloatBuffer(count: count)
    }

    public var stateArrays: [(name: String, buffer: FloatBuffer)] { [("m", m), ("v", v)] }

    public func step(parameters w: UnsafeMutablePointer<Float>, gradients g: UnsafePointer<Float>, segments: [ParameterSegment]) {
        let lr = schedule.rate(base: learningRate, step: stepCount)
        stepCount += 1
        let t = Double(stepCount)
        let stepSize = Float(Double(lr) / (1 - pow(Double(beta1), t)))
        let bc2 = Float((1 - pow(Double(beta2), t)).squareRoot())
        let decay = Float(1 - Double(lr) * Double(weightDecay))
        for segment in segments {
            let o = segment.range.lowerBound
            adamWUpdate(parameters: w + o, gradients: g + o, m: m.pointer + o, v: v.pointer + o, count: segment.range.count,
                        stepSize: stepSize, biasCorrection2Root: bc2, decayFactor: segment.decays ? decay : 1,
                        beta1: beta1, beta2: beta2, epsilon: epsilon)
        }
    }
}
