import CTensorKernels

/// The Adam update over flat arrays, 8 lanes at a time and split across the BLAS threads
/// (the step streams 4 arrays of all parameters through memory: 11 MB for the reference
/// CNN, so it is bandwidth-bound and gains from a second core). Keras's form, with the bias
/// corrections folded into `alpha` by the caller:
///   m += (g - m)(1 - beta1);  v += (g*g - v)(1 - beta2);  w -= m * alpha / (sqrt(v) + eps).
/// Twin: `Reference.adamUpdate`.
///
/// - Parameters:
///   - w: The parameters, updated.
///   - g: Their gradients.
///   - m: The first moments, updated.
///   - v: The second moments, updated.
///   - count: Number of parameters.
///   - alpha: `lr * sqrt(1 - beta2^t) / (1 - beta1^t)` for step t.
///   - beta1: Decay of the first moment (Keras: 0.9).
///   - beta2: Decay of the second moment (Keras: 0.999).
///   - epsilon: Added to `sqrt(v)` (Keras: 1e-7).
package func adamUpdate(
    parameters w: UnsafeMutablePointer<Float>, gradients g: UnsafePointer<Float>,
    m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, count: Int,
    alpha: Float, beta1: Float, beta2: Float, epsilon: Float
) {
    struct Job {
        let w: UnsafeMutablePointer<Float>, g: UnsafePointer<Float>
        let m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>
        let alpha: Float, c1: Float, c2: Float, epsilon: Float, split: PieceSplit
    }
    let split = PieceSplit(count, pieces: BLAS.threads, minimumPerPiece: 65_536)
    var job = Job(w: w, g: g, m: m, v: v, alpha: alpha, c1: 1 - beta1, c2: 1 - beta2, epsilon: epsilon, split: split)
    runPieces(&job, pieces: split.pieces) { context, i in
        let j = context!.assumingMemoryBound(to: Job.self).pointee
        let r = j.split.range(i)
        fm_adam_update(j.w, j.g, j.m, j.v, r.lowerBound, r.upperBound, j.alpha, j.c1, j.c2, j.epsilon)
    }
}
