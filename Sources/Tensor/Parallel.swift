import CTensorKernels

/// Splits `0..<count` into `parts` contiguous ranges and runs them as `parallelPieces` does;
/// used by kernels between BLAS calls, never inside one, so there is one level of threading
/// at a time. `parts` follows the BLAS thread count (`--threads`).
///
/// - Parameters:
///   - count: The length of the range to split.
///   - parts: The most ranges; default the BLAS thread count.
///   - minimumPerPart: The fewest elements per range: below twice this, one range runs alone.
///   - body: Work on one range; ranges are disjoint and may run at the same time.
@inline(__always)
package func parallelRanges(_ count: Int, parts: Int = BLAS.threads, minimumPerPart: Int = 4096,
                           _ body: (Range<Int>) -> Void) {
    parallelPieces(count, pieces: parts, minimumPerPiece: minimumPerPart) { _, r in body(r) }
}

/// Splits `0..<count` into at most `pieces` contiguous ranges of at least `minimumPerPiece`
/// (boundaries at multiples of `alignment`, the last range taking the remainder) and runs
/// `body(index, range)` for each on the calling thread and `BLAS.threads - 1` persistent
/// workers (`fm_parallel_run`), which take the next piece as they come free. The workers
/// spin briefly between kernels instead of sleeping, so a training step's kernels do not
/// each pay a thread wake-up. The pool allocates nothing per call, but
/// `withoutActuallyEscaping` boxes the closure (one 32-byte allocation a call); the training
/// step's kernels use `runPieces`, which needs no closure. One piece runs on the calling thread.
///
/// - Parameters:
///   - count: The length of the range to split.
///   - pieces: The most pieces.
///   - minimumPerPiece: The fewest elements per piece.
///   - alignment: Piece boundaries fall on multiples of this (a kernel's block size).
///   - body: Work on one piece, given its index and range; pieces are disjoint and may run at
///     the same time. Returns when every piece has run.
package func parallelPieces(_ count: Int, pieces: Int, minimumPerPiece: Int = 1, alignment: Int = 1,
                           _ body: (Int, Range<Int>) -> Void) {
    let split = PieceSplit(count, pieces: pieces, minimumPerPiece: minimumPerPiece, alignment: alignment)
    if split.pieces == 1 {
        body(0, 0..<count)
        return
    }
    // The pieces write disjoint ranges of caller-owned buffers, so running `body` on several
    // threads at once is safe even though the compiler cannot prove it.
    withoutActuallyEscaping(body) { body in
        var job = PieceJob(split: split, body: body)
        withUnsafeMutablePointer(to: &job) { pointer in
            fm_parallel_run(split.pieces, Int32(BLAS.threads), { context, i in
                context!.assumingMemoryBound(to: PieceJob.self).pointee.run(i)
            }, pointer)
        }
    }
}

/// `0..<count` cut into `pieces` contiguous ranges, boundaries at multiples of `alignment`
/// (the last range takes the remainder): what `parallelPieces` and `runPieces` hand out.
package struct PieceSplit: Sendable {
    /// The length of the range split, the number of pieces (at least 1), and the multiple
    /// that boundaries fall on.
    package let count: Int, pieces: Int, alignment: Int

    /// At most `pieces` ranges of at least `minimumPerPiece`.
    ///
    /// - Parameters:
    ///   - count: The length of the range to split.
    ///   - pieces: The most pieces.
    ///   - minimumPerPiece: The fewest elements per piece: fewer pieces when `count` is small.
    ///   - alignment: Boundaries fall on multiples of this.
    package init(_ count: Int, pieces: Int, minimumPerPiece: Int = 1, alignment: Int = 1) {
        self.count = count
        self.pieces = max(1, min(pieces, count / max(1, minimumPerPiece)))
        self.alignment = alignment
    }

    /// The pieces of a weight-gradient reduction: four per BLAS thread, at most
    /// `reductionParts` (one partial sum each, see `accumulateInParts`).
    static func reduction(_ count: Int, minimumPerPiece: Int) -> PieceSplit {
        PieceSplit(count, pieces: min(reductionParts, 4 * BLAS.threads), minimumPerPiece: minimumPerPiece)
    }

    /// The range of one piece.
    ///
    /// - Parameter i: The piece, in `0..<pieces`.
    /// - Returns: Its contiguous range of `0..<count`; the last piece takes the remainder.
    package func range(_ i: Int) -> Range<Int> { bound(i)..<bound(i + 1) }
    func bound(_ i: Int) -> Int { i == pieces ? count : count * i / pieces / alignment * alignment }
}

