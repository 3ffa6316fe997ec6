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
        var i = r.lowerBound
        let a8 = SIMD8<Float>(repeating: alpha), e8 = SIMD8<Float>(repeating: epsilon)
        let c18 = SIMD8<Float>(repeating: c1), c28 = SIMD8<Float>(repeating: c2)
        while i + 8 <= r.upperBound {
            let gi = load8(g + i)
            var mi = load8(m + i), vi = load8(v + i)
            mi += (gi - mi) * c18
            vi += (gi * gi - vi) * c28
            store8(mi, m + i)
            store8(vi, v + i)
            store8(load8(w + i) - mi * a8 / (vi.squareRoot() + e8), w + i)
            i += 8
        }
        while i < r.upperBound {
            m[i] += (g[i] - m[i]) * c1
            v[i] += (g[i] * g[i] - v[i]) * c2
            w[i] -= m[i] * alpha / (v[i].squareRoot() + epsilon)
            i += 1
        }
    }
}
