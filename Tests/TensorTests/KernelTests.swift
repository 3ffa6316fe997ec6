import Testing
import Tensor

/// Runs a conv forward through the optimised path (im2col + sgemm + bias) on arrays.
func convForward(_ x: [Float], _ w: [Float], _ bias: [Float], _ g: ConvGeometry, relu: Bool = false) -> [Float] {
    var out = [Float](repeating: 0, count: g.outputCount)
    var cols = [Float](repeating: 0, count: g.patches * g.patchSize)
    x.withUnsafeBufferPointer { xp in
        w.withUnsafeBufferPointer { wp in
            bias.withUnsafeBufferPointer { bp in
                out.withUnsafeMutableBufferPointer { op in
                    cols.withUnsafeMutableBufferPointer { cp in
                        conv2dForward(xp.baseAddress!, wp.baseAddress!, bias: bp.baseAddress!, op.baseAddress!,
                                      cols: cp.baseAddress!, g, relu: relu)
                    }
                }
            }
        }
    }
    return out
}

/// The analytic conv gradients for dout = r: (dinput, dweight, dbias).
func convBackward(_ x: [Float], _ w: [Float], _ r: [Float], _ g: ConvGeometry) -> ([Float], [Float], [Float]) {
    var cols = [Float](repeating: 0, count: g.patches * g.patchSize)
    var dcols = cols
    var workspace = [Float](repeating: 0, count: conv2dBackwardWorkspaceCount(g))
    var dx = [Float](repeating: 0, count: g.inputCount)
    var dw = [Float](repeating: 0, count: g.weightCount)
    var db = [Float](repeating: 0, count: g.outChannels)
    x.withUnsafeBufferPointer { xp in cols.withUnsafeMutableBufferPointer { im2col(xp.baseAddress!, $0.baseAddress!, g) } }
    cols.withUnsafeBufferPointer { cp in
        w.withUnsafeBufferPointer { wp in
            r.withUnsafeBufferPointer { rp in
                dx.withUnsafeMutableBufferPointer { dxp in
                    dw.withUnsafeMutableBufferPointer { dwp in
                        db.withUnsafeMutableBufferPointer { dbp in
                            dcols.withUnsafeMutableBufferPointer { dcp in
                                workspace.withUnsafeMutableBufferPointer { wsp in
                                    conv2dBackward(rp.baseAddress!, cols: cp.baseAddress!, wp.baseAddress!,
                                                   dweight: dwp.baseAddress!, dbias: dbp.baseAddress!,
                                                   dinp: dxp.baseAddress!, dcols: dcp.baseAddress!,
                                                   workspace: wsp.baseAddress!, g)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    return (dx, dw, db)
}

struct ConvCase: CustomTestStringConvertible, Sendable {
    let b, h, w, cin, k, cout, stride: Int
    let padding: Padding
    var geometry: ConvGeometry {
        ConvGeometry(batch: b, height: h, width: w, inChannels: cin, kernelHeight: k, kernelWidth: k,
                     outChannels: cout, strideHeight: stride, strideWidth: stride, padding: padding)
    }
    var testDescription: String { "B\(b) \(h)x\(w)x\(cin) k\(k) s\(stride) \(padding) ->\(cout)" }
}

let convCases: [ConvCase] = [
    ConvCase(b: 2, h: 7, w: 5, cin: 1, k: 3, cout: 4, stride: 1, padding: .valid),
    ConvCase(b: 3, h: 8, w: 6, cin: 3, k: 3, cout: 5, stride: 2, padding: .valid),
    ConvCase(b: 2, h: 7, w: 9, cin: 2, k: 3, cout: 3, stride: 1, padding: .same),
    ConvCase(b: 2, h: 7, w: 6, cin: 3, k: 5, cout: 2, stride: 2, padding: .same),
    ConvCase(b: 1, h: 5, w: 4, cin: 4, k: 1, cout: 3, stride: 1, padding: .valid),
    ConvCase(b: 2, h: 9, w: 8, cin: 2, k: 5, cout: 4, stride: 1, padding: .valid),
    ConvCase(b: 2, h: 6, w: 6, cin: 1, k: 1, cout: 2, stride: 2, padding: .same),
    // Cout a multiple of 8 and K <= 32: the register-blocked small-K kernels.
    ConvCase(b: 3, h: 9, w: 7, cin: 1, k: 3, cout: 32, stride: 1, padding: .valid),
    ConvCase(b: 2, h: 6, w: 5, cin: 2, k: 3, cout: 40, stride: 1, padding: .same),
    ConvCase(b: 2, h: 7, w: 7, cin: 1, k: 3, cout: 8, stride: 2, padding: .valid),
    // K = 5*5*2 = 50 > 32: the sgemm path with Cout a multiple of 8.
    ConvCase(b: 2, h: 8, w: 8, cin: 2, k: 5, cout: 16, stride: 1, padding: .same),
]

@Suite struct ConvolutionTests {
    @Test(arguments: convCases)
    func forward_matchesDirectConvolution(_ c: ConvCase) {
        let g = c.geometry
        let x = random(g.inputCount, seed: 1), w = random(g.weightCount, seed: 2), b = random(g.outChannels, seed: 3)
        let want = Reference.conv2d(x, weight: w, bias: b, g)
        #expect(maxAbsDiff(convForward(x, w, b, g), want) < 1e-4)
    }

    @Test(arguments: convCases)
    func forwardWithReLU_matchesDirectConvolution(_ c: ConvCase) {
        let g = c.geometry
        let x = random(g.inputCount, seed: 11), w = random(g.weightCount, seed: 12), b = random(g.outChannels, seed: 13)
        let want = Reference.conv2d(x, weight: w, bias: b, g).map { max(0, $0) }
        #expect(maxAbsDiff(convForward(x, w, b, g, relu: true), want) < 1e-4)
    }

    /// The small-K weight gradient over many rows (both threads, several row blocks) against
    /// the triple loop.
    @Test func smallKWeightGradient_matchesTripleLoop() {
        for (m, n, k) in [(5000, 32, 9), (3001, 40, 3), (700, 8, 27)] {
            let a = random(m * k, seed: 1), d = random(m * n, seed: 2)
            var dw = [Float](repeating: 0, count: k * n), db = [Float](repeating: 0, count: n)
            var partials = [Float](repeating: 0, count: reductionParts * (k * n + n))
            a.withUnsafeBufferPointer { ap in
                d.withUnsafeBufferPointer { dp in
                    dw.withUnsafeMutableBufferPointer { wp in
                        db.withUnsafeMutableBufferPointer { bp in
                            partials.withUnsafeMutableBufferPointer {
                                smallKGEMMWeightGradient(ap.baseAddress!, dp.baseAddress!, dw: wp.baseAddress!, dbias: bp.baseAddress!,
                                                         m: m, n: n, k: k, partials: $0.baseAddress!)
                            }
                        }
                    }
                }
            }
            let want = Reference.gemm(transposeA: true, transposeB: false, m: k, n: n, k: m, alpha: 1, a: a, b: d, beta: 0,
                                      c: [Float](repeating: 0, count: k * n))
            #expect(maxAbsDiff(dw, want) < 2e-3, "m \(m) n \(n) k \(k)")
            let ones = [Float](repeating: 1, count: m)
            let wantBias = Reference.gemm(transposeA: false, transposeB: false, m: 1, n: n, k: m, alpha: 1, a: ones, b: d, beta: 0,
                                          c: [Float](repeating: 0, count: n))
            #expect(maxAbsDiff(db, wantBias) < 2e-3)
        }
    }

    @Test func samePadding_followsTensorFlow() {
        // in 7, k 5, s 2: out 4, total pad (4-1)*2+5-7 = 4, 2 before.
        #expect(Padding.same.output(input: 7, kernel: 5, stride: 2) == (4, 2))
        // in 6, k 2, s 2: out 3, no padding needed.
        #expect(Padding.same.output(input: 6, kernel: 2, stride: 2) == (3, 0))
        // in 5, k 4, s 1: total 3, one before, two after.
        #expect(Padding.same.output(input: 5, kernel: 4, stride: 1) == (5, 1))
        #expect(Padding.valid.output(input: 28, kernel: 3, stride: 1) == (26, 0))
        #expect(Padding.valid.output(input: 2, kernel: 3, stride: 1).size == 0)
    }

    /// col2im is the adjoint of im2col: <im2col(x), y> == <x, col2im(y)>.
    @Test(arguments: convCases)
    func col2im_isAdjointOfIm2col(_ c: ConvCase) {
        let g = c.geometry
        let x = random(g.inputCount, seed: 4), y = random(g.patches * g.patchSize, seed: 5)
        var cols = [Float](repeating: 0, count: y.count)
        var back = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xp in cols.withUnsafeMutableBufferPointer { im2col(xp.baseAddress!, $0.baseAddress!, g) } }
        y.withUnsafeBufferPointer { yp in back.withUnsafeMutableBufferPointer { col2im(yp.baseAddress!, $0.baseAddress!, g) } }
        let lhs = GradientCheck.loss(cols, y), rhs = GradientCheck.loss(x, back)
        #expect(abs(lhs - rhs) < 1e-3)
    }

    /// Tolerance: conv is linear in each argument, so central differences are exact up to
    /// Float rounding of the forward (about 1e-6 relative); 1e-3 leaves a wide margin.
    @Test(arguments: convCases)
    func gradients_matchFiniteDifferences(_ c: ConvCase) {
        let g = c.geometry
        let x = random(g.inputCount, seed: 6), w = random(g.weightCount, seed: 7), b = random(g.outChannels, seed: 8)
        let r = random(g.outputCount, seed: 9)
        let (dx, dw, db) = convBackward(x, w, r, g)
        let ix = GradientCheck.sampleIndices(x.count)
        let nx = GradientCheck.numerical(x, indices: ix, eps: 1e-2, r: r) { convForward($0, w, b, g) }
        #expect(GradientCheck.maxError(ix.map { Double(dx[$0]) }, nx) < 1e-3)
        let iw = GradientCheck.sampleIndices(w.count)
        let nw = GradientCheck.numerical(w, indices: iw, eps: 1e-2, r: r) { convForward(x, $0, b, g) }
        #expect(GradientCheck.maxError(iw.map { Double(dw[$0]) }, nw) < 1e-3)
        let ib = Array(0..<b.count)
        let nb = GradientCheck.numerical(b, indices: ib, eps: 1e-2, r: r) { convForward(x, w, $0, g) }
        #expect(GradientCheck.maxError(db.map(Double.init), nb) < 1e-3)
    }
}

@Suite struct PoolingTests {
    static let geometries: [PoolGeometry] = [
        PoolGeometry(batch: 2, height: 6, width: 6, channels: 3, poolHeight: 2, poolWidth: 2, strideHeight: 2, strideWidth: 2),
        PoolGeometry(batch: 2, height: 7, width: 5, channels: 2, poolHeight: 2, poolWidth: 2, strideHeight: 2, strideWidth: 2),
        PoolGeometry(batch: 1, height: 7, width: 7, channels: 2, poolHeight: 3, poolWidth: 3, strideHeight: 2, strideWidth: 2),
        PoolGeometry(batch: 2, height: 5, width: 6, channels: 1, poolHeight: 3, poolWidth: 2, strideHeight: 1, strideWidth: 1),
        PoolGeometry(batch: 2, height: 5, width: 5, channels: 2, poolHeight: 2, poolWidth: 2, strideHeight: 2, strideWidth: 2, padding: .same),
        // 2x2 stride 2, C a multiple of 8: the vectorised path (odd size drops the last row).
        PoolGeometry(batch: 2, height: 7, width: 6, channels: 16, poolHeight: 2, poolWidth: 2, strideHeight: 2, strideWidth: 2),
    ]

    static func forward(_ x: [Float], _ g: PoolGeometry) -> ([Float], [Int32]) {
        var out = [Float](repeating: 0, count: g.outputCount)
        var arg = [Int32](repeating: 0, count: g.outputCount)
        x.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { op in
                arg.withUnsafeMutableBufferPointer { maxPoolForward(xp.baseAddress!, op.baseAddress!, argmax: $0.baseAddress!, g) }
            }
        }
        return (out, arg)
    }

    @Test(arguments: geometries)
    func maxPool_matchesWindowScan(_ g: PoolGeometry) {
        let x = random(g.inputCount, seed: 3)
        let (out, arg) = Self.forward(x, g)
        #expect(out == Reference.maxPool(x, g))
        #expect(zip(out, arg).allSatisfy { $0 == x[Int($1)] })
    }

    /// Max-pool is piecewise linear; with distinct inputs and eps below the smallest gap
    /// between window values, central differences are exact (tolerance 1e-3).
    @Test(arguments: geometries)
    func maxPoolBackward_matchesFiniteDifferences(_ g: PoolGeometry) {
        // Distinct values spaced 0.01 apart, shuffled.
        var x = (0..<g.inputCount).map { Float($0) * 0.01 }
        var rng = Xoshiro256(seed: 1)
        x.withUnsafeMutableBufferPointer { buf in
            for i in stride(from: buf.count - 1, to: 0, by: -1) { buf.swapAt(i, rng.nextInt(below: i + 1)) }
        }
        let r = random(g.outputCount, seed: 2)
        let (_, arg) = Self.forward(x, g)
        var dx = [Float](repeating: 0, count: g.inputCount)
        r.withUnsafeBufferPointer { rp in
            arg.withUnsafeBufferPointer { ap in
                dx.withUnsafeMutableBufferPointer { maxPoolBackward(rp.baseAddress!, argmax: ap.baseAddress!, $0.baseAddress!, g) }
            }
        }
        let idx = Array(0..<x.count)
        let n = GradientCheck.numerical(x, indices: idx, eps: 1e-3, r: r) { Self.forward($0, g).0 }
        #expect(GradientCheck.maxError(dx.map(Double.init), n) < 1e-3)
    }
}

extension PoolingTests {
    /// Ties go to the first pixel of the window in scan order on both paths.
    @Test func maxPool_tiesKeepFirstPixel() {
        for c in [1, 8] {
            let g = PoolGeometry(batch: 1, height: 2, width: 2, channels: c, poolHeight: 2, poolWidth: 2, strideHeight: 2, strideWidth: 2)
            let (_, arg) = Self.forward([Float](repeating: 0.5, count: 4 * c), g)
            #expect(arg == (0..<c).map { Int32($0) })
        }
    }

    /// Pool backward with the ReLU mask equals pool backward followed by ReLU backward on
    /// a ReLU output (zeros included, so ties at 0 occur).
    @Test func maxPoolBackward_reluMaskEqualsSeparatePasses() {
        let g = PoolGeometry(batch: 2, height: 6, width: 6, channels: 8, poolHeight: 2, poolWidth: 2, strideHeight: 2, strideWidth: 2)
        let x = random(g.inputCount, seed: 4).map { max(0, $0) }
        let (out, arg) = Self.forward(x, g)
        let r = random(g.outputCount, seed: 5)
        var fused = [Float](repeating: 0, count: g.inputCount), plain = fused
        r.withUnsafeBufferPointer { rp in
            arg.withUnsafeBufferPointer { ap in
                out.withUnsafeBufferPointer { op in
                    fused.withUnsafeMutableBufferPointer { maxPoolBackward(rp.baseAddress!, argmax: ap.baseAddress!, $0.baseAddress!, g, reluMask: op.baseAddress!) }
                }
                plain.withUnsafeMutableBufferPointer { maxPoolBackward(rp.baseAddress!, argmax: ap.baseAddress!, $0.baseAddress!, g) }
            }
        }
        let masked = (0..<x.count).map { x[$0] > 0 ? plain[$0] : 0 }
        #expect(fused == masked)
        #expect(x.contains(0) && fused.contains { $0 != 0 })
    }
}

@Suite struct AdamKernelTests {
    @Test func adamUpdate_matchesElementwiseReference() {
        for count in [5, 1000, 200_003] {  // tail only, one part, two parts with a tail
            var w = random(count, seed: 1), m = random(count, seed: 2, low: -0.1, high: 0.1)
            var v = random(count, seed: 3, low: 0, high: 0.1)
            let g = random(count, seed: 4)
            var (rw, rm, rv) = (w, m, v)
            Reference.adamUpdate(parameters: &rw, gradients: g, m: &rm, v: &rv, alpha: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-7)
            w.withUnsafeMutableBufferPointer { wp in
                m.withUnsafeMutableBufferPointer { mp in
                    v.withUnsafeMutableBufferPointer { vp in
                        g.withUnsafeBufferPointer {
                            adamUpdate(parameters: wp.baseAddress!, gradients: $0.baseAddress!, m: mp.baseAddress!, v: vp.baseAddress!,
                                       count: count, alpha: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-7)
                        }
                    }
                }
            }
            #expect(maxAbsDiff(m, rm) <= 1e-7 && maxAbsDiff(v, rv) <= 1e-7)
            #expect(maxAbsDiff(w, rw) <= 1e-6)
        }
    }
}

@Suite struct DenseAndActivationTests {
    /// Column sums split over the pool in strips of 32, 16/8-lane blocks and a scalar tail:
    /// the plain row loop's values exactly (each column adds its rows in order).
    @Test(arguments: [(rows: 1, columns: 1), (3, 7), (5, 8), (9, 15), (4096, 16), (33, 33), (1000, 100), (4096, 512)])
    func columnSumsEqualThePlainLoop(shape: (rows: Int, columns: Int)) {
        let (rows, columns) = shape
        let m = random(rows * columns, seed: 41)
        var want = [Float](repeating: 0, count: columns)
        for r in 0..<rows { for c in 0..<columns { want[c] += m[r * columns + c] } }
        var got = [Float](repeating: .nan, count: columns)
        m.withUnsafeBufferPointer { mp in got.withUnsafeMutableBufferPointer { columnSums(mp.baseAddress!, rows: rows, columns: columns, into: $0.baseAddress!) } }
        #expect(got == want)
    }

    /// `denseForward` on arrays; an output it does not write stays NaN.
    static func dense(_ x: [Float], _ w: [Float], _ b: [Float]?, batch: Int, i: Int, o: Int, relu: Bool = false) -> [Float] {
        var out = [Float](repeating: .nan, count: batch * o)
        x.withUnsafeBufferPointer { xp in
            w.withUnsafeBufferPointer { wp in
                out.withUnsafeMutableBufferPointer { yp in
                    func run(_ bias: UnsafePointer<Float>?) {
                        denseForward(xp.baseAddress!, wp.baseAddress!, bias, yp.baseAddress!, batch: batch, inFeatures: i,
                                     outFeatures: o, relu: relu)
                    }
                    if let b { b.withUnsafeBufferPointer { run($0.baseAddress!) } } else { run(nil) }
                }
            }
        }
        return out
    }

    @Test func dense_matchesReferenceAndGradients() {
        let (batch, i, o) = (5, 7, 4)
        let x = random(batch * i, seed: 1), w = random(i * o, seed: 2), b = random(o, seed: 3), r = random(batch * o, seed: 4)
        #expect(maxAbsDiff(Self.dense(x, w, b, batch: batch, i: i, o: o),
                           Reference.dense(x, weight: w, bias: b, batch: batch, inFeatures: i, outFeatures: o)) < 1e-5)
        var dx = [Float](repeating: 0, count: x.count), dw = [Float](repeating: 0, count: w.count), db = [Float](repeating: 0, count: o)
        r.withUnsafeBufferPointer { rp in
            x.withUnsafeBufferPointer { xp in
                w.withUnsafeBufferPointer { wp in
                    dx.withUnsafeMutableBufferPointer { dxp in
                        dw.withUnsafeMutableBufferPointer { dwp in
                            db.withUnsafeMutableBufferPointer { dbp in
                                var scratch = [Float](repeating: 0, count: denseBackwardAdamScratchCount(maxBatch: batch, outFeatures: o))
                                denseBackward(rp.baseAddress!, xp.baseAddress!, wp.baseAddress!, dweight: dwp.baseAddress!,
                                              dbias: dbp.baseAddress!, dinp: dxp.baseAddress!, scratch: &scratch, batch: batch,
                                              inFeatures: i, outFeatures: o)
                            }
                        }
                    }
                }
            }
        }
        let all = { (n: Int) in Array(0..<n) }
        let nx = GradientCheck.numerical(x, indices: all(x.count), eps: 1e-2, r: r) { Self.dense($0, w, b, batch: batch, i: i, o: o) }
        let nw = GradientCheck.numerical(w, indices: all(w.count), eps: 1e-2, r: r) { Self.dense(x, $0, b, batch: batch, i: i, o: o) }
        let nb = GradientCheck.numerical(b, indices: all(o), eps: 1e-2, r: r) { Self.dense(x, w, $0, batch: batch, i: i, o: o) }
        #expect(GradientCheck.maxError(dx.map(Double.init), nx) < 1e-3)
        #expect(GradientCheck.maxError(dw.map(Double.init), nw) < 1e-3)
        #expect(GradientCheck.maxError(db.map(Double.init), nb) < 1e-3)
    }

    typealias Forward = (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void
    typealias Backward = (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void

    static func apply(_ f: Forward, _ x: [Float]) -> [Float] {
        var y = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { f(xp.baseAddress!, $0.baseAddress!, x.count) } }
        return y
    }

    /// Smooth activations: eps 1e-3 in Float, error O(eps^2) plus rounding ~1e-4; tolerance 2e-3.
    static func checkActivation(_ f: @escaping Forward, _ b: Backward, x: [Float]) -> Double {
        let r = random(x.count, seed: 21)
        let y = apply(f, x)
        var dx = [Float](repeating: 0, count: x.count)
        r.withUnsafeBufferPointer { rp in
            y.withUnsafeBufferPointer { yp in dx.withUnsafeMutableBufferPointer { b(rp.baseAddress!, yp.baseAddress!, $0.baseAddress!, x.count) } }
        }
        let n = GradientCheck.numerical(x, indices: Array(0..<x.count), eps: 1e-3, r: r) { apply(f, $0) }
        return GradientCheck.maxError(dx.map(Double.init), n)
    }

    @Test func sigmoidAndTanh_gradients() {
        let x = random(64, seed: 5, low: -4, high: 4)
        #expect(Self.checkActivation({ sigmoidForward($0, $1, count: $2) }, { sigmoidBackward($0, output: $1, $2, count: $3) }, x: x) < 2e-3)
        #expect(Self.checkActivation({ tanhForward($0, $1, count: $2) }, { tanhBackward($0, output: $1, $2, count: $3) }, x: x) < 2e-3)
        // Extreme inputs stay finite and saturate.
        let y = Self.apply({ sigmoidForward($0, $1, count: $2) }, [-200, 200, 0])
        #expect(y == [0, 1, 0.5])
    }

    @Test func fusedBiasReLU_matchesUnfusedAndGradient() {
        let (rows, cols) = (6, 5)
        let x = random(rows * cols, seed: 7), b = random(cols, seed: 8)
        func fused(_ x: [Float], _ b: [Float]) -> [Float] {
            var y = x
            b.withUnsafeBufferPointer { bp in y.withUnsafeMutableBufferPointer { biasReLUForward($0.baseAddress!, bp.baseAddress!, rows: rows, columns: cols) } }
            return y
        }
        let y = fused(x, b)
        let want = (0..<x.count).map { max(0, x[$0] + b[$0 % cols]) }
        #expect(y == want)
        let r = random(y.count, seed: 9)
        var dx = [Float](repeating: 0, count: x.count)
        r.withUnsafeBufferPointer { rp in y.withUnsafeBufferPointer { yp in dx.withUnsafeMutableBufferPointer { reluBackward(rp.baseAddress!, output: yp.baseAddress!, $0.baseAddress!, count: x.count) } } }
        // Keep away from the kink at 0 by checking only elements with |x + b| > eps.
        let idx = (0..<x.count).filter { abs(x[$0] + b[$0 % cols]) > 0.05 }
        let n = GradientCheck.numerical(x, indices: idx, eps: 1e-2, r: r) { fused($0, b) }
        #expect(GradientCheck.maxError(idx.map { Double(dx[$0]) }, n) < 1e-3)
        // dbias = column sums of the masked gradient.
        let nb = GradientCheck.numerical(b, indices: Array(0..<cols), eps: 1e-3, r: r) { fused(x, $0) }
        var db = [Float](repeating: 0, count: cols)
        dx.withUnsafeBufferPointer { d in db.withUnsafeMutableBufferPointer { columnSums(d.baseAddress!, rows: rows, columns: cols, into: $0.baseAddress!) } }
        #expect(GradientCheck.maxError(db.map(Double.init), nb) < 2e-3)
    }

    static func softmaxCE(_ z: [Float], _ labels: [Int32], classes: Int) -> (loss: Double, probs: [Float], correct: Int) {
        var p = [Float](repeating: 0, count: z.count)
        let batch = labels.count
        let (s, c, _) = z.withUnsafeBufferPointer { zp in
            labels.withUnsafeBufferPointer { lp in
                p.withUnsafeMutableBufferPointer {
                    softmaxCrossEntropyForward(zp.baseAddress!, labels: lp.baseAddress!, probs: $0.baseAddress!, batch: batch, classes: classes)
                }
            }
        }
        return (s / Double(batch), p, c)
    }

    @Test func softmaxCrossEntropy_lossGradientAndStability() {
        let (batch, classes) = (4, 5)
        let z = random(batch * classes, seed: 10, low: -3, high: 3)
        let labels: [Int32] = [0, 3, 4, 2]
        let (loss, probs, _) = Self.softmaxCE(z, labels, classes: classes)
        #expect(abs(loss - Reference.softmaxCrossEntropy(z, labels: labels, classes: classes)) < 1e-5)
        var d = [Float](repeating: 0, count: z.count)
        probs.withUnsafeBufferPointer { pp in
            labels.withUnsafeBufferPointer { lp in
                d.withUnsafeMutableBufferPointer { softmaxCrossEntropyBackward(probs: pp.baseAddress!, labels: lp.baseAddress!, $0.baseAddress!, batch: batch, classes: classes) }
            }
        }
        // Numerical gradient of the mean loss itself (eps 1e-3, tolerance 1e-3).
        let numeric: [Double] = (0..<z.count).map { i in
            var zp = z, zm = z
            zp[i] += 1e-3; zm[i] -= 1e-3
            return (Self.softmaxCE(zp, labels, classes: classes).loss - Self.softmaxCE(zm, labels, classes: classes).loss) / (Double(zp[i]) - Double(zm[i]))
        }
        #expect(GradientCheck.maxError(d.map(Double.init), numeric) < 1e-3)
        // Huge logits: log-sum-exp keeps the loss finite and exact.
        let big: [Float] = [1000, 0, -1000, 0, 1000, 0]
        // Row 0 is right with loss 0; row 1 is wrong by 1000: mean 500, one correct.
        let (l2, p2, c2) = Self.softmaxCE(big, [0, 0], classes: 3)
        #expect(l2.isFinite && abs(l2 - 500) < 1e-3)
        #expect(p2[0] == 1 && c2 == 1)
    }

    @Test func softmaxJacobianBackward_matchesFiniteDifferences() {
        let (rows, cols) = (3, 4)
        let x = random(rows * cols, seed: 12, low: -2, high: 2)
        let f: ([Float]) -> [Float] = { x in
            var y = [Float](repeating: 0, count: x.count)
            x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { softmaxForward(xp.baseAddress!, $0.baseAddress!, rows: rows, columns: cols) } }
            return y
        }
        let y = f(x), r = random(x.count, seed: 13)
        #expect(abs(Tensor(shape: [rows, cols], scalars: y).sum(axis: 1).scalars.reduce(0, +) - Float(rows)) < 1e-5)
        var dx = [Float](repeating: 0, count: x.count)
        r.withUnsafeBufferPointer { rp in y.withUnsafeBufferPointer { yp in dx.withUnsafeMutableBufferPointer { softmaxBackward(rp.baseAddress!, output: yp.baseAddress!, $0.baseAddress!, rows: rows, columns: cols) } } }
        let n = GradientCheck.numerical(x, indices: Array(0..<x.count), eps: 1e-3, r: r, f: f)
        #expect(GradientCheck.maxError(dx.map(Double.init), n) < 2e-3)
    }
}
