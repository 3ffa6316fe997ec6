/// The first block of an image model fused: Conv2D (stride 1, valid, ReLU) followed by a
/// 2x2 max-pool with stride 2, computed straight from the input image. Neither the im2col
/// matrix nor the convolution's output (B, OH, OW, Cout) is ever written: forward keeps
/// only the pooled output and, per pooled value, which of the 4 window positions won;
/// backward rebuilds the weight gradient from those. For the reference CNN this skips
/// 0.8 MB of im2col and 2.7 MB of activations per batch, written and read back.
///
/// Twins: `conv2dForward` + `maxPoolForward`, and `maxPoolBackward(reluMask:)` +
/// `conv2dBackward`, through the tests (forward is bit-identical: the same bias-first,
/// k-ordered accumulation).

/// Whether the fused path applies to this convolution and pool.
public func convReLUPoolApplies(_ c: ConvGeometry, _ p: PoolGeometry) -> Bool {
    c.strideHeight == 1 && c.strideWidth == 1 && c.padTop == 0 && c.padLeft == 0
        && c.outHeight == c.height - c.kernelHeight + 1 && c.outWidth == c.width - c.kernelWidth + 1
        && p.poolHeight == 2 && p.poolWidth == 2 && p.strideHeight == 2 && p.strideWidth == 2
        && p.padTop == 0 && p.padLeft == 0 && p.height == c.outHeight && p.width == c.outWidth
        && p.channels == c.outChannels && c.outChannels % 8 == 0 && c.patchSize <= 32
}

/// Offsets of the K = KH*KW*Cin patch elements from a patch's top-left input element,
/// in im2col order (kh, kw, cin). `offsets` holds patchSize Ints.
public func convPatchOffsets(_ g: ConvGeometry, into offsets: UnsafeMutablePointer<Int>) {
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
public func convReLUPoolForward(
    _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
    pooled: UnsafeMutablePointer<Float>, winner: UnsafeMutablePointer<Int32>,
    offsets: UnsafePointer<Int>, _ c: ConvGeometry, _ p: PoolGeometry
) {
    let k = c.patchSize, n = c.outChannels
    let perImage = p.outHeight * p.outWidth
    let rowStep = c.width * c.inChannels, colStep = c.inChannels
    parallelRanges(p.batch * perImage, minimumPerPart: 256) { range in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 4 * 32) { patches in
            let x = patches.baseAddress!
            for cell in range {
                let b = cell / perImage, py = (cell % perImage) / p.outWidth, px = cell % p.outWidth
                let origin = ((b * c.height + 2 * py) * c.width + 2 * px) * c.inChannels
                // The four patches of the window, gathered once.
                for q in 0..<4 {
                    let base = inp + origin + (q >> 1) * rowStep + (q & 1) * colStep
                    for j in 0..<k { x[q * 32 + j] = base[offsets[j]] }
                }
                for n0 in stride(from: 0, to: n, by: 8) {
                    let b0 = load8(bias + n0)
                    var a0 = b0, a1 = b0, a2 = b0, a3 = b0
                    for j in 0..<k {
                        let w = load8(weight + j * n + n0)
                        a0 += SIMD8<Float>(repeating: x[j]) * w
                        a1 += SIMD8<Float>(repeating: x[32 + j]) * w
                        a2 += SIMD8<Float>(repeating: x[64 + j]) * w
                        a3 += SIMD8<Float>(repeating: x[96 + j]) * w
                    }
                    let zero = SIMD8<Float>()
                    a0.replace(with: zero, where: a0 .< zero)
                    var best = a0, index = SIMD8<Int32>()
                    a1.replace(with: zero, where: a1 .< zero)
                    var wins = a1 .> best
                    best.replace(with: a1, where: wins); index.replace(with: 1, where: wins)
                    a2.replace(with: zero, where: a2 .< zero)
                    wins = a2 .> best
                    best.replace(with: a2, where: wins); index.replace(with: 2, where: wins)
                    a3.replace(with: zero, where: a3 .< zero)
                    wins = a3 .> best
                    best.replace(with: a3, where: wins); index.replace(with: 3, where: wins)
                    store8(best, pooled + cell * n + n0)
                    UnsafeMutableRawPointer(winner + cell * n + n0).storeBytes(of: index, as: SIMD8<Int32>.self)
                }
            }
        }
    }
}

