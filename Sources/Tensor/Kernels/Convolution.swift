/// Keras's padding modes. `valid`: no padding, the window stays inside the image.
/// `same`: TensorFlow's rule, output size `ceil(in / stride)`, total padding
/// `max((out - 1) * stride + kernel - in, 0)` split with the odd pixel at the bottom/right.
public enum Padding: String, Codable, Sendable, CaseIterable {
    /// No padding: windows stay inside the image. `same`: the output keeps `ceil(in / stride)`
    /// pixels, with zeros (a pool: pixels that never win) around the image.
    case valid, same

    /// Output size and the padding before the first pixel, for one spatial dimension.
    ///
    /// - Parameters:
    ///   - input: Pixels along the dimension.
    ///   - kernel: The kernel's (or pool's) extent along it.
    ///   - stride: The step between windows.
    /// - Returns: The output's pixels (0 when a `valid` window does not fit) and the padding
    ///   before the first input pixel.
    public func output(input: Int, kernel: Int, stride: Int) -> (size: Int, padBefore: Int) {
        switch self {
        case .valid:
            return (input >= kernel ? (input - kernel) / stride + 1 : 0, 0)
        case .same:
            let out = (input + stride - 1) / stride
            let total = max((out - 1) * stride + kernel - input, 0)
            return (out, total / 2)
        }
    }
}

/// The shapes of one batched 2-D convolution (NHWC input, `[KH*KW*Cin, Cout]` kernel).
public struct ConvGeometry: Sendable, Equatable {
    /// Images in the batch (B).
    public private(set) var batch: Int
    /// The input image: H, W, Cin.
    public let height, width, inChannels: Int
    /// The kernel (KH, KW), the strides, and the output channels (Cout).
    public let kernelHeight, kernelWidth, strideHeight, strideWidth, outChannels: Int
    /// The output image (OH, OW) and the padding before the first row and column.
    public let outHeight, outWidth, padTop, padLeft: Int

    /// The geometry of a convolution; the output size and padding follow from `padding`.
    ///
    /// - Parameters:
    ///   - batch: Images per call (B).
    ///   - height: Input rows (H).
    ///   - width: Input columns (W).
    ///   - inChannels: Input channels (Cin).
    ///   - kernelHeight: Kernel rows (KH).
    ///   - kernelWidth: Kernel columns (KW).
    ///   - outChannels: Filters (Cout).
    ///   - strideHeight: Step between output rows.
    ///   - strideWidth: Step between output columns.
    ///   - padding: Keras's padding mode.
    public init(
        batch: Int, height: Int, width: Int, inChannels: Int,
        kernelHeight: Int, kernelWidth: Int, outChannels: Int,
        strideHeight: Int = 1, strideWidth: Int = 1, padding: Padding = .valid
    ) {
        self.batch = batch
        self.height = height; self.width = width; self.inChannels = inChannels
        self.kernelHeight = kernelHeight; self.kernelWidth = kernelWidth; self.outChannels = outChannels
        self.strideHeight = strideHeight; self.strideWidth = strideWidth
        (outHeight, padTop) = padding.output(input: height, kernel: kernelHeight, stride: strideHeight)
        (outWidth, padLeft) = padding.output(input: width, kernel: kernelWidth, stride: strideWidth)
    }

    /// Rows of the im2col matrix: one per output pixel of the batch (M of the GEMMs).
    public var patches: Int { batch * outHeight * outWidth }
    /// Columns of the im2col matrix: one patch, ordered (kh, kw, cin) (K of the forward GEMM).
    public var patchSize: Int { kernelHeight * kernelWidth * inChannels }
    /// Floats of the input: B*H*W*Cin.
    public var inputCount: Int { batch * height * width * inChannels }
    /// Floats of the output: B*OH*OW*Cout.
    public var outputCount: Int { patches * outChannels }
    /// Floats of the kernel: KH*KW*Cin*Cout.
    public var weightCount: Int { patchSize * outChannels }

    /// The same geometry for another batch size.
    ///
    /// - Parameter b: Images per call.
    /// - Returns: This geometry with `batch` replaced.
    public func with(batch b: Int) -> ConvGeometry {
        var g = self
        g.batch = b
        return g
    }
}

