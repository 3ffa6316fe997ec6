// make bench: GEMM through the Swift wrapper against the same call from C, the reference
// CNN's kernels one by one, and one training epoch end to end. Everything in one process,
// one after the other, so the figures compare on a noisy shared machine; read ratios.
import CSGEMMBench
import Foundation
import Models
import Tensor

// The same OpenBLAS kernel as fmctl itself runs (docs/architecture.md, "OpenBLAS's kernel").
BLAS.restartWithTunedEnvironment(idleThreads: false)

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

/// Best wall time of `reps` runs of `body` (after one warm-up).
func best(_ reps: Int, _ body: () -> Void) -> Double {
    body()
    var b = Double.infinity
    for _ in 0..<reps {
        let t0 = now()
        body()
        b = min(b, now() - t0)
    }
    return b
}

func peakRSSMegabytes() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_maxrss) / 1024  // kilobytes on Linux
}

let arguments = CommandLine.arguments.dropFirst()
let threads = arguments.firstIndex(of: "--threads").flatMap { Int(arguments[$0 + 1]) } ?? 2
let skipEpoch = arguments.contains("--no-epoch")
BLAS.setThreads(threads)
print("fmctl-bench  OpenBLAS core \(BLAS.coreName), \(threads) thread(s), OPENBLAS_THREAD_TIMEOUT="
      + (ProcessInfo.processInfo.environment["OPENBLAS_THREAD_TIMEOUT"] ?? "unset (fmctl sets 4)"))

// MARK: - The position-wise half of a transformer block (`--transformer-layers`)

// x [B, T, D] -> LayerNormalization -> Dense(4D, gelu) -> Dense(D) -> + x, forward and
// backward (every gradient), against bench/torch_transformer_layers.py (docs/transformer.md).
if arguments.contains("--transformer-layers") {
    let (b, t, d) = (16, 128, 128)
    let rows = b * t
    let ln = LayerNormalization(), up = Dense(units: 4 * d, activation: .gelu), down = Dense(units: d)
    var shape = [t, d]
    var rng = Xoshiro256(seed: 1)
    var buffers: [FloatBuffer] = []
    for layer in [ln, up, down] as [any Layer] {
        shape = try layer.build(inputShape: shape)
        let p = FloatBuffer(count: max(1, layer.parameterCount)), g = FloatBuffer(count: max(1, layer.parameterCount))
        layer.bind(parameters: p.pointer, gradients: g.pointer)
        layer.initializeParameters(rng: &rng)
        layer.allocate(maxBatch: b, needsInputGradient: true)
        buffers += [p, g]
    }
    let x = FloatBuffer(count: rows * d), y = FloatBuffer(count: rows * d)
    let dy = FloatBuffer(count: rows * d), dyWork = FloatBuffer(count: rows * d)
    for i in 0..<(rows * d) { x.pointer[i] = rng.nextNormal(); dy.pointer[i] = rng.nextNormal() }
    func step() {
        let h1 = ln.forward(x.pointer, batch: b, training: true)
        let h2 = up.forward(h1, batch: b, training: true)
        let h3 = down.forward(h2, batch: b, training: true)
        for i in 0..<(rows * d) { y.pointer[i] = h3[i] + x.pointer[i] }
        dyWork.pointer.update(from: dy.pointer, count: rows * d)
        let g3 = down.backward(dyWork.pointer, batch: b)!
        let g2 = up.backward(g3, batch: b)!
        _ = ln.backward(g2, batch: b)
    }
    let stepSeconds = best(10) { step() }
    let lnSeconds = best(10) {
        _ = ln.forward(x.pointer, batch: b, training: true)
        dyWork.pointer.update(from: dy.pointer, count: rows * d)
        _ = ln.backward(dyWork.pointer, batch: b)
    }
    let flops = 3.0 * 2 * 2 * Double(rows * d * 4 * d)
    print(String(format: "transformer MLP half B=%d T=%d D=%d: forward+backward %.2f ms (%.1f GFLOP/s of GEMM); LayerNormalization forward+backward %.3f ms",
                 b, t, d, stepSeconds * 1e3, flops / stepSeconds / 1e9, lnSeconds * 1e3))
    // The parts: Dense(4D, gelu) forward and backward against the same three products by sgemm.
    let h = ln.forward(x.pointer, batch: b, training: true)
    let upForward = best(10) { _ = up.forward(h, batch: b, training: true) }
    let hidden = FloatBuffer(count: rows * 4 * d)
    let upBackward = best(10) {
        hidden.pointer.update(repeating: 0.5, count: rows * 4 * d)
        _ = up.backward(hidden.pointer, batch: b)
    }
    let w = FloatBuffer(count: d * 4 * d), dw = FloatBuffer(count: d * 4 * d), dx = FloatBuffer(count: rows * d)
    let gemmForward = best(10) { sgemm(m: rows, n: 4 * d, k: d, a: h, b: w.pointer, c: hidden.pointer) }
    let gemmBackward = best(10) {
        sgemm(transposeA: true, m: d, n: 4 * d, k: rows, a: h, b: hidden.pointer, c: dw.pointer)
        sgemm(transposeB: true, m: rows, n: d, k: 4 * d, a: hidden.pointer, b: w.pointer, c: dx.pointer)
    }
    let geluOnly = best(10) { geluForward(hidden.pointer, hidden.pointer, count: rows * 4 * d, approximate: false) }
    print(String(format: "  Dense(%d, gelu) on %d rows: forward %.2f ms (sgemm alone %.2f), backward %.2f ms (two sgemm %.2f); GELU forward alone %.2f ms",
                 4 * d, rows, upForward * 1e3, gemmForward * 1e3, upBackward * 1e3, gemmBackward * 1e3, geluOnly * 1e3))
    exit(0)
}

