/// Dense forward: out (B, OUT) = inp (B, IN) * weight (IN, OUT) + bias (OUT), then ReLU when
/// `relu` (fused with the bias pass). Weight is stored as Keras stores it, (in, out).
public func denseForward(
    _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
    _ out: UnsafeMutablePointer<Float>, batch: Int, inFeatures: Int, outFeatures: Int, relu: Bool = false
) {
    sgemm(m: batch, n: outFeatures, k: inFeatures, a: inp, b: weight, c: out)
    if let bias, relu {
        biasReLUForward(out, bias, rows: batch, columns: outFeatures)
    } else if let bias {
        biasForward(out, bias, rows: batch, columns: outFeatures)
    } else if relu {
        reluForward(out, out, count: batch * outFeatures)
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
