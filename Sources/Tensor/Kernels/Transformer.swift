import CTensorKernels
import Foundation

// Kernels of the position-wise transformer layers (docs/transformer.md): layer normalisation
// over the last axis, GELU (exact and tanh forms), the embedding gather and scatter-add and
// the position rows. Rows are split across fmctl's worker pool with `runPieces` (no closure,
// no allocation per call); each row is contiguous and stays in L1 between its passes.
// Twins: `Reference.layerNorm`, `Reference.gelu`, `Reference.embedding`,
// `Reference.positionEmbedding` and their gradients.

// MARK: - Layer normalisation

/// Layer normalisation over the last axis: for each row of x (rows, columns),
/// `y = (x - mean) * rstd * gamma + beta` with `rstd = 1 / sqrt(var + epsilon)` and the
/// biased variance (Keras, PyTorch). Saves `mean` and `rstd` per row for the backward pass.
/// Per row: a pass for the mean, one for the variance about it (no cancellation of a sum of
/// squares), one writing y; the row stays in L1. Twin: `Reference.layerNorm`.
///
/// - Parameters:
///   - x: The input (rows, columns).
///   - gamma: The scale, one per column.
///   - beta: The shift, one per column.
///   - y: The output (rows, columns), written (may not alias x).
///   - mean: One mean per row, written.
///   - rstd: One reciprocal standard deviation per row, written.
///   - rows: Rows (batch x positions).
///   - columns: Features (D).
///   - epsilon: Added to the variance.
package func layerNormForward(
    _ x: UnsafePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
    mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>, rows: Int, columns: Int, epsilon: Float
) {
    struct Job {
        let x: UnsafePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>
        let y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>
        let columns: Int, epsilon: Float, split: PieceSplit
    }
    let split = PieceSplit(rows, pieces: 4 * BLAS.threads, minimumPerPiece: max(1, 16_384 / max(1, columns)))
    var job = Job(x: x, gamma: gamma, beta: beta, y: y, mean: mean, rstd: rstd, columns: columns, epsilon: epsilon, split: split)
    runPieces(&job, pieces: split.pieces) { context, i in
        let j = context!.assumingMemoryBound(to: Job.self).pointee
        for r in j.split.range(i) {
            layerNormRow(j.x + r * j.columns, j.gamma, j.beta, j.y + r * j.columns, j.columns, j.epsilon,
                         j.mean + r, j.rstd + r)
        }
    }
}

@inline(__always)
private func layerNormRow(_ x: UnsafePointer<Float>, _ gamma: UnsafePointer<Float>, _ beta: UnsafePointer<Float>,
                          _ y: UnsafeMutablePointer<Float>, _ n: Int, _ epsilon: Float,
                          _ meanOut: UnsafeMutablePointer<Float>, _ rstdOut: UnsafeMutablePointer<Float>) {
    var acc = SIMD8<Float>()
    var k = 0
    while k + 8 <= n { acc += load8(x + k); k += 8 }
    var s = acc.sum()
    while k < n { s += x[k]; k += 1 }
    let m = s / Float(n)
    let mv = SIMD8<Float>(repeating: m)
    acc = SIMD8<Float>()
    k = 0
    while k + 8 <= n { let d = load8(x + k) - mv; acc += d * d; k += 8 }
    var q = acc.sum()
    while k < n { let d = x[k] - m; q += d * d; k += 1 }
    let rs = 1 / (q / Float(n) + epsilon).squareRoot()
    let rv = SIMD8<Float>(repeating: rs)
    k = 0
    while k + 8 <= n {
        store8((load8(x + k) - mv) * rv * load8(gamma + k) + load8(beta + k), y + k)
        k += 8
    }
    while k < n { y[k] = (x[k] - m) * rs * gamma[k] + beta[k]; k += 1 }
    meanOut.pointee = m
    rstdOut.pointee = rs
}

/// The output of `layerNormForward` again, from its input and the mean and reciprocal
/// standard deviation it kept per row: the same expression element by element, so the same
/// values (the tests compare them exactly). A model recomputes a LayerNorm output this way in
/// backward instead of keeping it (docs/architecture.md, "Memory of a training step").
package func layerNormApply(
    _ x: UnsafePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
    mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, rows: Int, columns: Int
) {
    struct Job {
        let x: UnsafePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>
        let y: UnsafeMutablePointer<Float>, mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>
        let columns: Int, split: PieceSplit
    }
    let split = PieceSplit(rows, pieces: 4 * BLAS.threads, minimumPerPiece: max(1, 16_384 / max(1, columns)))
    var job = Job(x: x, gamma: gamma, beta: beta, y: y, mean: mean, rstd: rstd, columns: columns, split: split)
    runPieces(&job, pieces: split.pieces) { context, i in
        let j = context!.assumingMemoryBound(to: Job.self).pointee
        let n = j.columns
        for r in j.split.range(i) {
            let x = j.x + r * n, y = j.y + r * n, m = j.mean[r], rs = j.rstd[r]
            let mv = SIMD8<Float>(repeating: m), rv = SIMD8<Float>(repeating: rs)
            var k = 0
            while k + 8 <= n {
                store8((load8(x + k) - mv) * rv * load8(j.gamma + k) + load8(j.beta + k), y + k)
                k += 8
            }
            while k < n { y[k] = (x[k] - m) * rs * j.gamma[k] + j.beta[k]; k += 1 }
        }
    }
}