// MARK: - sgemm 1024^3: Swift wrapper vs C

let n = 1024
let a = FloatBuffer(count: n * n), b = FloatBuffer(count: n * n), c = FloatBuffer(count: n * n)
for i in 0..<(n * n) { a.pointer[i] = Float(i % 7) * 0.1; b.pointer[i] = Float(i % 5) * 0.2 }
let flop = 2.0 * Double(n * n * n)
// Rounds alternate Swift and C (best of 3 each) so that clock and neighbour drift hit both;
// the ratio is the median of the rounds' ratios.
var swiftSeconds = Double.infinity, cSeconds = Double.infinity
var ratios: [Double] = []
for _ in 0..<7 {
    let s = best(3) { sgemm(m: n, n: n, k: n, a: a.pointer, b: b.pointer, c: c.pointer) }
    let cs = c_sgemm_best_seconds(Int32(n), 3)
    swiftSeconds = min(swiftSeconds, s)
    cSeconds = min(cSeconds, cs)
    ratios.append(cs / s)
}
ratios.sort()
let gemmRate = flop / swiftSeconds / 1e9
print(String(format: "sgemm 1024^3   swift %.1f GFLOP/s   C %.1f GFLOP/s   swift/C speed %.3f (median of 7 alternated rounds; range %.3f-%.3f)",
             gemmRate, flop / cSeconds / 1e9, ratios[ratios.count / 2], ratios.first!, ratios.last!))

// MARK: - Kernels of the reference CNN at batch 32

let batch = 32
let g = ConvGeometry(batch: batch, height: 28, width: 28, inChannels: 1, kernelHeight: 3, kernelWidth: 3, outChannels: 32)
let pg = PoolGeometry(batch: batch, height: 26, width: 26, channels: 32, poolHeight: 2, poolWidth: 2, strideHeight: 2, strideWidth: 2)
func filled(_ count: Int) -> FloatBuffer {
    var rng = Xoshiro256(seed: UInt64(count))
    let f = FloatBuffer(count: count)
    for i in 0..<count { f.pointer[i] = rng.nextFloat(in: -1, 1) }
    return f
}
let x = filled(g.inputCount), w = filled(g.weightCount), y = filled(g.outputCount), dy = filled(g.outputCount)
let cols = filled(g.patches * g.patchSize), dw = filled(g.weightCount), db = filled(32)
let pooled = filled(pg.outputCount), argmax = Int32Buffer(count: pg.outputCount), dpool = filled(pg.inputCount)
let flat = 5408, hidden = 128
let dx = filled(batch * flat), w1 = filled(flat * hidden), h = filled(batch * hidden), dh = filled(batch * hidden), dw1 = filled(flat * hidden)
let convFlop = 2.0 * Double(g.patches * g.patchSize * 32), denseFlop = 2.0 * Double(batch * flat * hidden)

