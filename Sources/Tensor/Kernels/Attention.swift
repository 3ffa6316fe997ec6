import CTensorKernels
import Foundation

// Scaled dot-product self-attention over a fused QKV tensor (docs/transformer.md): per sample
// and head, scores q k^T / sqrt(d), an optional causal mask, a numerically stable softmax,
// optional inverted dropout on the probabilities, times v. Two implementations of the same
// arithmetic, chosen per call (docs/transformer.md, "Attention kernels", has the figures):
// `.rows`, a kernel of its own that walks one query row at a time and, when causal, touches
// only the row's first t+1 keys; and `.sgemm`, three OpenBLAS calls per (sample, head) with
// strided leading dimensions (no copies), the full T x T square masked after the fact. Both
// spread the (sample, head) pairs over `threads` threads of the pool. The sgemm calls run
// inside the pieces, so for one level of threading the caller sets OpenBLAS to one thread
// around the call (`make bench` does); the functions leave OpenBLAS's setting alone, which is
// global and which tests running in parallel read. The twin of both is the float64 reference
// in Tests/ModelsTests/AttentionTests.swift.

/// Which implementation of the attention core runs (see the top of this file).
package enum AttentionKernel: String, Sendable, CaseIterable {
    /// One query row at a time with SIMD dot products and AXPYs; causal rows skip masked keys.
    case rows
    /// sgemm per (sample, head) on strided views of the QKV tensor.
    case sgemm
}

/// The shape of one attention call.
package struct AttentionGeometry: Sendable, Equatable {
    /// Samples (B), positions (T), model width (D), heads (H).
    package let batch: Int, length: Int, width: Int, heads: Int
    /// Mask the scores above the diagonal (a position sees itself and the ones before).
    package let causal: Bool

    package init(batch: Int, length: Int, width: Int, heads: Int, causal: Bool) {
        self.batch = batch; self.length = length; self.width = width; self.heads = heads; self.causal = causal
    }

    /// d = D / H, the width of one head.
    package var headWidth: Int { width / heads }
    /// Floats of the probabilities (and of the dropped probabilities): B * H * T * T.
    package var probabilityCount: Int { batch * heads * length * length }
    /// The most pieces the (sample, head) pairs are split into: four per thread.
    package static func maximumPieces(threads: Int) -> Int { 4 * max(1, threads) }
    /// Floats of scratch per piece: one T x T square (the sgemm kernel's dP) .
    package static func scratchPerPiece(length: Int) -> Int { length * length }
}

/// Attention forward. `qkv` is (B*T, 3D): queries in columns 0..<D, keys D..<2D, values
/// 2D..<3D, head h in columns h*d..<(h+1)*d of each. Writes the probabilities P (B, H, T, T)
/// (entries above the diagonal of a causal layer: 0 for `.sgemm`, not written by `.rows`),
/// the dropped probabilities when `dropped` is given (each entry zeroed with probability
/// `dropoutRate`, the others scaled by 1/(1 - rate); the mask of pair (b, h) comes from
/// `Xoshiro256(seed: seed ^ pair index)`, so it does not depend on the thread count), and the
/// heads' outputs concatenated, `out` (B*T, D).
///
/// - Parameters:
///   - qkv: The fused projections (B*T, 3D).
///   - probabilities: P, (B, H, T, T), written.
///   - dropped: P with dropout applied, (B, H, T, T), written; nil for no dropout.
///   - dropoutRate: The dropout rate in [0, 1); read when `dropped` is given.
///   - seed: The dropout masks' seed.
///   - out: The concatenated heads (B*T, D), written.
///   - scratch: `maximumPieces(threads:) * scratchPerPiece(length:)` floats.
///   - scratchPieces: The pieces `scratch` holds (at least 1).
///   - geometry: The shape.
///   - kernel: The implementation.
///   - threads: The pool threads to spread the pairs over; default the BLAS thread count.
package func attentionForward(
    qkv: UnsafePointer<Float>, probabilities: UnsafeMutablePointer<Float>, dropped: UnsafeMutablePointer<Float>?,
    dropoutRate: Float, seed: UInt64, out: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
    scratchPieces: Int, geometry g: AttentionGeometry, kernel: AttentionKernel, threads: Int = BLAS.threads
) {
    var job = AttentionJob(backward: false, kernel: kernel, g: g, qkv: qkv, probabilities: probabilities, dropped: dropped,
                           rate: dropoutRate, seed: seed, out: out, dout: nil, dqkv: nil, scratch: scratch,
                           split: PieceSplit(g.batch * g.heads, pieces: 1))
    runAttention(&job, scratchPieces: scratchPieces, threads: threads)
}