/// Floats of scratch `layerNormBackward` needs: one (dgamma, dbeta) partial sum per piece.
///
/// - Parameter columns: Features (D).
/// - Returns: `reductionParts * 2 * columns`.
package func layerNormBackwardScratchCount(columns: Int) -> Int { reductionParts * 2 * columns }

/// Layer normalisation backward, from the saved mean and rstd, in one pass per row:
/// `xhat = (x - mean) * rstd`, `g = dy * gamma`,
/// `dx = rstd * (g - mean(g) - xhat * mean(g * xhat))`; `dgamma = sum over rows of dy * xhat`
/// and `dbeta = sum of dy`, overwritten, summed per piece of rows into `scratch` and then
/// added up in piece order (deterministic for a thread count). Twin: `Reference.layerNormBackward`.
///
/// - Parameters:
///   - dy: Gradient with respect to the output (rows, columns).
///   - x: The forward pass's input (rows, columns).
///   - gamma: The scale.
///   - mean: The forward pass's row means.
///   - rstd: The forward pass's row reciprocal standard deviations.
///   - dx: Gradient with respect to the input, written (may alias dy); nil for none.
///   - dgamma: The scale's gradient, overwritten.
///   - dbeta: The shift's gradient, overwritten.
///   - scratch: ``layerNormBackwardScratchCount(columns:)`` floats.
///   - rows: Rows (batch x positions).
///   - columns: Features (D).
package func layerNormBackward(
    _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
    mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?,
    dgamma: UnsafeMutablePointer<Float>, dbeta: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
    rows: Int, columns: Int
) {
    struct Job {
        let dy: UnsafePointer<Float>, x: UnsafePointer<Float>, gamma: UnsafePointer<Float>
        let mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?
        let scratch: UnsafeMutablePointer<Float>, columns: Int, split: PieceSplit
    }
    let split = PieceSplit(rows, pieces: min(reductionParts, 4 * BLAS.threads), minimumPerPiece: max(1, 8_192 / max(1, columns)))
    scratch.update(repeating: 0, count: split.pieces * 2 * columns)
    var job = Job(dy: dy, x: x, gamma: gamma, mean: mean, rstd: rstd, dx: dx, scratch: scratch, columns: columns, split: split)
    runPieces(&job, pieces: split.pieces) { context, i in
        let j = context!.assumingMemoryBound(to: Job.self).pointee
        let n = j.columns
        let dg = j.scratch + i * 2 * n, db = dg + n
        for r in j.split.range(i) {
            let d = j.dy + r * n, xr = j.x + r * n
            let m = j.mean[r], rs = j.rstd[r]
            let mv = SIMD8<Float>(repeating: m), rv = SIMD8<Float>(repeating: rs)
            // Pass 1: the parameter gradients and the two row means.
            var a1 = SIMD8<Float>(), a2 = SIMD8<Float>()
            var k = 0
            while k + 8 <= n {
                let dv = load8(d + k), xh = (load8(xr + k) - mv) * rv
                store8(load8(dg + k) + dv * xh, dg + k)
                store8(load8(db + k) + dv, db + k)
                let g = dv * load8(j.gamma + k)
                a1 += g; a2 += g * xh
                k += 8
            }
            var s1 = a1.sum(), s2 = a2.sum()
            while k < n {
                let xh = (xr[k] - m) * rs
                dg[k] += d[k] * xh; db[k] += d[k]
                let g = d[k] * j.gamma[k]
                s1 += g; s2 += g * xh
                k += 1
            }
            guard let dxAll = j.dx else { continue }
            // Pass 2: the input gradient (may overwrite dy's row, read above).
            let dxr = dxAll + r * n
            let inv = 1 / Float(n)
            let m1 = s1 * inv, m2 = s2 * inv
            let m1v = SIMD8<Float>(repeating: m1), m2v = SIMD8<Float>(repeating: m2)
            k = 0
            while k + 8 <= n {
                let xh = (load8(xr + k) - mv) * rv
                store8(rv * (load8(d + k) * load8(j.gamma + k) - m1v - xh * m2v), dxr + k)
                k += 8
            }
            while k < n {
                let xh = (xr[k] - m) * rs
                dxr[k] = rs * (d[k] * j.gamma[k] - m1 - xh * m2)
                k += 1
            }
        }
    }
    for k in 0..<columns {
        var g: Float = 0, b: Float = 0
        for p in 0..<split.pieces {
            g += scratch[p * 2 * columns + k]
            b += scratch[p * 2 * columns + columns + k]
        }
        dgamma[k] = g; dbeta[k] = b
    }
}

