/// GEMMs with a small inner dimension, where OpenBLAS is weak: the first convolution of an
/// image model (K = KH*KW*Cin = 9) forward, and its weight gradient (TN with M = B*OH*OW
/// in the inner sum). Both keep 32 output columns in four 8-wide registers and stream the
/// long dimension through L1-sized blocks. Columns must be a multiple of 8; the callers
/// fall back to sgemm otherwise. Twins: `Reference.gemm`, through the tests.

/// Whether the small-K kernels apply: K small enough that the FMA work per output row is
/// short, and N a multiple of 8.
///
/// - Parameters:
///   - k: The inner dimension.
///   - n: The output columns.
/// - Returns: True for K <= 32 and N a multiple of 8 up to 256.
package func smallKGEMMApplies(k: Int, n: Int) -> Bool { k <= 32 && n % 8 == 0 && n <= 256 }

/// out (M, N) = a (M, K) * b (K, N) + bias (N), then ReLU when `relu`. Overwrites out.
///
/// - Parameters:
///   - a: The (M, K) left operand (a convolution's patch matrix).
///   - b: The (K, N) right operand (its kernel).
///   - bias: One value per column.
///   - out: The (M, N) result, overwritten.
///   - m: Rows.
///   - n: Columns, a multiple of 8.
///   - k: The inner dimension, small (see ``smallKGEMMApplies(k:n:)``).
///   - relu: Apply ReLU to the result.
package func smallKGEMMBias(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, bias: UnsafePointer<Float>,
    _ out: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int, relu: Bool
) {
    parallelRanges(m, minimumPerPart: 1024) { rows in
        for n0 in stride(from: 0, to: n, by: 32) {
            if n - n0 >= 32 {
                let b0 = load8(bias + n0), b1 = load8(bias + n0 + 8), b2 = load8(bias + n0 + 16), b3 = load8(bias + n0 + 24)
                for i in rows {
                    var c0 = b0, c1 = b1, c2 = b2, c3 = b3
                    let ar = a + i * k
                    for p in 0..<k {
                        let s = SIMD8<Float>(repeating: ar[p])
                        let br = b + p * n + n0
                        c0 += s * load8(br); c1 += s * load8(br + 8); c2 += s * load8(br + 16); c3 += s * load8(br + 24)
                    }
                    if relu {
                        let z = SIMD8<Float>()
                        c0.replace(with: z, where: c0 .< z); c1.replace(with: z, where: c1 .< z)
                        c2.replace(with: z, where: c2 .< z); c3.replace(with: z, where: c3 .< z)
                    }
                    let o = out + i * n + n0
                    store8(c0, o); store8(c1, o + 8); store8(c2, o + 16); store8(c3, o + 24)
                }
            } else {
                for n1 in stride(from: n0, to: n, by: 8) {
                    let b0 = load8(bias + n1)
                    for i in rows {
                        var c0 = b0
                        let ar = a + i * k
                        for p in 0..<k { c0 += SIMD8<Float>(repeating: ar[p]) * load8(b + p * n + n1) }
                        if relu { c0.replace(with: SIMD8<Float>(), where: c0 .< SIMD8<Float>()) }
                        store8(c0, out + i * n + n1)
                    }
                }
            }
        }
    }
}

/// dw (K, N) = a^T * d where a is (M, K) and d is (M, N); dbias (N) = column sums of d.
/// Both overwritten. Pieces of M each sum into their own partial result, added at the end
/// (`partials` holds `reductionParts * (K*N + N)` floats).
///
/// - Parameters:
///   - a: The (M, K) patch matrix of the forward pass.
///   - d: The (M, N) gradient with respect to the output.
///   - dw: The (K, N) weight gradient, overwritten.
///   - dbias: The (N) bias gradient, overwritten.
///   - m: Rows of `a` and `d`: the long dimension, summed over.
///   - n: Columns, a multiple of 8.
///   - k: The inner dimension, small.
///   - partials: Scratch for the per-piece partial sums.
package func smallKGEMMWeightGradient(
    _ a: UnsafePointer<Float>, _ d: UnsafePointer<Float>,
    dw: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>,
    m: Int, n: Int, k: Int, partials: UnsafeMutablePointer<Float>
) {
    let block = 128
    accumulateInParts(m, minimumPerPart: 1024, partials: partials, weights: dw, weightCount: k * n,
                         bias: dbias, biasCount: n) { rows, acc in
        for m0 in stride(from: rows.lowerBound, to: rows.upperBound, by: block) {
            let m1 = min(m0 + block, rows.upperBound)
            for n0 in stride(from: 0, to: n, by: 8) {
                // Bias gradient: column sums of this block.
                var s0 = load8(acc + k * n + n0)
                for i in m0..<m1 { s0 += load8(d + i * n + n0) }
                store8(s0, acc + k * n + n0)
            }
            for n0 in stride(from: 0, to: n, by: 32) where n - n0 >= 32 {
                for p in 0..<k {
                    let w = acc + p * n + n0
                    var c0 = load8(w), c1 = load8(w + 8), c2 = load8(w + 16), c3 = load8(w + 24)
                    for i in m0..<m1 {
                        let s = SIMD8<Float>(repeating: a[i * k + p])
                        let dr = d + i * n + n0
                        c0 += s * load8(dr); c1 += s * load8(dr + 8); c2 += s * load8(dr + 16); c3 += s * load8(dr + 24)
                    }
                    store8(c0, w); store8(c1, w + 8); store8(c2, w + 16); store8(c3, w + 24)
                }
            }
            for n0 in stride(from: n - n % 32, to: n, by: 8) {
                for p in 0..<k {
                    var c0 = load8(acc + p * n + n0)
                    for i in m0..<m1 { c0 += SIMD8<Float>(repeating: a[i * k + p]) * load8(d + i * n + n0) }
                    store8(c0, acc + p * n + n0)
                }
            }
        }
    }
}