func report(_ name: String, _ seconds: Double, flop: Double? = nil) {
    let label = "  " + name + String(repeating: " ", count: max(1, 26 - name.count))
    let rate = flop.map { String(format: "   %6.1f GFLOP/s", $0 / seconds / 1e9) } ?? ""
    print(label + String(format: "%8.1f us", seconds * 1e6) + rate)
}
let workspace = FloatBuffer(count: conv2dBackwardWorkspaceCount(g))
print("kernels, batch 32 (best of 20)")
report("im2col 28x28x1 k3", best(20) { im2col(x.pointer, cols.pointer, g) })
report("conv fwd sgemm (K=9)", best(20) { sgemm(m: g.patches, n: 32, k: g.patchSize, a: cols.pointer, b: w.pointer, c: y.pointer) }, flop: convFlop)
report("conv fwd small-K+bias+relu", best(20) { smallKGEMMBias(cols.pointer, w.pointer, bias: db.pointer, y.pointer, m: g.patches, n: 32, k: g.patchSize, relu: true) }, flop: convFlop)
report("conv fwd (im2col+all)", best(20) { conv2dForward(x.pointer, w.pointer, bias: db.pointer, y.pointer, cols: cols.pointer, g, relu: true) }, flop: convFlop)
report("conv dW sgemm TN", best(20) { sgemm(transposeA: true, m: g.patchSize, n: 32, k: g.patches, a: cols.pointer, b: dy.pointer, c: dw.pointer) }, flop: convFlop)
report("conv dW+db small-K", best(20) {
    conv2dBackward(dy.pointer, cols: cols.pointer, w.pointer, dweight: dw.pointer, dbias: db.pointer, dinp: nil, dcols: nil,
                   workspace: workspace.pointer, g)
}, flop: convFlop)
report("relu backward 26x26x32", best(20) { reluBackward(dy.pointer, output: y.pointer, dy.pointer, count: g.outputCount) })
report("maxpool fwd", best(20) { maxPoolForward(y.pointer, pooled.pointer, argmax: argmax.pointer, pg) })
report("maxpool bwd", best(20) { maxPoolBackward(pooled.pointer, argmax: argmax.pointer, dpool.pointer, pg) })
report("maxpool bwd + relu mask", best(20) { maxPoolBackward(pooled.pointer, argmax: argmax.pointer, dpool.pointer, pg, reluMask: pooled.pointer) })
report("dense fwd sgemm 5408x128", best(20) { sgemm(m: batch, n: hidden, k: flat, a: dx.pointer, b: w1.pointer, c: h.pointer) }, flop: denseFlop)
report("dense fwd own kernel", best(20) { denseForward(dx.pointer, w1.pointer, nil, h.pointer, batch: batch, inFeatures: flat, outFeatures: hidden) }, flop: denseFlop)
report("dense dW sgemm", best(20) { sgemm(transposeA: true, m: flat, n: hidden, k: batch, a: dx.pointer, b: dh.pointer, c: dw1.pointer) }, flop: denseFlop)
report("dense dX sgemm", best(20) { sgemm(transposeB: true, m: batch, n: flat, k: hidden, a: dh.pointer, b: w1.pointer, c: dx.pointer) }, flop: denseFlop)
let params = filled(693_962), grads = filled(693_962)
let adam = Adam()
adam.allocate(count: 693_962)
report("adam step 693,962", best(20) { adam.step(parameters: params.pointer, gradients: grads.pointer, count: 693_962) })
let fm = filled(flat * hidden), fv = filled(flat * hidden), fdx = filled(batch * flat), fdb = filled(hidden), scratch = FloatBuffer(count: denseBackwardAdamScratchCount(maxBatch: batch, outFeatures: hidden))
for i in 0..<(flat * hidden) { fv.pointer[i] = abs(fv.pointer[i]) }
report("dense dW+dX+adam fused", best(20) {
    denseBackwardAdam(dh.pointer, dx.pointer, weight: w1.pointer, m: fm.pointer, v: fv.pointer, dbias: fdb.pointer, dinp: fdx.pointer,
                      scratch: scratch.pointer, batch: batch, inFeatures: flat, outFeatures: hidden,
                      alpha: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-7)
}, flop: 2 * denseFlop)

// MARK: - Attention: the row kernel against sgemm per (sample, head)