// MARK: - GELU

/// GELU, exact form: `y = x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2))` (PyTorch's default), or
/// with `approximate` the tanh form `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`
/// (PyTorch's `approximate='tanh'`, GPT-2's), computed as `x sigmoid(2u)`. In C
/// (`fm_gelu`): 8 lanes with a polynomial e^x and Abramowitz and Stegun's erf (relative error
/// a few 1e-7), split across the worker pool. Twin: `Reference.gelu`.
///
/// - Parameters:
///   - x: The input.
///   - y: The output, written (may alias x).
///   - n: Number of elements.
///   - approximate: The tanh form instead of erf.
package func geluForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count n: Int, approximate: Bool) {
    geluPass(x, dy: nil, y, count: n, approximate: approximate)
}

/// GELU backward from the forward pass's input x: exact form
/// `dx = dy * (Phi(x) + x phi(x))` with `phi(x) = exp(-x^2/2) / sqrt(2 pi)`; tanh form, with
/// `s = sigmoid(2u) = 0.5 (1 + tanh u)`, `dx = dy * (s + 2 x s (1 - s) u'(x))`,
/// `u'(x) = sqrt(2/pi) (1 + 3 * 0.044715 x^2)` (PyTorch's `0.5 (1 + t) + 0.5 x (1 - t^2) u'`
/// rewritten). Twin: `Reference.geluBackward`.
///
/// - Parameters:
///   - dy: Gradient with respect to the output.
///   - x: The forward pass's input.
///   - dx: Gradient with respect to the input, written (may alias dy).
///   - n: Number of elements.
///   - approximate: The tanh form instead of erf.
package func geluBackward(_ dy: UnsafePointer<Float>, input x: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                          count n: Int, approximate: Bool) {
    geluPass(x, dy: dy, dx, count: n, approximate: approximate)
}

private func geluPass(_ x: UnsafePointer<Float>, dy: UnsafePointer<Float>?, _ out: UnsafeMutablePointer<Float>,
                      count n: Int, approximate: Bool) {
    struct Job {
        let x: UnsafePointer<Float>, dy: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>
        let approximate: Int32, backward: Int32, split: PieceSplit
    }
    // Pieces of at least 32 K elements (~30 µs), boundaries on the 8 lanes.
    let split = PieceSplit(n, pieces: 4 * BLAS.threads, minimumPerPiece: 32_768, alignment: 8)
    var job = Job(x: x, dy: dy, out: out, approximate: approximate ? 1 : 0, backward: dy == nil ? 0 : 1, split: split)
    runPieces(&job, pieces: split.pieces) { context, i in
        let j = context!.assumingMemoryBound(to: Job.self).pointee
        let r = j.split.range(i)
        fm_gelu(j.x, j.dy, j.out, r.lowerBound, r.upperBound, j.approximate, j.backward)
    }
}

// MARK: - Embeddings

/// The table row of a token id stored as a Float, or nil when the id is not a whole number in
/// `0..<rows` (negative, too large, fractional, NaN): such a token reads no row (its output
/// row is zeros) and takes no gradient (docs/transformer.md).
@inline(__always)
package func embeddingRow(_ id: Float, rows: Int) -> Int? {
    guard id >= 0, id < Float(rows), id == id.rounded(.towardZero) else { return nil }
    return Int(id)
}

/// Embedding lookup: row r of out (count, columns) is row `ids[r]` of table (tableRows,
/// columns), or zeros for an id outside the table (``embeddingRow(_:rows:)``). Twin:
/// `Reference.embedding`.
///
/// - Parameters:
///   - ids: Token ids stored as Floats, `count` of them.
///   - table: The embeddings (tableRows, columns).
///   - out: The output (count, columns), written.
///   - count: Tokens (batch x positions).
///   - tableRows: Rows of the table (the vocabulary).
///   - columns: Features per token.
package func embeddingForward(_ ids: UnsafePointer<Float>, table: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                              count: Int, tableRows: Int, columns: Int) {
    for r in 0..<count {
        let y = out + r * columns
        if let row = embeddingRow(ids[r], rows: tableRows) {
            y.update(from: table + row * columns, count: columns)
        } else {
            y.update(repeating: 0, count: columns)
        }
    }
}