/// Attention backward: from the gradient with respect to the concatenated heads `dout`
/// (B*T, D) and what the forward pass stored, overwrites `dqkv` (B*T, 3D) with the gradient
/// with respect to the fused projections. Softmax backward: dS = P * (dP - rowsum(dP * P)),
/// where dP is the gradient with respect to P (through the dropout mask).
///
/// - Parameters:
///   - dout: Gradient with respect to the concatenated heads (B*T, D).
///   - qkv: The forward pass's projections (B*T, 3D).
///   - probabilities: The forward pass's P.
///   - dropped: The forward pass's dropped P, or nil when it ran without dropout.
///   - dropoutRate: The rate it ran with.
///   - dqkv: Gradient with respect to `qkv`, overwritten.
///   - scratch: As for the forward pass.
///   - scratchPieces: The pieces `scratch` holds.
///   - geometry: The shape.
///   - kernel: The implementation.
///   - threads: As for the forward pass.
package func attentionBackward(
    dout: UnsafePointer<Float>, qkv: UnsafePointer<Float>, probabilities: UnsafePointer<Float>,
    dropped: UnsafePointer<Float>?, dropoutRate: Float, dqkv: UnsafeMutablePointer<Float>,
    scratch: UnsafeMutablePointer<Float>, scratchPieces: Int, geometry g: AttentionGeometry, kernel: AttentionKernel,
    threads: Int = BLAS.threads
) {
    var job = AttentionJob(backward: true, kernel: kernel, g: g, qkv: qkv, probabilities: UnsafeMutablePointer(mutating: probabilities),
                           dropped: dropped.map { UnsafeMutablePointer(mutating: $0) }, rate: dropoutRate, seed: 0, out: nil,
                           dout: dout, dqkv: dqkv, scratch: scratch, split: PieceSplit(g.batch * g.heads, pieces: 1))
    runAttention(&job, scratchPieces: scratchPieces, threads: threads)
}

/// The arguments of one attention call, reached by the pool's workers through a pointer.
private struct AttentionJob {
    let backward: Bool
    let kernel: AttentionKernel
    let g: AttentionGeometry
    let qkv: UnsafePointer<Float>
    let probabilities: UnsafeMutablePointer<Float>
    let dropped: UnsafeMutablePointer<Float>?
    let rate: Float
    let seed: UInt64
    let out: UnsafeMutablePointer<Float>?
    let dout: UnsafePointer<Float>?
    let dqkv: UnsafeMutablePointer<Float>?
    let scratch: UnsafeMutablePointer<Float>
    var split: PieceSplit

    func run(piece: Int) {
        let s = scratch + piece * AttentionGeometry.scratchPerPiece(length: g.length)
        for pair in split.range(piece) {
            switch (kernel, backward) {
            case (.rows, false): if !rowsForwardC(pair, scratch: s) { rowsForward(pair) }
            case (.rows, true): if !rowsBackwardC(pair, scratch: s) { rowsBackward(pair, scratch: s) }
            case (.sgemm, false): sgemmForward(pair)
            case (.sgemm, true): sgemmBackward(pair, scratch: s)
            }
        }
    }

    // Pointers of pair (b, h): rows of sample b, columns of head h.
    var rowStride: Int { 3 * g.width }
    func query(_ pair: Int) -> UnsafePointer<Float> { qkv + (pair / g.heads) * g.length * rowStride + (pair % g.heads) * g.headWidth }
    func key(_ pair: Int) -> UnsafePointer<Float> { query(pair) + g.width }
    func value(_ pair: Int) -> UnsafePointer<Float> { query(pair) + 2 * g.width }
    func headOffset(_ pair: Int, rowWidth: Int) -> Int { (pair / g.heads) * g.length * rowWidth + (pair % g.heads) * g.headWidth }
    var scale: Float { 1 / Float(g.headWidth).squareRoot() }