// The two implementations of the attention core (Tensor/Kernels/Attention.swift), forward +
// backward, causal as in gpt-mini, at the two benchmark shapes; then the whole layer (the
// projections included) with the kernel it uses. Rounds alternate the kernels (best of 5
// each); the ratio is the median of the rounds' ratios. docs/transformer.md has the figures.
for (ab, at) in [(12, 64), (32, 128)] {
    let ag = AttentionGeometry(batch: ab, length: at, width: 128, heads: 4, causal: true)
    let aqkv = filled(ab * at * 384), ap = filled(ag.probabilityCount), aout = filled(ab * at * 128)
    let adout = filled(ab * at * 128), adqkv = filled(ab * at * 384)
    let apieces = AttentionGeometry.maximumPieces(threads: threads)
    let ascratch = filled(apieces * AttentionGeometry.scratchPerPiece(length: at))
    // The sgemm kernel's calls run inside the pieces: OpenBLAS single-threaded meanwhile.
    func step(_ k: AttentionKernel, singleThreadedBLAS: Bool = true) {
        if k == .sgemm && singleThreadedBLAS { BLAS.setThreads(1) }
        attentionForward(qkv: aqkv.pointer, probabilities: ap.pointer, dropped: nil, dropoutRate: 0, seed: 0, out: aout.pointer,
                         scratch: ascratch.pointer, scratchPieces: apieces, geometry: ag, kernel: k, threads: threads)
        attentionBackward(dout: adout.pointer, qkv: aqkv.pointer, probabilities: ap.pointer, dropped: nil, dropoutRate: 0,
                          dqkv: adqkv.pointer, scratch: ascratch.pointer, scratchPieces: apieces, geometry: ag, kernel: k,
                          threads: threads)
        if k == .sgemm && singleThreadedBLAS { BLAS.setThreads(threads) }
    }
    var rowsBest = Double.infinity, sgemmBest = Double.infinity, aratios: [Double] = []
    for _ in 0..<5 {
        let r = best(5) { step(.rows) }, s = best(5) { step(.sgemm) }
        rowsBest = min(rowsBest, r); sgemmBest = min(sgemmBest, s); aratios.append(s / r)
    }
    aratios.sort()
    print(String(format: "attention core B=%d T=%d D=128 H=4 causal, fwd+bwd: rows kernel %.0f us  sgemm per head %.0f us  sgemm/rows %.2f (median of 5 rounds)",
                 ab, at, rowsBest * 1e6, sgemmBest * 1e6, aratios[aratios.count / 2]))
    // The layer leaves OpenBLAS's thread count alone, so with the sgemm kernel its calls nest
    // in the pool's pieces: timed that way too.
    let nested = best(5) { step(.sgemm, singleThreadedBLAS: false) }
    print(String(format: "  sgemm per head with OpenBLAS at %d thread(s) inside the pieces (as the layer runs it): %.0f us",
                 threads, nested * 1e6))
    for k in [AttentionKernel.rows, .sgemm] {
        let layer = MultiHeadAttention(numHeads: 4, causal: true)
        layer.kernel = k
        _ = try! layer.build(inputShape: [at, 128])
        let lp = filled(layer.parameterCount), lg = filled(layer.parameterCount)
        layer.bind(parameters: lp.pointer, gradients: lg.pointer)
        layer.allocate(maxBatch: ab, needsInputGradient: true)
        let lx = filled(ab * at * 128), ldy = filled(ab * at * 128)
        let lt = best(10) {
            _ = layer.forward(lx.pointer, batch: ab, training: true)
            _ = layer.backward(ldy.pointer, batch: ab)
        }
        let lf = layer.flopsPerSample
        print(String(format: "  MultiHeadAttention layer fwd+bwd (%@ kernel): %.0f us  %.1f GFLOP/s", k.rawValue, lt * 1e6,
                     Double(ab * (lf.forward + lf.weightGradient + lf.inputGradient)) / lt / 1e9))
    }
}

// MARK: - One training step of the reference CNN, layer by layer

