import CTensorKernels

/// Dense forward: out (B, OUT) = inp (B, IN) * weight (IN, OUT) + bias (OUT), then ReLU when
/// `relu`. Weight is stored as Keras stores it, (in, out). An own small-M GEMM in C
/// (`fm_dense_forward`; OpenBLAS packs both operands on every call, as long as it multiplies
/// at batch 32) with bias and ReLU in its last pass, output columns split across the threads.
/// Twin: `Reference.dense`.
///
/// - Parameters:
///   - inp: The input (B, IN).
///   - weight: The kernel (IN, OUT).
///   - bias: One value per output, or nil for none.
///   - out: The output (B, OUT), written.
///   - batch: Rows of the batch (B).
///   - inFeatures: Inputs per sample (IN).
///   - outFeatures: Outputs per sample (OUT).
///   - relu: Apply ReLU to the output.
package func denseForward(
    _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
    _ out: UnsafeMutablePointer<Float>, batch: Int, inFeatures: Int, outFeatures: Int, relu: Bool = false
) {
    struct Job {
        let x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?
        let y: UnsafeMutablePointer<Float>
        let batch: Int, inFeatures: Int, outFeatures: Int, relu: Int32, split: PieceSplit
    }
    // Pieces of at least ~64 K multiply-adds, or the hand-off costs more than it saves.
    let split = PieceSplit(outFeatures, pieces: 4 * BLAS.threads,
                           minimumPerPiece: max(8, 65_536 / max(1, batch * inFeatures)), alignment: 16)
    var job = Job(x: inp, w: weight, bias: bias, y: out, batch: batch, inFeatures: inFeatures,
                  outFeatures: outFeatures, relu: relu ? 1 : 0, split: split)
    runPieces(&job, pieces: split.pieces) { context, i in
        let j = context!.assumingMemoryBound(to: Job.self).pointee
        let r = j.split.range(i)
        fm_dense_forward(j.x, j.w, j.bias, j.y, j.batch, j.inFeatures, j.outFeatures, j.relu, r.lowerBound, r.upperBound)
    }
}

/// Dense backward. dout is (B, OUT). Overwrites dweight (IN, OUT) = inp^T * dout and
/// dbias (OUT) = column sums of dout; if dinp is given, dinp (B, IN) = dout * weight^T. The
/// sweep of `denseBackwardAdam` with the gradient stored instead of applied: one pass over the
/// weight rows computes both products (two sgemm calls stream the weights twice, and OpenBLAS
/// packs its operands on every call at batch 32). `scratch` holds
/// `denseBackwardAdamScratchCount` floats. Twin: `Reference.dense` gradients (the tests).
///
/// - Parameters:
///   - dout: Gradient with respect to the output (B, OUT), after the activation's backward.
///   - inp: The forward pass's input (B, IN).
///   - weight: The kernel (IN, OUT).
///   - dweight: The kernel's gradient (IN, OUT), overwritten.
///   - dbias: The bias's gradient (OUT), overwritten; nil for none.
///   - dinp: Gradient with respect to the input (B, IN), overwritten; nil when nobody reads it.
///   - scratch: Scratch of ``denseBackwardAdamScratchCount(maxBatch:outFeatures:)`` floats.
///   - batch: Rows of the batch (B).
///   - inFeatures: Inputs per sample (IN).
///   - outFeatures: Outputs per sample (OUT).
package func denseBackward(
    _ dout: UnsafePointer<Float>, _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
    dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>?,
    dinp: UnsafeMutablePointer<Float>?, scratch: UnsafeMutablePointer<Float>, batch: Int, inFeatures: Int, outFeatures: Int
) {
    denseSweep(dout, inp, weight: UnsafeMutablePointer(mutating: weight), update: .store(dweight), dbias: dbias,
               dinp: dinp, scratch: scratch, batch: batch, inFeatures: inFeatures, outFeatures: outFeatures)
}

/// Floats of scratch space `denseBackwardAdam` needs: dout transposed, batch padded to 8.
///
/// - Parameters:
///   - maxBatch: The largest batch the scratch serves.
///   - outFeatures: Outputs per sample (OUT).
/// - Returns: `OUT * (maxBatch rounded up to a multiple of 8)`.
package func denseBackwardAdamScratchCount(maxBatch: Int, outFeatures: Int) -> Int {
    outFeatures * ((maxBatch + 7) / 8 * 8)
}