/// inp is (B,H,W,Cin); cols is (B*OH*OW, KH*KW*Cin) with each row ordered (kh, kw, cin).
/// Pixels outside the image (padding) are zeros.
///
/// - Parameters:
///   - inp: The input images (B, H, W, Cin).
///   - cols: The patch matrix (B*OH*OW, KH*KW*Cin), written.
///   - g: The convolution.
package func im2col(_ inp: UnsafePointer<Float>, _ cols: UnsafeMutablePointer<Float>, _ g: ConvGeometry) {
    let c = g.inChannels
    let rowLength = g.patchSize
    for b in 0..<g.batch {
        let image = inp + b * g.height * g.width * c
        for oy in 0..<g.outHeight {
            for ox in 0..<g.outWidth {
                var dst = cols + ((b * g.outHeight + oy) * g.outWidth + ox) * rowLength
                let y0 = oy * g.strideHeight - g.padTop
                let x0 = ox * g.strideWidth - g.padLeft
                for ky in 0..<g.kernelHeight {
                    let iy = y0 + ky
                    if iy < 0 || iy >= g.height {
                        dst.update(repeating: 0, count: g.kernelWidth * c)
                        dst += g.kernelWidth * c
                        continue
                    }
                    let row = image + iy * g.width * c
                    if x0 >= 0 && x0 + g.kernelWidth <= g.width {
                        // The whole kernel row is inside: one contiguous run of KW*Cin floats.
                        dst.update(from: row + x0 * c, count: g.kernelWidth * c)
                        dst += g.kernelWidth * c
                        continue
                    }
                    for kx in 0..<g.kernelWidth {
                        let ix = x0 + kx
                        if ix < 0 || ix >= g.width {
                            dst.update(repeating: 0, count: c)
                        } else {
                            dst.update(from: row + ix * c, count: c)
                        }
                        dst += c
                    }
                }
            }
        }
    }
}

/// The adjoint of `im2col`: dinp (B,H,W,Cin) = sum over patches of dcols (B*OH*OW, KH*KW*Cin).
/// dinp is overwritten.
///
/// - Parameters:
///   - dcols: Gradient with respect to the patch matrix (B*OH*OW, KH*KW*Cin).
///   - dinp: Gradient with respect to the input (B, H, W, Cin), overwritten.
///   - g: The convolution.
package func col2im(_ dcols: UnsafePointer<Float>, _ dinp: UnsafeMutablePointer<Float>, _ g: ConvGeometry) {
    let c = g.inChannels
    dinp.update(repeating: 0, count: g.inputCount)
    for b in 0..<g.batch {
        let image = dinp + b * g.height * g.width * c
        for oy in 0..<g.outHeight {
            for ox in 0..<g.outWidth {
                var src = dcols + ((b * g.outHeight + oy) * g.outWidth + ox) * g.patchSize
                let y0 = oy * g.strideHeight - g.padTop
                let x0 = ox * g.strideWidth - g.padLeft
                for ky in 0..<g.kernelHeight {
                    let iy = y0 + ky
                    if iy < 0 || iy >= g.height { src += g.kernelWidth * c; continue }
                    let row = image + iy * g.width * c
                    for kx in 0..<g.kernelWidth {
                        let ix = x0 + kx
                        if ix >= 0 && ix < g.width {
                            let d = row + ix * c
                            for ci in 0..<c { d[ci] += src[ci] }
                        }
                        src += c
                    }
                }
            }
        }
    }
}

/// Convolution forward as one GEMM: out (B*OH*OW, Cout) = cols (B*OH*OW, K) * weight (K, Cout)
/// + bias, then ReLU when `relu`. cols = im2col(inp) is written into the caller's workspace
/// and kept for backward. Small K (the first layer of an image model) goes through the
/// register-blocked kernel, with bias and ReLU fused into its store; otherwise sgemm and one
/// fused bias(+ReLU) pass.
///
/// - Parameters:
///   - inp: The input images (B, H, W, Cin).
///   - weight: The kernel (KH*KW*Cin, Cout), Keras's (kh, kw, cin, cout) flattened.
///   - bias: One value per output channel.
///   - out: The output (B*OH*OW, Cout), that is (B, OH, OW, Cout), written.
///   - cols: The patch matrix (B*OH*OW, KH*KW*Cin), written and kept for backward.
///   - g: The convolution.
///   - relu: Apply ReLU to the output.
package func conv2dForward(
    _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
    _ out: UnsafeMutablePointer<Float>, cols: UnsafeMutablePointer<Float>, _ g: ConvGeometry, relu: Bool = false
) {
    im2col(inp, cols, g)
    if smallKGEMMApplies(k: g.patchSize, n: g.outChannels) {
        smallKGEMMBias(cols, weight, bias: bias, out, m: g.patches, n: g.outChannels, k: g.patchSize, relu: relu)
        return
    }
    sgemm(m: g.patches, n: g.outChannels, k: g.patchSize, a: cols, b: weight, c: out)
    if relu {
        biasReLUForward(out, bias, rows: g.patches, columns: g.outChannels)
    } else {
        biasForward(out, bias, rows: g.patches, columns: g.outChannels)
    }
}