/// Embedding backward: dtable (tableRows, columns) is zeroed, then row r of dout is added to
/// row `ids[r]` (ids outside the table add nothing). Sequential, so repeated ids sum in token
/// order. Twin: `Reference.embeddingBackward`.
///
/// - Parameters:
///   - dout: Gradient with respect to the output (count, columns).
///   - ids: The forward pass's token ids.
///   - dtable: The table's gradient, overwritten.
///   - count: Tokens (batch x positions).
///   - tableRows: Rows of the table.
///   - columns: Features per token.
package func embeddingBackward(_ dout: UnsafePointer<Float>, ids: UnsafePointer<Float>, dtable: UnsafeMutablePointer<Float>,
                               count: Int, tableRows: Int, columns: Int) {
    dtable.update(repeating: 0, count: tableRows * columns)
    for r in 0..<count {
        guard let row = embeddingRow(ids[r], rows: tableRows) else { continue }
        let g = dtable + row * columns, d = dout + r * columns
        var k = 0
        while k + 8 <= columns { store8(load8(g + k) + load8(d + k), g + k); k += 8 }
        while k < columns { g[k] += d[k]; k += 1 }
    }
}

/// Position embedding: out[b, t, :] = x[b, t, :] + table[t, :] for samples of (positions,
/// columns). Twin: `Reference.positionEmbedding`.
///
/// - Parameters:
///   - x: The input (batch, positions, columns).
///   - table: The position rows (at least `positions`, columns).
///   - out: The output, written (may alias x).
///   - batch: Samples.
///   - positions: Positions per sample (T).
///   - columns: Features (D).
package func positionEmbeddingForward(_ x: UnsafePointer<Float>, table: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                                      batch: Int, positions: Int, columns: Int) {
    let perSample = positions * columns
    for b in 0..<batch {
        let xs = x + b * perSample, ys = out + b * perSample
        var k = 0
        while k + 8 <= perSample { store8(load8(xs + k) + load8(table + k), ys + k); k += 8 }
        while k < perSample { ys[k] = xs[k] + table[k]; k += 1 }
    }
}

/// Position embedding backward: dtable[t, :] = sum over the batch of dout[b, t, :] for
/// t < positions (rows beyond are zeroed); the input gradient is dout itself.
/// Twin: `Reference.positionEmbeddingBackward`.
///
/// - Parameters:
///   - dout: Gradient with respect to the output (batch, positions, columns).
///   - dtable: The table's gradient (tableRows, columns), overwritten.
///   - batch: Samples.
///   - positions: Positions per sample (T).
///   - tableRows: Rows of the table (>= positions).
///   - columns: Features (D).
package func positionEmbeddingBackward(_ dout: UnsafePointer<Float>, dtable: UnsafeMutablePointer<Float>,
                                       batch: Int, positions: Int, tableRows: Int, columns: Int) {
    let perSample = positions * columns
    dtable.update(repeating: 0, count: tableRows * columns)
    for b in 0..<batch {
        let d = dout + b * perSample
        var k = 0
        while k + 8 <= perSample { store8(load8(dtable + k) + load8(d + k), dtable + k); k += 8 }
        while k < perSample { dtable[k] += d[k]; k += 1 }
    }
}

// MARK: - Dense backward over many rows

/// Dense backward for a sequence layer's many rows (docs/transformer.md): dweight (IN, OUT) =
/// inp^T dout and dinp (rows, IN) = dout weight^T as two OpenBLAS sgemm calls with transposed
/// operands (no copies), dbias = column sums of dout. Over thousands of rows OpenBLAS's packed
/// GEMM measured faster than the dense kernel on transposed copies (the copies alone were 9 %
/// of a step); `denseBackward`'s one sweep streams dout once per 6 kernel rows, which at
/// thousands of rows is memory-bound. Twin: `Reference.gemm` (the tests).
///
/// - Parameters:
///   - dout: Gradient with respect to the output (rows, OUT), after the activation's backward.
///   - inp: The forward pass's input (rows, IN).
///   - weight: The kernel (IN, OUT).
///   - dweight: The kernel's gradient, overwritten.
///   - dbias: The bias's gradient, overwritten.
///   - dinp: Gradient with respect to the input, overwritten; nil when nobody reads it.
///   - rows: Rows (batch x positions).
///   - inFeatures: IN.
///   - outFeatures: OUT.
package func denseRowsBackward(
    _ dout: UnsafePointer<Float>, _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
    dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>, dinp: UnsafeMutablePointer<Float>?,
    rows: Int, inFeatures: Int, outFeatures: Int
) {
    columnSums(dout, rows: rows, columns: outFeatures, into: dbias)
    sgemm(transposeA: true, m: inFeatures, n: outFeatures, k: rows, a: inp, b: dout, c: dweight)
    if let dinp {
        sgemm(transposeB: true, m: rows, n: inFeatures, k: outFeatures, a: dout, b: weight, c: dinp)
    }
}