/// Dense backward fused with Keras's Adam update of the weights (see `adamUpdate` for the
/// formula; `alpha` carries the bias corrections). In one sweep over the weight rows, each
/// block of rows gives its input-gradient columns dinp (B, IN) = dout * weight^T (from the
/// weights before the update; skipped when dinp is nil), then its weight gradient
/// inp^T * dout, held in registers and applied to weight, m and v at once. The weight
/// gradient is never stored: the weights and both moments stream through the cache once
/// per step instead of four times. dbias (OUT) = column sums of dout, overwritten (its update
/// is the optimiser's). `scratch` holds `denseBackwardAdamScratchCount` floats.
/// Twin: `Reference.dense` gradients + `Reference.adamUpdate` (the tests).
///
/// - Parameters:
///   - dout: Gradient with respect to the output (B, OUT), after the activation's backward.
///   - inp: The forward pass's input (B, IN).
///   - weight: The kernel (IN, OUT), updated by this step of Adam.
///   - m: Adam's first moments of the kernel, updated.
///   - v: Adam's second moments of the kernel, updated.
///   - dbias: The bias's gradient (OUT), overwritten; nil for none.
///   - dinp: Gradient with respect to the input (B, IN), overwritten; nil when nobody reads it.
///   - scratch: Scratch of ``denseBackwardAdamScratchCount(maxBatch:outFeatures:)`` floats.
///   - batch: Rows of the batch (B).
///   - inFeatures: Inputs per sample (IN).
///   - outFeatures: Outputs per sample (OUT).
///   - alpha: `lr * sqrt(1 - beta2^t) / (1 - beta1^t)` for step t.
///   - beta1: Decay of the first moment.
///   - beta2: Decay of the second moment.
///   - epsilon: Added to `sqrt(v)`.
package func denseBackwardAdam(
    _ dout: UnsafePointer<Float>, _ inp: UnsafePointer<Float>, weight: UnsafeMutablePointer<Float>,
    m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>,
    dbias: UnsafeMutablePointer<Float>?, dinp: UnsafeMutablePointer<Float>?, scratch: UnsafeMutablePointer<Float>,
    batch: Int, inFeatures: Int, outFeatures: Int, alpha: Float, beta1: Float, beta2: Float, epsilon: Float
) {
    denseSweep(dout, inp, weight: weight, update: .adam(m: m, v: v, alpha: alpha, c1: 1 - beta1, c2: 1 - beta2, epsilon: epsilon),
               dbias: dbias, dinp: dinp, scratch: scratch, batch: batch, inFeatures: inFeatures, outFeatures: outFeatures)
}

/// What the sweep does with each block's weight gradient.
private enum DenseGradientUse {
    /// Keras's Adam on the weights (c1 = 1 - beta1, c2 = 1 - beta2).
    case adam(m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, alpha: Float, c1: Float, c2: Float, epsilon: Float)
    /// Stored in this (IN, OUT) array.
    case store(UnsafeMutablePointer<Float>)
}

/// The one sweep over the weight rows behind `denseBackward` and `denseBackwardAdam`, split
/// into pieces the worker pool takes as they come free.
private func denseSweep(
    _ dout: UnsafePointer<Float>, _ inp: UnsafePointer<Float>, weight: UnsafeMutablePointer<Float>, update: DenseGradientUse,
    dbias: UnsafeMutablePointer<Float>?, dinp: UnsafeMutablePointer<Float>?, scratch: UnsafeMutablePointer<Float>,
    batch: Int, inFeatures: Int, outFeatures: Int
) {
    let padded = (batch + 7) / 8 * 8
    if dinp != nil { fm_transpose_pad(dout, batch, outFeatures, scratch, padded) }
    if let dbias { columnSums(dout, rows: batch, columns: outFeatures, into: dbias) }
    struct Job {
        let x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dyt: UnsafePointer<Float>
        let w: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>?, v: UnsafeMutablePointer<Float>?
        let dw: UnsafeMutablePointer<Float>?, dx: UnsafeMutablePointer<Float>?
        let batch: Int, inFeatures: Int, outFeatures: Int, padded: Int
        let alpha: Float, c1: Float, c2: Float, epsilon: Float, split: PieceSplit
    }
    // Pieces (24 per thread, taken as the workers come free) of at least ~64 K multiply-adds,
    // or the hand-off costs more than it saves; boundaries on the kernel's 6-row blocks.
    let split = PieceSplit(inFeatures, pieces: 24 * BLAS.threads,
                           minimumPerPiece: max(1, 65_536 / max(1, 2 * batch * outFeatures)), alignment: 6)
    var job: Job
    switch update {
    case let .adam(m, v, alpha, c1, c2, epsilon):
        job = Job(x: inp, dy: dout, dyt: scratch, w: weight, m: m, v: v, dw: nil, dx: dinp, batch: batch, inFeatures: inFeatures,
                  outFeatures: outFeatures, padded: padded, alpha: alpha, c1: c1, c2: c2, epsilon: epsilon, split: split)
    case let .store(dw):
        job = Job(x: inp, dy: dout, dyt: scratch, w: weight, m: nil, v: nil, dw: dw, dx: dinp, batch: batch, inFeatures: inFeatures,
                  outFeatures: outFeatures, padded: padded, alpha: 0, c1: 0, c2: 0, epsilon: 0, split: split)
    }
    runPieces(&job, pieces: split.pieces) { context, i in
        let j = context!.assumingMemoryBound(to: Job.self).pointee
        let r = j.split.range(i)
        if let dw = j.dw {
            fm_dense_backward(j.x, j.dy, j.dyt, j.w, dw, j.dx, j.batch, j.inFeatures, j.outFeatures, j.padded,
                              r.lowerBound, r.upperBound)
        } else {
            fm_dense_backward_adam(j.x, j.dy, j.dyt, j.w, j.m, j.v, j.dx, j.batch, j.inFeatures, j.outFeatures, j.padded,
                                   r.lowerBound, r.upperBound, j.alpha, j.c1, j.c2, j.epsilon)
        }
    }
}