/// `parallelPieces` without a closure, for the kernels of the training step: `body` is a C
/// function (a closure literal that captures nothing) that finds its arguments in `job`,
/// which the workers reach through a pointer, so a call allocates nothing at all.
///
/// - Parameters:
///   - job: The arguments of every piece, read by `body` through its first argument.
///   - pieces: The number of pieces; 1 runs `body` on the calling thread only.
///   - body: A C function `(job, piece index)`; returns when every piece has run.
@inline(__always)
package func runPieces<Job>(_ job: inout Job, pieces: Int,
                           _ body: @convention(c) (UnsafeMutableRawPointer?, Int) -> Void) {
    withUnsafeMutablePointer(to: &job) { pointer in
        if pieces == 1 {
            body(pointer, 0)
        } else {
            fm_parallel_run(pieces, Int32(BLAS.threads), body, pointer)
        }
    }
}

/// One `parallelPieces` call, reached by the workers through a pointer.
private struct PieceJob {
    let split: PieceSplit
    let body: (Int, Range<Int>) -> Void

    func run(_ i: Int) { body(i, split.range(i)) }
}

/// The most partial sums `accumulateInParts` keeps (and so the most pieces it splits into).
package let reductionParts = 8

/// A reduction over `0..<count` split into up to `reductionParts` pieces (four per BLAS
/// thread), which the workers take as they come free, so a core stalled by the host delays
/// one piece, not half the work. Each piece adds into its own zeroed accumulator of
/// `weightCount + biasCount` floats laid out [weights, bias] (`partials` holds
/// `reductionParts` of them); then the pieces' sums overwrite `weights` and `bias`. Used by
/// the weight gradients, whose long dimension is the sum.
func accumulateInParts(
    _ count: Int, minimumPerPart: Int, partials: UnsafeMutablePointer<Float>,
    weights: UnsafeMutablePointer<Float>, weightCount: Int, bias: UnsafeMutablePointer<Float>, biasCount: Int,
    _ body: (Range<Int>, UnsafeMutablePointer<Float>) -> Void
) {
    let size = weightCount + biasCount
    let split = PieceSplit.reduction(count, minimumPerPiece: minimumPerPart)
    partials.update(repeating: 0, count: split.pieces * size)
    parallelPieces(count, pieces: split.pieces) { index, range in
        body(range, partials + size * index)
    }
    sumPartials(partials, pieces: split.pieces, weights: weights, weightCount: weightCount, bias: bias, biasCount: biasCount)
}

/// weights and bias = the sums of `pieces` accumulators laid out [weights, bias] one after
/// another in `partials`.
func sumPartials(_ partials: UnsafeMutablePointer<Float>, pieces: Int, weights: UnsafeMutablePointer<Float>,
                 weightCount: Int, bias: UnsafeMutablePointer<Float>, biasCount: Int) {
    let size = weightCount + biasCount
    for i in 0..<weightCount {
        var s: Float = 0
        for piece in 0..<pieces { s += partials[piece * size + i] }
        weights[i] = s
    }
    for j in 0..<biasCount {
        var s: Float = 0
        for piece in 0..<pieces { s += partials[piece * size + weightCount + j] }
        bias[j] = s
    }
}

@inline(__always) func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always) func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
}