/// Backward of `convReLUPoolForward` for the weights: dpooled (B,PH,PW,Cout) flows to the
/// winning position of each window when the pooled value is positive (the ReLU's mask),
/// so dweight[k, co] = sum over windows of x_patch(winner)[k] * dpooled and dbias[co] = sum
/// of the passed dpooled. Both overwritten. `partials` holds 2 * (K*Cout + Cout) floats.
public func convReLUPoolWeightGradient(
    _ inp: UnsafePointer<Float>, dpooled: UnsafePointer<Float>, pooled: UnsafePointer<Float>,
    winner: UnsafePointer<Int32>, offsets: UnsafePointer<Int>,
    dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>,
    partials: UnsafeMutablePointer<Float>, _ c: ConvGeometry, _ p: PoolGeometry
) {
    let k = c.patchSize, n = c.outChannels
    let size = k * n + n
    let parts = max(1, min(2, BLAS.threads))
    partials.update(repeating: 0, count: parts * size)
    let perImage = p.outHeight * p.outWidth
    let cells = p.batch * perImage
    // Cells go in blocks: first the block's patches and its gradient split by window
    // position (masked by winner and ReLU) are laid out contiguously, then every (k, 8
    // channels) accumulator stays in registers over the whole block. Updating accumulators
    // in memory cell by cell instead chains every add through a store and a reload.
    let blockCells = max(4, 512 / n)  // the block's patches and gradients stay in L1
    parallelRanges(cells, parts: parts, minimumPerPart: 256) { range in
        let acc = partials + (range.lowerBound == 0 ? 0 : size)
        let rowStep = c.width * c.inChannels, colStep = c.inChannels
        withUnsafeTemporaryAllocation(of: Float.self, capacity: blockCells * 4 * (32 + n)) { scratch in
            let xs = scratch.baseAddress!                   // [cell][q][j], j < 32
            let ds = xs + blockCells * 4 * 32               // [cell][q][channel]
            let zero = SIMD8<Float>()
            for first in stride(from: range.lowerBound, to: range.upperBound, by: blockCells) {
                let count = min(blockCells, range.upperBound - first)
                for t in 0..<count {
                    let cell = first + t
                    let b = cell / perImage, py = (cell % perImage) / p.outWidth, px = cell % p.outWidth
                    let origin = ((b * c.height + 2 * py) * c.width + 2 * px) * c.inChannels
                    for q in 0..<4 {
                        let base = inp + origin + (q >> 1) * rowStep + (q & 1) * colStep
                        let x = xs + (t * 4 + q) * 32
                        for j in 0..<k { x[j] = base[offsets[j]] }
                    }
                    for n0 in stride(from: 0, to: n, by: 8) {
                        var d = load8(dpooled + cell * n + n0)
                        d.replace(with: zero, where: load8(pooled + cell * n + n0) .<= zero)
                        let win = UnsafeRawPointer(winner + cell * n + n0).loadUnaligned(as: SIMD8<Int32>.self)
                        for q in 0..<4 {
                            var dq = d
                            dq.replace(with: zero, where: win .!= SIMD8<Int32>(repeating: Int32(q)))
                            store8(dq, ds + (t * 4 + q) * n + n0)
                        }
                    }
                }
                for n0 in stride(from: 0, to: n, by: 8) {
                    // Bias: every position's share of the block.
                    var s0 = zero, s1 = zero
                    for i in stride(from: 0, to: count * 4, by: 2) {
                        s0 += load8(ds + i * n + n0)
                        s1 += load8(ds + (i + 1) * n + n0)
                    }
                    store8(load8(acc + k * n + n0) + s0 + s1, acc + k * n + n0)
                    for j in 0..<k {
                        // Four independent chains (one per window position) hide the add latency.
                        var a0 = zero, a1 = zero, a2 = zero, a3 = zero
                        for i in stride(from: 0, to: count * 4, by: 4) {
                            a0 += SIMD8<Float>(repeating: xs[i * 32 + j]) * load8(ds + i * n + n0)
                            a1 += SIMD8<Float>(repeating: xs[(i + 1) * 32 + j]) * load8(ds + (i + 1) * n + n0)
                            a2 += SIMD8<Float>(repeating: xs[(i + 2) * 32 + j]) * load8(ds + (i + 2) * n + n0)
                            a3 += SIMD8<Float>(repeating: xs[(i + 3) * 32 + j]) * load8(ds + (i + 3) * n + n0)
                        }
                        let w = acc + j * n + n0
                        store8(load8(w) + ((a0 + a1) + (a2 + a3)), w)
                    }
                }
            }
        }
    }
    for i in 0..<(k * n) { dweight[i] = partials[i] + (parts > 1 ? partials[size + i] : 0) }
    for j in 0..<n { dbias[j] = partials[k * n + j] + (parts > 1 ? partials[size + k * n + j] : 0) }
}