/// Floats of scratch space `conv2dBackward` needs (per-thread partial weight gradients).
///
/// - Parameter g: The convolution.
/// - Returns: `reductionParts * (K*Cout + Cout)`.
package func conv2dBackwardWorkspaceCount(_ g: ConvGeometry) -> Int {
    reductionParts * (g.patchSize * g.outChannels + g.outChannels)
}

/// Convolution backward. dout is (B*OH*OW, Cout) (the gradient after the activation's own
/// backward); cols is the forward's im2col. Writes dweight (K, Cout) = cols^T * dout and
/// dbias (Cout) = column sums of dout, both overwritten. If `dinp` is given (not the first
/// layer), dcols = dout * weight^T goes through the workspace `dcols` and col2im into dinp.
/// `workspace` holds `conv2dBackwardWorkspaceCount(g)` floats.
///
/// - Parameters:
///   - dout: Gradient with respect to the output (B*OH*OW, Cout).
///   - cols: The forward pass's patch matrix.
///   - weight: The kernel (K, Cout).
///   - dweight: The kernel's gradient (K, Cout), overwritten.
///   - dbias: The bias's gradient (Cout), overwritten.
///   - dinp: Gradient with respect to the input (B, H, W, Cin), overwritten; nil for the
///     first layer, whose input gradient nobody reads.
///   - dcols: Scratch for the patch matrix's gradient; needed with `dinp`.
///   - workspace: Scratch for the partial weight gradients.
///   - g: The convolution.
package func conv2dBackward(
    _ dout: UnsafePointer<Float>, cols: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
    dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>,
    dinp: UnsafeMutablePointer<Float>?, dcols: UnsafeMutablePointer<Float>?,
    workspace: UnsafeMutablePointer<Float>, _ g: ConvGeometry
) {
    if smallKGEMMApplies(k: g.patchSize, n: g.outChannels) {
        smallKGEMMWeightGradient(cols, dout, dw: dweight, dbias: dbias, m: g.patches, n: g.outChannels,
                                 k: g.patchSize, partials: workspace)
    } else {
        sgemm(transposeA: true, m: g.patchSize, n: g.outChannels, k: g.patches, a: cols, b: dout, c: dweight)
        columnSums(dout, rows: g.patches, columns: g.outChannels, into: dbias)
    }
    if let dinp, let dcols {
        sgemm(transposeB: true, m: g.patches, n: g.patchSize, k: g.outChannels, a: dout, b: weight, c: dcols)
        col2im(dcols, dinp, g)
    }
}

/// out[j] = sum_i m[i, j] for m (rows, columns); out is overwritten. Strips of 32 columns are
/// split over the pool; each column is summed over the rows in order (the same values however
/// the strips are split), 8 lanes at a time with the rows in the inner loop. Twin: the plain
/// row loop in the tests.
///
/// - Parameters:
///   - m: The (rows, columns) matrix.
///   - rows: Rows of `m`.
///   - columns: Columns of `m`.
///   - out: The column sums, overwritten.
package func columnSums(
    _ m: UnsafePointer<Float>, rows: Int, columns: Int, into out: UnsafeMutablePointer<Float>
) {
    struct Job { let m: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, rows: Int, columns: Int, split: PieceSplit }
    let strips = (columns + 31) / 32
    // Pieces of at least ~256 K additions: below that the hand-off costs more than it saves.
    let split = PieceSplit(strips, pieces: 4 * BLAS.threads, minimumPerPiece: max(1, 8_192 / max(1, rows)))
    var job = Job(m: m, out: out, rows: rows, columns: columns, split: split)
    runPieces(&job, pieces: split.pieces) { context, i in
        let j = context!.assumingMemoryBound(to: Job.self).pointee
        for strip in j.split.range(i) {
            let c0 = strip * 32, c1 = min(c0 + 32, j.columns)
            var c = c0
            while c + 16 <= c1 {
                var a = SIMD8<Float>(), b = SIMD8<Float>()
                for r in 0..<j.rows {
                    let p = j.m + r * j.columns + c
                    a += load8(p); b += load8(p + 8)
                }
                store8(a, j.out + c); store8(b, j.out + c + 8)
                c += 16
            }
            while c + 8 <= c1 {
                var a = SIMD8<Float>()
                for r in 0..<j.rows { a += load8(j.m + r * j.columns + c) }
                store8(a, j.out + c)
                c += 8
            }
            while c < c1 {
                var a: Float = 0
                for r in 0..<j.rows { a += j.m[r * j.columns + c] }
                j.out[c] = a
                c += 1
            }
        }
    }
}
