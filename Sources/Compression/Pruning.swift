import Foundation
import Models

/// TensorFlow Model Optimization's `PolynomialDecay` pruning schedule (docs/compress.md):
/// sparsity rises from `initialSparsity` at `beginStep` to `finalSparsity` at `endStep` as
///
///     p = clamp((step - beginStep) / (endStep - beginStep), 0, 1)
///     sparsity = finalSparsity + (initialSparsity - finalSparsity) * (1 - p)^power
///
/// and the masks are recomputed only on steps `beginStep + k * frequency` up to `endStep`.
public struct PolynomialDecay: Sendable, Equatable {
    public var initialSparsity: Double
    public var finalSparsity: Double
    public var beginStep: Int
    public var endStep: Int
    public var power: Double
    public var frequency: Int

    public init(initialSparsity: Double = 0, finalSparsity: Double, beginStep: Int = 0, endStep: Int,
                power: Double = 3, frequency: Int = 100) {
        self.initialSparsity = initialSparsity
        self.finalSparsity = finalSparsity
        self.beginStep = beginStep
        self.endStep = endStep
        self.power = power
        self.frequency = max(1, frequency)
    }

    /// The target sparsity at `step`.
    public func sparsity(at step: Int) -> Double {
        // A schedule that ends where it begins jumps to the final sparsity at once.
        let p = endStep > beginStep ? min(1, max(0, Double(step - beginStep) / Double(endStep - beginStep)))
                                    : (step >= beginStep ? 1 : 0)
        return finalSparsity + (initialSparsity - finalSparsity) * pow(1 - p, power)
    }

    /// Whether the masks are recomputed at `step` (TF MOT's `should_prune_in_step`).
    public func prunes(at step: Int) -> Bool {
        step >= beginStep && step <= endStep && (step - beginStep) % frequency == 0
    }
}

/// Magnitude pruning of every Dense and Conv2D kernel (biases kept), per layer: the masks
/// zero the smallest-magnitude weights of each kernel. As a training observer it is TF MOT's
/// `UpdatePruningStep`: after every optimiser step it re-applies the masks (so the pruned
/// weights stay zero through fine-tuning) and, on the schedule's pruning steps, recomputes them.
public final class MagnitudePruner: TrainingObserver {
    public let schedule: PolynomialDecay
    /// The pruned tensors and their masks (1 keep, 0 pruned).
    public private(set) var targets: [(parameter: Model.NamedParameter, mask: [Float])] = []
    /// Optimiser steps seen.
    public private(set) var step = 0
    /// The sparsity the masks were last computed for (0 before the first pruning step).
    public private(set) var maskSparsity = 0.0

    /// - Parameters:
    ///   - model: the model whose Dense and Conv2D kernels are pruned.
    ///   - schedule: the sparsity at each optimiser step (TF MOT's polynomial decay).
    ///   - minimumWeights: kernels with fewer weights are left whole (0: every kernel pruned).
    /// - Throws: ``CompressionError`` when the model has no Dense or Conv2D kernel.
    public init(model: Model, schedule: PolynomialDecay, minimumWeights: Int = 0) throws {
        guard schedule.finalSparsity > 0, schedule.finalSparsity < 1 else {
            throw CompressionError("--prune: sparsity must be in (0, 1), got \(schedule.finalSparsity)")
        }
        self.schedule = schedule
        let prunable = Set(model.layers.filter { $0 is Dense || $0 is Conv2D }.map { "\($0.name)/kernel" })
        targets = model.namedParameters.filter { prunable.contains($0.name) && $0.count >= minimumWeights }
            .map { ($0, [Float](repeating: 1, count: $0.count)) }
        guard !targets.isEmpty else {
            throw CompressionError("--prune: the model has no Dense or Conv2D kernel of at least \(minimumWeights) weights to prune")
        }
    }

    /// Sets every mask to keep the largest `1 - sparsity` of its kernel's magnitudes (ties at
    /// the threshold pruned first in index order), then applies them.
    public func updateMasks(sparsity: Double) {
        for t in targets.indices {
            let p = targets[t].parameter
            let pruneCount = Int((Double(p.count) * sparsity).rounded(.down))
            var order = Array(0..<p.count)
            order.sort { (abs(p.pointer[$0]), $0) < (abs(p.pointer[$1]), $1) }
            var mask = [Float](repeating: 1, count: p.count)
            for i in order.prefix(pruneCount) { mask[i] = 0 }
            targets[t].mask = mask
        }
        maskSparsity = sparsity
        applyMasks()
    }

    /// Multiplies each pruned kernel by its mask.
    public func applyMasks() {
        for t in targets {
            let p = t.parameter
            t.mask.withUnsafeBufferPointer { m in for i in 0..<p.count { p.pointer[i] *= m[i] } }
        }
    }

    /// The sparsity of each pruned kernel now.
    public var sparsities: [Double] {
        targets.map { t in
            Double((0..<t.parameter.count).reduce(0) { $0 + (t.parameter.pointer[$1] == 0 ? 1 : 0) }) / Double(t.parameter.count)
        }
    }

    public func batchEnded(_ logs: BatchLogs) -> TrainingControl {
        if schedule.prunes(at: step) { updateMasks(sparsity: schedule.sparsity(at: step)) } else { applyMasks() }
        step += 1
        return .proceed
    }
}