    /// Softmax of row `p[0..<n]` in place (the row maximum subtracted), then dropout into
    /// `pd[0..<n]` when dropping.
    @inline(__always)
    func softmaxRow(_ p: UnsafeMutablePointer<Float>, _ n: Int, dropped pd: UnsafeMutablePointer<Float>?, rng: inout Xoshiro256) {
        var m = -Float.infinity
        for j in 0..<n { m = max(m, p[j]) }
        var sum: Float = 0
        for j in 0..<n { let e = expf(p[j] - m); p[j] = e; sum += e }
        let inv = 1 / sum
        for j in 0..<n { p[j] *= inv }
        if let pd {
            let keep = 1 / (1 - rate)
            for j in 0..<n { pd[j] = rng.nextUnitFloat() >= rate ? p[j] * keep : 0 }
        }
    }

    /// Whether the C row kernels (attention.c, AVX-512) can take this pair: no dropout, and
    /// the piece's scratch (T x T) holds their transposed keys or values and one row.
    var cRowsFit: Bool { dropped == nil && (g.headWidth + 1) * g.length <= AttentionGeometry.scratchPerPiece(length: g.length) }

    /// The C version of `rowsForward` where the thread runs AVX-512; false when it did nothing.
    func rowsForwardC(_ pair: Int, scratch: UnsafeMutablePointer<Float>) -> Bool {
        guard cRowsFit else { return false }
        let q = query(pair), k = key(pair), v = value(pair)
        let o = out! + headOffset(pair, rowWidth: g.width)
        return fm_attention_rows_forward(q, k, v, rowStride, o, g.width, probabilities + pair * g.length * g.length, scratch,
                                         g.length, g.headWidth, g.causal ? 1 : 0, scale) != 0
    }

    /// The C version of `rowsBackward` where the thread runs AVX-512; false when it did nothing.
    func rowsBackwardC(_ pair: Int, scratch: UnsafeMutablePointer<Float>) -> Bool {
        guard cRowsFit else { return false }
        let q = query(pair), k = key(pair), v = value(pair)
        let dq = dqkv! + headOffset(pair, rowWidth: rowStride), dk = dq + g.width, dv = dq + 2 * g.width
        let dO = dout! + headOffset(pair, rowWidth: g.width)
        return fm_attention_rows_backward(q, k, v, rowStride, dq, dk, dv, dO, g.width,
                                          probabilities + pair * g.length * g.length, scratch, g.length, g.headWidth,
                                          g.causal ? 1 : 0, scale) != 0
    }

    func rowsForward(_ pair: Int) {
        let t = g.length, d = g.headWidth, rs = rowStride
        let q = query(pair), k = key(pair), v = value(pair)
        let o = out! + headOffset(pair, rowWidth: g.width)
        let scale = scale
        var rng = Xoshiro256(seed: seed ^ UInt64(pair))
        for i in 0..<t {
            let n = g.causal ? i + 1 : t
            let p = probabilities + (pair * t + i) * t
            let qi = q + i * rs
            dots(qi, k, stride: rs, count: n, d, into: p, scale: scale)
            let pd = dropped.map { $0 + (pair * t + i) * t }
            softmaxRow(p, n, dropped: pd, rng: &rng)
            let weights = UnsafePointer(pd ?? p)
            let oi = o + i * g.width
            oi.update(repeating: 0, count: d)
            for j in 0..<n where weights[j] != 0 { axpy(weights[j], v + j * rs, oi, d) }
        }
    }

