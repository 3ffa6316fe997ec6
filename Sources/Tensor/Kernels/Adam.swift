import CTensorKernels

/// The Adam update over flat arrays, 8 lanes at a time and split across the BLAS threads
/// (the step streams 4 arrays of all parameters through memory: 11 MB for the reference
/// CNN, so it is bandwidth-bound and gains from a second core). Keras's form, with the bias
/// corrections folded into `alpha` by the caller:
///   m += (g - m)(1 - beta1);  v += (g*g - v)(1 - beta2);  w -= m * alpha / (sqrt(v) + eps).
/// Twin: `Reference.adamUpdate`.
public func adamUpdate(
    parameters w: UnsafeMutablePointer<Float>, gradients g: UnsafePointer<Float>,
    m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, count: Int,
    alpha: Float, beta1: Float, beta2: Float, epsilon: Float
) {
    let c1 = 1 - beta1, c2 = 1 - beta2
    parallelRanges(count, minimumPerPart: 65_536) { r in
        fm_adam_update(w, g, m, v, r.lowerBound, r.upperBound, alpha, c1, c2, epsilon)
    }
}
