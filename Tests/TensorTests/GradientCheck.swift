import Tensor

/// Central-difference gradient check helpers.
///
/// The scalar under test is L = sum_i r_i * f(x)_i for a fixed random r, accumulated in
/// Double, so that dL/dx is the kernel's backward applied to dout = r. Each checked element
/// is perturbed by ±eps in Float; the two evaluations are differenced in Double.
enum GradientCheck {
    static func loss(_ out: [Float], _ r: [Float]) -> Double {
        zip(out, r).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    }

    /// Numerical gradient of `loss(f(x), r)` at the given indices of x.
    static func numerical(
        _ x: [Float], indices: [Int], eps: Float, r: [Float], f: ([Float]) -> [Float]
    ) -> [Double] {
        indices.map { i in
            var xp = x, xm = x
            xp[i] += eps
            xm[i] -= eps
            let h = Double(xp[i]) - Double(xm[i])
            return (loss(f(xp), r) - loss(f(xm), r)) / h
        }
    }

    /// Largest |a - n| / max(1, |n|) over the pairs: an absolute error for small gradients,
    /// a relative one for large.
    static func maxError(_ analytic: [Double], _ numeric: [Double]) -> Double {
        zip(analytic, numeric).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
    }

    /// A spread of indices to check (all when small).
    static func sampleIndices(_ n: Int, count: Int = 40) -> [Int] {
        n <= count ? Array(0..<n) : (0..<count).map { $0 * n / count + ($0 * 7) % max(1, n / count) }
    }
}

func random(_ n: Int, seed: UInt64, low: Float = -1, high: Float = 1) -> [Float] {
    Tensor.randomUniform([n], low: low, high: high, seed: seed).scalars
}