    func rowsBackward(_ pair: Int, scratch dp: UnsafeMutablePointer<Float>) {
        let t = g.length, d = g.headWidth, rs = rowStride
        let q = query(pair), k = key(pair), v = value(pair)
        let base = headOffset(pair, rowWidth: rs)
        let dq = dqkv! + base, dk = dq + g.width, dv = dq + 2 * g.width
        let dO = dout! + headOffset(pair, rowWidth: g.width)
        let scale = scale, keep = 1 / (1 - rate)
        for i in 0..<t {
            dk.advanced(by: i * rs).update(repeating: 0, count: d)
            dv.advanced(by: i * rs).update(repeating: 0, count: d)
        }
        for i in 0..<t {
            let n = g.causal ? i + 1 : t
            let p = UnsafePointer(probabilities + (pair * t + i) * t)
            let pd = dropped.map { UnsafePointer($0 + (pair * t + i) * t) }
            let weights = pd ?? p
            let doi = dO + i * g.width
            // dP = dO v^T; dV += P~^T dO.
            dots(doi, v, stride: rs, count: n, d, into: dp, scale: 1)
            for j in 0..<n where weights[j] != 0 { axpy(weights[j], doi, dv + j * rs, d) }
            if let pd { for j in 0..<n { dp[j] = pd[j] != 0 ? dp[j] * keep : 0 } }
            var r: Float = 0
            for j in 0..<n { r += dp[j] * p[j] }
            // dS = P (dP - rowsum(dP P)), times the score scale; dQ = dS K, dK += dS^T Q.
            let dqi = dq + i * rs, qi = q + i * rs
            dqi.update(repeating: 0, count: d)
            for j in 0..<n {
                let s = p[j] * (dp[j] - r) * scale
                if s != 0 {
                    axpy(s, k + j * rs, dqi, d)
                    axpy(s, qi, dk + j * rs, d)
                }
            }
        }
    }

    func sgemmForward(_ pair: Int) {
        let t = g.length, d = g.headWidth, rs = rowStride
        let p = probabilities + pair * t * t
        sgemm(transposeB: true, m: t, n: t, k: d, alpha: scale, a: query(pair), lda: rs, b: key(pair), ldb: rs, c: p, ldc: t)
        var rng = Xoshiro256(seed: seed ^ UInt64(pair))
        let pd = dropped.map { $0 + pair * t * t }
        if pd == nil, fm_attention_softmax_rows(p, t, g.causal ? 1 : 0) != 0 {
            sgemm(m: t, n: d, k: t, a: p, lda: t, b: value(pair), ldb: rs, c: out! + headOffset(pair, rowWidth: g.width), ldc: g.width)
            return
        }
        for i in 0..<t {
            let n = g.causal ? i + 1 : t
            let row = p + i * t
            softmaxRow(row, n, dropped: pd.map { $0 + i * t }, rng: &rng)
            if n < t {
                (row + n).update(repeating: 0, count: t - n)
                pd.map { ($0 + i * t + n).update(repeating: 0, count: t - n) }
            }
        }
        sgemm(m: t, n: d, k: t, a: pd ?? p, lda: t, b: value(pair), ldb: rs,
              c: out! + headOffset(pair, rowWidth: g.width), ldc: g.width)
    }

    func sgemmBackward(_ pair: Int, scratch dp: UnsafeMutablePointer<Float>) {
        let t = g.length, d = g.headWidth, rs = rowStride
        let p = UnsafePointer(probabilities + pair * t * t)
        let pd = dropped.map { UnsafePointer($0 + pair * t * t) }
        let dq = dqkv! + headOffset(pair, rowWidth: rs), dk = dq + g.width, dv = dq + 2 * g.width
        let dO = dout! + headOffset(pair, rowWidth: g.width)
        // dV = P~^T dO; dP = dO V^T.
        sgemm(transposeA: true, m: t, n: d, k: t, a: pd ?? p, lda: t, b: dO, ldb: g.width, c: dv, ldc: rs)
        sgemm(transposeB: true, m: t, n: t, k: d, a: dO, lda: g.width, b: value(pair), ldb: rs, c: dp, ldc: t)
        let keep = 1 / (1 - rate)
        // dS = P * (dP - rowsum(dP * P)): in C where the thread runs AVX-512 and no dropout.
        if pd != nil || fm_attention_softmax_backward_rows(dp, p, t, g.causal ? 1 : 0) == 0 {
            for i in 0..<t {
                let n = g.causal ? i + 1 : t
                let row = dp + i * t, pi = p + i * t
                if let pd { let di = pd + i * t; for j in 0..<n { row[j] = di[j] != 0 ? row[j] * keep : 0 } }
                var r: Float = 0
                for j in 0..<n { r += row[j] * pi[j] }
                for j in 0..<n { row[j] = pi[j] * (row[j] - r) }
                if n < t { (row + n).update(repeating: 0, count: t - n) }
            }
        }
        // dQ = dS K / sqrt(d); dK = dS^T Q / sqrt(d).
        sgemm(m: t, n: d, k: t, alpha: scale, a: dp, lda: t, b: key(pair), ldb: rs, c: dq, ldc: rs)
        sgemm(transposeA: true, m: t, n: d, k: t, alpha: scale, a: dp, lda: t, b: query(pair), ldb: rs, c: dk, ldc: rs)
    }
}

