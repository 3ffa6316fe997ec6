import CTensorKernels

/// The first block of an image model fused: Conv2D (stride 1, valid, ReLU) followed by a
/// 2x2 max-pool with stride 2, computed straight from the input image. Neither the im2col
/// matrix nor the convolution's output (B, OH, OW, Cout) is ever written: forward keeps
/// only the pooled output and, per pooled value, which of the 4 window positions won;
/// backward rebuilds the weight gradient from those. For the reference CNN this skips
/// 0.8 MB of im2col and 2.7 MB of activations per batch, written and read back.
///
/// The loops are in C (CTensorKernels/conv_relu_pool.c), compiled for AVX2+FMA and for the
/// baseline and chosen at run time. Twins: `conv2dForward` + `maxPoolForward`, and
/// `maxPoolBackward(reluMask:)` + `conv2dBackward`, through the tests (equal to rounding:
/// FMA rounds once where the twins round twice).

/// Whether the fused path applies to this convolution and pool.
///
/// - Parameters:
///   - c: The convolution: stride 1, no padding, K = KH*KW*Cin <= 32, Cout a multiple of 8.
///   - p: The pool over its output: 2x2, stride 2, no padding, the same channels.
/// - Returns: True when both fit the fused kernels.
package func convReLUPoolApplies(_ c: ConvGeometry, _ p: PoolGeometry) -> Bool {
    c.strideHeight == 1 && c.strideWidth == 1 && c.padTop == 0 && c.padLeft == 0
        && c.outHeight == c.height - c.kernelHeight + 1 && c.outWidth == c.width - c.kernelWidth + 1
        && p.poolHeight == 2 && p.poolWidth == 2 && p.strideHeight == 2 && p.strideWidth == 2
        && p.padTop == 0 && p.padLeft == 0 && p.height == c.outHeight && p.width == c.outWidth
        && p.channels == c.outChannels && c.outChannels % 8 == 0 && c.patchSize <= 32
}

/// Offsets of the K = KH*KW*Cin patch elements from a patch's top-left input element,
/// in im2col order (kh, kw, cin). `offsets` holds patchSize Ints.
///
/// - Parameters:
///   - g: The convolution.
///   - offsets: `g.patchSize` element offsets into the NHWC input, written.
package func convPatchOffsets(_ g: ConvGeometry, into offsets: UnsafeMutablePointer<Int>) {
    var k = 0
    for ky in 0..<g.kernelHeight {
        for kx in 0..<g.kernelWidth {
            for ci in 0..<g.inChannels {
                offsets[k] = (ky * g.width + kx) * g.inChannels + ci
                k += 1
            }
        }
    }
}

/// inp (B,H,W,Cin), weight (K, Cout), bias (Cout) -> pooled (B,PH,PW,Cout) =
/// max over each 2x2 window of relu(conv + bias); winner (B,PH,PW,Cout) = the window
/// position 0...3 (row-major, first on ties) that the max came from. Each broadcast input
/// value feeds 8 channels at a time, and each patch is read once per window position.
///
/// - Parameters:
///   - inp: The input images (B, H, W, Cin).
///   - weight: The kernel (K, Cout).
///   - bias: One value per output channel.
///   - pooled: The pooled output (B, PH, PW, Cout), written.
///   - winner: The winning window position 0...3 of each pooled value, written.
///   - offsets: The patch offsets from ``convPatchOffsets(_:into:)``.
///   - c: The convolution, with the batch size of this call.
///   - p: The pool, with the same batch size.
package func convReLUPoolForward(
    _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
    pooled: UnsafeMutablePointer<Float>, winner: UnsafeMutablePointer<Int32>,
    offsets: UnsafePointer<Int>, _ c: ConvGeometry, _ p: PoolGeometry
) {
    var job = ConvReLUPoolJob(inp: inp, weight: weight, bias: bias, pooled: pooled, winner: winner, offsets: offsets,
                              c: c, p: p, split: PieceSplit(p.batch * p.outHeight * p.outWidth, pieces: 4 * BLAS.threads,
                                                            minimumPerPiece: 256))
    runPieces(&job, pieces: job.split.pieces) { context, i in
        let j = context!.assumingMemoryBound(to: ConvReLUPoolJob.self).pointee
        let r = j.split.range(i)
        fm_conv_relu_pool_forward(j.inp, j.weight, j.bias, j.pooled, j.winner, j.offsets, j.c.patchSize, j.c.outChannels,
                                  j.c.height, j.c.width, j.c.inChannels, j.p.outHeight, j.p.outWidth,
                                  r.lowerBound, r.upperBound)
    }
}