do {
    let model = try ModelDescription.cnn.makeModel(seed: 0)
    model.prepare(maxBatch: batch)
    let input = filled(batch * 784)
    for i in 0..<(batch * 784) { input.pointer[i] = abs(input.pointer[i]) }
    let grad = filled(batch * 10)
    var outputs: [UnsafePointer<Float>] = []
    print("training step by layer, batch 32 (best of 20; Dense backward without its fused Adam, see above)")
    for (i, layer) in model.layers.enumerated() {
        let x = i == 0 ? UnsafePointer(input.pointer) : outputs[i - 1]
        let t = best(20) { _ = layer.forward(x, batch: batch, training: true) }
        outputs.append(layer.forward(x, batch: batch, training: true))
        report("fwd \(layer.name)", t)
    }
    let dout = FloatBuffer(count: batch * 26 * 26 * 32)
    for (i, layer) in model.layers.enumerated().reversed() {
        let size = batch * layer.outputCount
        let t = best(20) {
            (i == model.layers.count - 1 ? grad.pointer : dout.pointer).update(repeating: 0.01, count: size)
            _ = layer.backward(i == model.layers.count - 1 ? grad.pointer : dout.pointer, batch: batch)
        }
        report("bwd \(layer.name)", t)
    }
    let dd = filled(batch * 128), ww = filled(5408 * 128), gw = filled(5408 * 128), gb = filled(128), xin = filled(batch * 5408), dxin = filled(batch * 5408)
    let dscratch = filled(denseBackwardAdamScratchCount(maxBatch: batch, outFeatures: 128))
    report("denseBackward (fresh)", best(20) { denseBackward(dd.pointer, xin.pointer, ww.pointer, dweight: gw.pointer, dbias: gb.pointer, dinp: dxin.pointer, scratch: dscratch.pointer, batch: batch, inFeatures: 5408, outFeatures: 128) })
    report("denseBackward dW only", best(20) { denseBackward(dd.pointer, xin.pointer, ww.pointer, dweight: gw.pointer, dbias: gb.pointer, dinp: nil, scratch: dscratch.pointer, batch: batch, inFeatures: 5408, outFeatures: 128) })
    BLAS.setThreads(1)
    report("denseBackward 1 thread", best(20) { denseBackward(dd.pointer, xin.pointer, ww.pointer, dweight: gw.pointer, dbias: gb.pointer, dinp: dxin.pointer, scratch: dscratch.pointer, batch: batch, inFeatures: 5408, outFeatures: 128) })
    report("dense dW only 1 thread", best(20) { denseBackward(dd.pointer, xin.pointer, ww.pointer, dweight: gw.pointer, dbias: gb.pointer, dinp: nil, scratch: dscratch.pointer, batch: batch, inFeatures: 5408, outFeatures: 128) })
    BLAS.setThreads(threads)
    let opt = Adam()
    opt.allocate(count: model.parameterCount)
    let p = filled(model.parameterCount), gr = filled(model.parameterCount)
    report("adam step", best(20) { opt.step(parameters: p.pointer, gradients: gr.pointer, count: model.parameterCount) })
} catch {
    print("step profile: skipped: \(error)")
}

// MARK: - Epochs of the reference CNN

// Three epochs, each timed on its own: the best is set against the best sgemm round above
// (both "best of", the machine's capability), the median shows what a noisy moment costs.
if !skipEpoch {
    do {
        let data = try Dataset.load()
        let model = try ModelDescription.cnn.makeModel(seed: 0)
        model.compile(optimizer: Adam())
        let r = model.fit(data.train, epochs: 3, batchSize: 32, validationSplit: 0.1, seed: 0)
        let trainFlop = Double(model.flopsPerSample.training * r.history[0].samples)
        for e in r.history {
            print(String(format: "epoch %d (cnn, batch 32, 54,000 + 6,000 validation): %.2f s  (train %.2f s, validation %.2f s)  %.0f samples/s  %.1f GFLOP/s effective  %.0f%% of sgemm 1024^3  accuracy %.4f val_accuracy %.4f",
                         e.epoch, e.seconds, e.trainSeconds, e.validationSeconds, Double(e.samples) / e.trainSeconds,
                         trainFlop / e.trainSeconds / 1e9, 100 * trainFlop / e.trainSeconds / 1e9 / gemmRate,
                         e.accuracy, e.validationAccuracy ?? .nan))
        }
        let train = r.history.map(\.trainSeconds).sorted()
        print(String(format: "epochs: best %.2f s train = %.1f GFLOP/s effective = %.0f%% of sgemm 1024^3 in this run; median %.2f s = %.0f%%",
                     train[0], trainFlop / train[0] / 1e9, 100 * trainFlop / train[0] / 1e9 / gemmRate,
                     train[train.count / 2], 100 * trainFlop / train[train.count / 2] / 1e9 / gemmRate))
    } catch {
        print("epoch: skipped: \(error)")
    }
}
print(String(format: "peak RSS %.0f MB", peakRSSMegabytes()))
