/// The shapes of one batched 2-D max-pool (NHWC).
public struct PoolGeometry: Sendable, Equatable {
    /// Images in the batch (B).
    public private(set) var batch: Int
    /// The input image: H, W, C.
    public let height, width, channels: Int
    /// The window and the strides.
    public let poolHeight, poolWidth, strideHeight, strideWidth: Int
    /// The output image (OH, OW) and the padding before the first row and column.
    public let outHeight, outWidth, padTop, padLeft: Int

    /// The geometry of a max-pool; the output size and padding follow from `padding`.
    ///
    /// - Parameters:
    ///   - batch: Images per call (B).
    ///   - height: Input rows (H).
    ///   - width: Input columns (W).
    ///   - channels: Channels (C), the same in and out.
    ///   - poolHeight: Window rows.
    ///   - poolWidth: Window columns.
    ///   - strideHeight: Step between output rows (Keras: the window's rows).
    ///   - strideWidth: Step between output columns (Keras: the window's columns).
    ///   - padding: Keras's padding mode.
    public init(
        batch: Int, height: Int, width: Int, channels: Int,
        poolHeight: Int, poolWidth: Int, strideHeight: Int, strideWidth: Int,
        padding: Padding = .valid
    ) {
        self.batch = batch
        self.height = height; self.width = width; self.channels = channels
        self.poolHeight = poolHeight; self.poolWidth = poolWidth
        self.strideHeight = strideHeight; self.strideWidth = strideWidth
        (outHeight, padTop) = padding.output(input: height, kernel: poolHeight, stride: strideHeight)
        (outWidth, padLeft) = padding.output(input: width, kernel: poolWidth, stride: strideWidth)
    }

    /// Floats of the input: B*H*W*C.
    public var inputCount: Int { batch * height * width * channels }
    /// Floats of the output: B*OH*OW*C.
    public var outputCount: Int { batch * outHeight * outWidth * channels }

    /// The same geometry for another batch size.
    ///
    /// - Parameter b: Images per call.
    /// - Returns: This geometry with `batch` replaced.
    public func with(batch b: Int) -> PoolGeometry {
        var g = self
        g.batch = b
        return g
    }
}

/// inp is (B,H,W,C), out is (B,OH,OW,C). argmax[i] is the flat index into inp of the
/// maximum that out[i] took (the first one on ties, as TensorFlow), used by backward.
/// Padded pixels never win (they count as -infinity).
///
/// - Parameters:
///   - inp: The input images (B, H, W, C).
///   - out: The pooled output (B, OH, OW, C), written.
///   - argmax: For each output element, the flat index of its winner in `inp`, written.
///   - g: The pool.
package func maxPoolForward(
    _ inp: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
    argmax: UnsafeMutablePointer<Int32>, _ g: PoolGeometry
) {
    if g.poolHeight == 2, g.poolWidth == 2, g.strideHeight == 2, g.strideWidth == 2,
       g.padTop == 0, g.padLeft == 0, g.channels % 8 == 0 {
        maxPool2x2Forward(inp, out, argmax: argmax, g)
        return
    }
    let c = g.channels
    var o = 0
    for b in 0..<g.batch {
        let base = b * g.height * g.width * c
        for oy in 0..<g.outHeight {
            let y0 = max(oy * g.strideHeight - g.padTop, 0)
            let y1 = min(oy * g.strideHeight - g.padTop + g.poolHeight, g.height)
            for ox in 0..<g.outWidth {
                let x0 = max(ox * g.strideWidth - g.padLeft, 0)
                let x1 = min(ox * g.strideWidth - g.padLeft + g.poolWidth, g.width)
                // First window pixel initialises, the rest compare channel-wise (contiguous).
                let first = base + (y0 * g.width + x0) * c
                for ci in 0..<c { out[o + ci] = inp[first + ci]; argmax[o + ci] = Int32(first + ci) }
                for y in y0..<y1 {
                    for x in x0..<x1 {
                        let p = base + (y * g.width + x) * c
                        for ci in 0..<c where inp[p + ci] > out[o + ci] {
                            out[o + ci] = inp[p + ci]
                            argmax[o + ci] = Int32(p + ci)
                        }
                    }
                }
                o += c
            }
        }
    }
}

/// The common 2x2, stride 2, unpadded pool with C a multiple of 8: four contiguous rows
/// of C channels per window, compared 8 channels at a time. Ties keep the first pixel in
/// scan order, as the general kernel does.
func maxPool2x2Forward(
    _ inp: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
    argmax: UnsafeMutablePointer<Int32>, _ g: PoolGeometry
) {
    let c = g.channels
    let rowStride = g.width * c
    let lane = SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7)
    var o = 0
    for b in 0..<g.batch {
        let base = b * g.height * rowStride
        for oy in 0..<g.outHeight {
            for ox in 0..<g.outWidth {
                let p00 = base + (2 * oy) * rowStride + 2 * ox * c
                for c0 in stride(from: 0, to: c, by: 8) {
                    var best = load8(inp + p00 + c0)
                    var index = SIMD8<Int32>(repeating: Int32(p00 + c0)) &+ lane
                    @inline(__always) func visit(_ p: Int) {
                        let v = load8(inp + p + c0)
                        let wins = v .> best
                        best.replace(with: v, where: wins)
                        index.replace(with: SIMD8<Int32>(repeating: Int32(p + c0)) &+ lane, where: wins)
                    }
                    visit(p00 + c)
                    visit(p00 + rowStride)
                    visit(p00 + rowStride + c)
                    store8(best, out + o + c0)
                    UnsafeMutableRawPointer(argmax + o + c0).storeBytes(of: index, as: SIMD8<Int32>.self)
                }
                o += c
            }
        }
    }
}

/// dinp (B,H,W,C) is overwritten: each dout element goes to the input that won its window.
/// With `reluMask`, elements whose pooled output is not positive pass no gradient: that is
/// the ReLU's backward of the layer below (whose output fed this pool) folded into this
/// pass, since a window's max is positive exactly when the ReLU let its winner through.
///
/// - Parameters:
///   - dout: Gradient with respect to the pooled output (B, OH, OW, C).
///   - argmax: The forward pass's winners.
///   - dinp: Gradient with respect to the input (B, H, W, C), overwritten.
///   - g: The pool.
///   - pooled: The forward pass's output, to apply the ReLU mask of the layer below; nil for none.
package func maxPoolBackward(
    _ dout: UnsafePointer<Float>, argmax: UnsafePointer<Int32>,
    _ dinp: UnsafeMutablePointer<Float>, _ g: PoolGeometry,
    reluMask pooled: UnsafePointer<Float>? = nil
) {
    dinp.update(repeating: 0, count: g.inputCount)
    if let pooled {
        for i in 0..<g.outputCount { dinp[Int(argmax[i])] += pooled[i] > 0 ? dout[i] : 0 }
    } else {
        for i in 0..<g.outputCount { dinp[Int(argmax[i])] += dout[i] }
    }
}