/// The arguments of one fused-block kernel call, for the workers (`runPieces`).
private struct ConvReLUPoolJob {
    let inp: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>
    let pooled: UnsafeMutablePointer<Float>, winner: UnsafeMutablePointer<Int32>
    let offsets: UnsafePointer<Int>, c: ConvGeometry, p: PoolGeometry, split: PieceSplit
}

/// The arguments of one weight-gradient call; piece i adds into partials + i * (K*N + N).
private struct ConvReLUPoolGradientJob {
    let inp: UnsafePointer<Float>, dpooled: UnsafePointer<Float>, pooled: UnsafePointer<Float>
    let winner: UnsafePointer<Int32>, offsets: UnsafePointer<Int>, partials: UnsafeMutablePointer<Float>
    let c: ConvGeometry, p: PoolGeometry, split: PieceSplit
}

/// Backward of `convReLUPoolForward` for the weights: dpooled (B,PH,PW,Cout) flows to the
/// winning position of each window when the pooled value is positive (the ReLU's mask),
/// so dweight[k, co] = sum over windows of x_patch(winner)[k] * dpooled and dbias[co] = sum
/// of the passed dpooled. Both overwritten. `partials` holds `reductionParts * (K*Cout + Cout)` floats.
///
/// - Parameters:
///   - inp: The input images of the forward pass (B, H, W, Cin).
///   - dpooled: Gradient with respect to the pooled output (B, PH, PW, Cout).
///   - pooled: The forward pass's pooled output (its sign is the ReLU's mask).
///   - winner: The forward pass's winning positions.
///   - offsets: The patch offsets from ``convPatchOffsets(_:into:)``.
///   - dweight: The kernel's gradient (K, Cout), overwritten.
///   - dbias: The bias's gradient (Cout), overwritten.
///   - partials: Scratch for the per-piece partial sums.
///   - c: The convolution, with the batch size of this call.
///   - p: The pool, with the same batch size.
package func convReLUPoolWeightGradient(
    _ inp: UnsafePointer<Float>, dpooled: UnsafePointer<Float>, pooled: UnsafePointer<Float>,
    winner: UnsafePointer<Int32>, offsets: UnsafePointer<Int>,
    dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>,
    partials: UnsafeMutablePointer<Float>, _ c: ConvGeometry, _ p: PoolGeometry
) {
    let k = c.patchSize, n = c.outChannels, size = k * n + n
    let cells = p.batch * p.outHeight * p.outWidth
    let split = PieceSplit.reduction(cells, minimumPerPiece: 256)
    partials.update(repeating: 0, count: split.pieces * size)
    var job = ConvReLUPoolGradientJob(inp: inp, dpooled: dpooled, pooled: pooled, winner: winner, offsets: offsets,
                                      partials: partials, c: c, p: p, split: split)
    runPieces(&job, pieces: split.pieces) { context, i in
        let j = context!.assumingMemoryBound(to: ConvReLUPoolGradientJob.self).pointee
        let r = j.split.range(i), size = j.c.patchSize * j.c.outChannels + j.c.outChannels
        fm_conv_relu_pool_weight_gradient(j.inp, j.dpooled, j.pooled, j.winner, j.offsets, j.partials + i * size,
                                          j.c.patchSize, j.c.outChannels, j.c.height, j.c.width, j.c.inChannels,
                                          j.p.outHeight, j.p.outWidth, r.lowerBound, r.upperBound)
    }
    sumPartials(partials, pieces: split.pieces, weights: dweight, weightCount: k * n, bias: dbias, biasCount: n)
}