/// Splits the (sample, head) pairs into up to four pieces per thread and runs them on the
/// pool (`fm_parallel_run`, as `runPieces` does: no closure, nothing allocated).
private func runAttention(_ job: inout AttentionJob, scratchPieces: Int, threads: Int) {
    let pairs = job.g.batch * job.g.heads
    job.split = PieceSplit(pairs, pieces: min(max(1, scratchPieces), AttentionGeometry.maximumPieces(threads: threads)))
    let pieces = job.split.pieces
    withUnsafeMutablePointer(to: &job) { pointer in
        if pieces == 1 {
            pointer.pointee.run(piece: 0)
        } else if pointer.pointee.kernel == .sgemm {
            // The sgemm kernel's calls run inside the pieces: OpenBLAS single-threaded
            // meanwhile, or its threads nest in the pool's (docs/transformer.md).
            BLAS.withOpenBLASSingleThreaded {
                fm_parallel_run(pieces, Int32(threads), { context, i in
                    context!.assumingMemoryBound(to: AttentionJob.self).pointee.run(piece: i)
                }, pointer)
            }
        } else {
            fm_parallel_run(pieces, Int32(threads), { context, i in
                context!.assumingMemoryBound(to: AttentionJob.self).pointee.run(piece: i)
            }, pointer)
        }
    }
}

/// out[j] = scale * dot(x, rows + j * stride) for j in 0..<count, each dot over `n` floats:
/// four rows at a time, so that each load of x serves four products.
@inline(__always)
private func dots(_ x: UnsafePointer<Float>, _ rows: UnsafePointer<Float>, stride: Int, count: Int, _ n: Int,
                  into out: UnsafeMutablePointer<Float>, scale: Float) {
    var j = 0
    if n % 8 == 0 {
        while j + 4 <= count {
            let r0 = rows + j * stride, r1 = r0 + stride, r2 = r1 + stride, r3 = r2 + stride
            var a0 = SIMD8<Float>(repeating: 0), a1 = a0, a2 = a0, a3 = a0
            var c = 0
            while c < n {
                let xv = load8(x + c)
                a0 += xv * load8(r0 + c); a1 += xv * load8(r1 + c)
                a2 += xv * load8(r2 + c); a3 += xv * load8(r3 + c)
                c += 8
            }
            out[j] = horizontalSum(a0) * scale; out[j + 1] = horizontalSum(a1) * scale
            out[j + 2] = horizontalSum(a2) * scale; out[j + 3] = horizontalSum(a3) * scale
            j += 4
        }
    }
    while j < count { out[j] = dot(x, rows + j * stride, n) * scale; j += 1 }
}

@inline(__always)
private func horizontalSum(_ v: SIMD8<Float>) -> Float {
    let half = v.lowHalf + v.highHalf, quarter = half.lowHalf + half.highHalf
    return quarter[0] + quarter[1]
}

/// The dot product of `n` floats.
@inline(__always)
private func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    // `+` and `*` map to vector instructions; SIMD's generic `addingProduct` and `sum()` go
    // lane by lane.
    var acc = SIMD8<Float>(repeating: 0)
    var j = 0
    while j + 8 <= n {
        acc += load8(a + j) * load8(b + j)
        j += 8
    }
    var s = horizontalSum(acc)
    while j < n { s += a[j] * b[j]; j += 1 }
    return s
}

/// y[0..<n] += alpha * x[0..<n].
@inline(__always)
private func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    let a = SIMD8<Float>(repeating: alpha)
    var j = 0
    while j + 8 <= n {
        store8(load8(y + j) + a * load8(x + j), y + j)
        j += 8
    }
    while j < n { y[j] += alpha * x[j]; j += 1 }
}
