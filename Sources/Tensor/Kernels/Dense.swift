import CTensorKernels

/// Dense forward: out (B, OUT) = inp (B, IN) * weight (IN, OUT) + bias (OUT), then ReLU when
/// `relu`. Weight is stored as Keras stores it, (in, out). An own small-M GEMM in C
/// (`fm_dense_forward`; OpenBLAS packs both operands on every call, as long as it multiplies
/// at batch 32) with bias and ReLU in its last pass, output columns split across the threads.
/// Twin: `Reference.dense`.
public func denseForward(
    _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
    _ out: UnsafeMutablePointer<Float>, batch: Int, inFeatures: Int, outFeatures: Int, relu: Bool = false
) {
    // Pieces of at least ~64 K multiply-adds, or the hand-off costs more than it saves.
    let columnsPerPart = max(8, 65_536 / max(1, batch * inFeatures))
    parallelRanges(outFeatures, minimumPerPart: columnsPerPart, alignment: 16, chunksPerPart: 4) { r in
        fm_dense_forward(inp, weight, bias, out, batch, inFeatures, outFeatures, relu ? 1 : 0, r.lowerBound, r.upperBound)
    }
}

/// Dense backward. dout is (B, OUT). Overwrites dweight (IN, OUT) = inp^T * dout and
/// dbias (OUT) = column sums of dout; if dinp is given, dinp (B, IN) = dout * weight^T.
public func denseBackward(
    _ dout: UnsafePointer<Float>, _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
    dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>?,
    dinp: UnsafeMutablePointer<Float>?, batch: Int, inFeatures: Int, outFeatures: Int
) {
    sgemm(transposeA: true, m: inFeatures, n: outFeatures, k: batch, a: inp, b: dout, c: dweight)
    if let dbias { columnSums(dout, rows: batch, columns: outFeatures, into: dbias) }
    if let dinp {
        sgemm(transposeB: true, m: batch, n: inFeatures, k: outFeatures, a: dout, b: weight, c: dinp)
    }
}

/// Floats of scratch space `denseBackwardAdam` needs: dout transposed, batch padded to 8.
public func denseBackwardAdamScratchCount(maxBatch: Int, outFeatures: Int) -> Int {
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
public func denseBackwardAdam(
    _ dout: UnsafePointer<Float>, _ inp: UnsafePointer<Float>, weight: UnsafeMutablePointer<Float>,
    m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>,
    dbias: UnsafeMutablePointer<Float>?, dinp: UnsafeMutablePointer<Float>?, scratch: UnsafeMutablePointer<Float>,
    batch: Int, inFeatures: Int, outFeatures: Int, alpha: Float, beta1: Float, beta2: Float, epsilon: Float
) {
    let padded = (batch + 7) / 8 * 8
    if dinp != nil { fm_transpose_pad(dout, batch, outFeatures, scratch, padded) }
    if let dbias { columnSums(dout, rows: batch, columns: outFeatures, into: dbias) }
    let c1 = 1 - beta1, c2 = 1 - beta2
    // Pieces of at least ~64 K multiply-adds, or the hand-off costs more than it saves.
    let rowsPerPart = max(1, 65_536 / max(1, 2 * batch * outFeatures))
    parallelRanges(inFeatures, minimumPerPart: rowsPerPart, alignment: 6, chunksPerPart: 24) { r in
        fm_dense_backward_adam(inp, dout, scratch, weight, m, v, dinp, batch, inFeatures, outFeatures, padded,
                               r.lowerBound, r.upperBound, alpha, c1, c2, epsilon)
    }
}
