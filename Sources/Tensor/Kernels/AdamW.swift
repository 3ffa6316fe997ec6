import CTensorKernels
import Foundation

/// One AdamW step over `count` parameters in PyTorch's form (`torch.optim.AdamW`), one
/// pass per element (docs/transformer.md, "Training text models"):
///
///     w *= decayFactor                       (1 - lr * weight_decay; 1 for no decay)
///     m += (g - m) * (1 - beta1)
///     v  = v * beta2 + (1 - beta2) * g * g
///     w -= stepSize * m / (sqrt(v) / biasCorrection2Root + epsilon)
///
/// with `stepSize = lr / (1 - beta1^t)` and `biasCorrection2Root = sqrt(1 - beta2^t)`.
/// Split over the worker pool for large counts, like `adamUpdate`; the C kernel
/// (`fm_adamw_update`, adam.c) runs four lanes at a time.
package func adamWUpdate(
    parameters w: UnsafeMutablePointer<Float>, gradients g: UnsafePointer<Float>,
    m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, count: Int,
    stepSize: Float, biasCorrection2Root: Float, decayFactor: Float,
    beta1: Float, beta2: Float, epsilon: Float
) {
    struct Job {
        let w: UnsafeMutablePointer<Float>, g: UnsafePointer<Float>
        let m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>
        let stepSize: Float, bc2: Float, decay: Float, beta1: Float, beta2: Float, epsilon: Float, split: PieceSplit
    }
    let split = PieceSplit(count, pieces: BLAS.threads, minimumPerPiece: 65_536)
    var job = Job(w: w, g: g, m: m, v: v, stepSize: stepSize, bc2: biasCorrection2Root, decay: decayFactor,
                  beta1: beta1, beta2: beta2, epsilon: epsilon, split: split)
    runPieces(&job, pieces: split.pieces) { context, i in
        let j = context!.assumingMemoryBound(to: Job.self).pointee
        let r = j.split.range(i)
        fm_adamw_update(j.w, j.g, j.m, j.v, r.lowerBound, r.upperBound, j.stepSize, j.bc2, j.decay, j.beta2,
                        1 - j.beta1, 1 - j.beta2, j.epsilon)
    }
}

/// The sum of squares of `count` values, accumulated in eight Float lanes per block of
/// 4096 values and the blocks in Double (for a gradient's global norm).
package func sumOfSquares(_ x: UnsafePointer<Float>, count: Int) -> Double {
    var total = 0.0
    var lo = 0
    while lo < count {
        let hi = min(count, lo + 4096)
        var acc = SIMD8<Float>(repeating: 0)
        var i = lo
        while i + 8 <= hi {
            let s = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            acc += s * s
            i += 8
        }
        var tail: Float = 0
        while i < hi { tail += x[i] * x[i]; i += 1 }
        total += Double(acc.sum()) + Double(tail)
        lo = hi
    }
    return total
}

/// Multiplies `count` values by `factor` in place.
package func scaleInPlace(_ x: UnsafeMutablePointer<Float>, count: Int, by factor: Float) {
    for i in 0..<count { x[i] *= factor }
}
