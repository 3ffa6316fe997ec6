import CTensorKernels
import Testing
import Tensor

/// The dense kernels in C (own forward GEMM; backward fused with Adam) against their twins:
/// `Reference.dense`, `Reference.gemm` and `Reference.adamUpdate`, for both compiled
/// versions (AVX2+FMA where the CPU has it, and the baseline) and shapes that reach every
/// tail: batch rows in blocks of 6/4/2/1, 16- and 8-column strips and single columns,
/// input features across the 256-row strips, ranges split between two threads.
@Suite(.serialized) struct DenseKernelTests {
    struct Shape: CustomTestStringConvertible, Sendable {
        let batch, inFeatures, outFeatures: Int
        var testDescription: String { "B\(batch) \(inFeatures)->\(outFeatures)" }
    }

    static let shapes = [
        Shape(batch: 32, inFeatures: 300, outFeatures: 128),  // two threads, two strips of rows
        Shape(batch: 33, inFeatures: 61, outFeatures: 40),    // 6+6+...+4+2+1 rows; 16+16+8 columns
        Shape(batch: 5, inFeatures: 13, outFeatures: 10),     // 8 columns and 2 single ones
        Shape(batch: 1, inFeatures: 7, outFeatures: 3),       // no vector at all
        Shape(batch: 16, inFeatures: 600, outFeatures: 24),
        Shape(batch: 4, inFeatures: 1, outFeatures: 16),
        Shape(batch: 48, inFeatures: 200, outFeatures: 48),   // 6-row blocks on two threads, row tails
        Shape(batch: 16, inFeatures: 100, outFeatures: 32),
    ]

    /// The AVX-512 version's tails too: 64-, 32- and 16-column strips, a masked last vector
    /// (columns not a multiple of 16), blocks of 12/8/4/2/1 rows, input features across its
    /// 128-row strips.
    static let extraForwardShapes = [
        Shape(batch: 27, inFeatures: 130, outFeatures: 119),  // 64+32+16 columns + 7 masked; 12+12+2+1 rows
        Shape(batch: 1, inFeatures: 257, outFeatures: 17),    // one row; 16 + 1 masked column
        Shape(batch: 23, inFeatures: 3, outFeatures: 5),      // 12+8+2+1 rows; one masked vector
        Shape(batch: 70, inFeatures: 128, outFeatures: 512),  // the transformer's shapes, split between threads
    ]

    func forward(_ x: [Float], _ w: [Float], _ b: [Float]?, _ s: Shape, relu: Bool) -> [Float] {
        DenseAndActivationTests.dense(x, w, b, batch: s.batch, i: s.inFeatures, o: s.outFeatures, relu: relu)
    }

    /// Every version of the forward kernel: 0 baseline, 1 AVX2+FMA, 2 AVX-512 (each where the
    /// CPU has it, else the best below).
    @Test(arguments: shapes + extraForwardShapes, [0, 1, 2] as [Int32])
    func forward_matchesReference(_ s: Shape, level: Int32) {
        let before = fm_kernels_use_level(level)
        defer { fm_kernels_set_thread_choice(before) }
        let x = random(s.batch * s.inFeatures, seed: 1), w = random(s.inFeatures * s.outFeatures, seed: 2)
        let b = random(s.outFeatures, seed: 3, low: -0.5, high: 0.5)
        let want = Reference.dense(x, weight: w, bias: b, batch: s.batch, inFeatures: s.inFeatures, outFeatures: s.outFeatures)
        let tolerance = 1e-5 * Float(s.inFeatures).squareRoot() * 4
        #expect(maxAbsDiff(forward(x, w, b, s, relu: false), want) < tolerance)
        #expect(maxAbsDiff(forward(x, w, b, s, relu: true), want.map { max(0, $0) }) < tolerance)
        let noBias = Reference.dense(x, weight: w, bias: nil, batch: s.batch, inFeatures: s.inFeatures, outFeatures: s.outFeatures)
        #expect(maxAbsDiff(forward(x, w, nil, s, relu: false), noBias) < tolerance)
        let relu = forward(x, w, b, s, relu: true)
        #expect(relu.allSatisfy { $0 >= 0 } && relu.contains { $0 > 0 })
    }

    /// One fused step against the twin: the gradients by the textbook GEMM (with the weights
    /// before the update), then the element-wise Adam.
    @Test(arguments: shapes, [true, false])
    func backwardAdam_matchesGradientsThenAdam(_ s: Shape, avx2: Bool) {
        let before = fm_kernels_use_avx2(avx2 ? 1 : 0)
        defer { fm_kernels_use_avx2(before) }
        let (n, i, o) = (s.batch, s.inFeatures, s.outFeatures)
        let x = random(n * i, seed: 11), dy = random(n * o, seed: 12, low: -0.2, high: 0.2)
        let w = random(i * o, seed: 13), m = random(i * o, seed: 14, low: -0.05, high: 0.05)
        let v = random(i * o, seed: 15, low: 0, high: 0.01)
        let (alpha, beta1, beta2, eps): (Float, Float, Float, Float) = (0.01, 0.9, 0.999, 1e-7)

        let dw = Reference.gemm(transposeA: true, transposeB: false, m: i, n: o, k: n, alpha: 1, a: x, b: dy, beta: 0,
                                c: [Float](repeating: 0, count: i * o))
        let dxWant = Reference.gemm(transposeA: false, transposeB: true, m: n, n: i, k: o, alpha: 1, a: dy, b: w, beta: 0,
                                    c: [Float](repeating: 0, count: n * i))
        var (rw, rm, rv) = (w, m, v)
        Reference.adamUpdate(parameters: &rw, gradients: dw, m: &rm, v: &rv, alpha: alpha, beta1: beta1, beta2: beta2, epsilon: eps)
        let dbWant = (0..<o).map { c in (0..<n).reduce(Float(0)) { $0 + dy[$1 * o + c] } }

        for withInputGradient in [true, false] {
            var (fw, fm, fv) = (w, m, v)
            var dx = [Float](repeating: .nan, count: n * i), db = [Float](repeating: .nan, count: o)
            var scratch = [Float](repeating: .nan, count: denseBackwardAdamScratchCount(maxBatch: n, outFeatures: o))
            x.withUnsafeBufferPointer { xp in
                dy.withUnsafeBufferPointer { dyp in
                    fw.withUnsafeMutableBufferPointer { wp in
                        fm.withUnsafeMutableBufferPointer { mp in
                            fv.withUnsafeMutableBufferPointer { vp in
                                dx.withUnsafeMutableBufferPointer { dxp in
                                    db.withUnsafeMutableBufferPointer { dbp in
                                        scratch.withUnsafeMutableBufferPointer { sp in
                                            denseBackwardAdam(dyp.baseAddress!, xp.baseAddress!, weight: wp.baseAddress!,
                                                              m: mp.baseAddress!, v: vp.baseAddress!, dbias: dbp.baseAddress!,
                                                              dinp: withInputGradient ? dxp.baseAddress! : nil,
                                                              scratch: sp.baseAddress!, batch: n, inFeatures: i, outFeatures: o,
                                                              alpha: alpha, beta1: beta1, beta2: beta2, epsilon: eps)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            #expect(maxAbsDiff(fm, rm) <= 1e-6, "m")
            #expect(maxAbsDiff(fv, rv) <= 1e-6, "v")
            #expect(maxAbsDiff(fw, rw) <= 2e-5, "w")
            #expect(maxAbsDiff(db, dbWant) <= 1e-5, "bias gradient")
            if withInputGradient {
                #expect(maxAbsDiff(dx, dxWant) <= 1e-5 * Float(o), "input gradient")
            } else {
                #expect(dx.allSatisfy { $0.isNaN }, "input gradient written although not asked for")
            }
        }
        // The twin moves most weights by well over the tolerance, so a weight that a tail
        // skipped would fail the comparison above.
        #expect(zip(rw, w).filter { abs($0 - $1) > 1e-4 }.count > w.count / 2)
    }

    /// The same sweep storing the weight gradient (the path of a step with a gradient hook):
    /// the weight, input and bias gradients against the textbook GEMMs, the weights untouched,
    /// every element of the weight gradient written.
    @Test(arguments: shapes, [true, false])
    func backward_storesTheGradientsOfTheTextbookGEMMs(_ s: Shape, avx2: Bool) {
        let before = fm_kernels_use_avx2(avx2 ? 1 : 0)
        defer { fm_kernels_use_avx2(before) }
        let (n, i, o) = (s.batch, s.inFeatures, s.outFeatures)
        let x = random(n * i, seed: 21), dy = random(n * o, seed: 22, low: -0.2, high: 0.2), w = random(i * o, seed: 23)
        let dwWant = Reference.gemm(transposeA: true, transposeB: false, m: i, n: o, k: n, alpha: 1, a: x, b: dy, beta: 0,
                                    c: [Float](repeating: 0, count: i * o))
        let dxWant = Reference.gemm(transposeA: false, transposeB: true, m: n, n: i, k: o, alpha: 1, a: dy, b: w, beta: 0,
                                    c: [Float](repeating: 0, count: n * i))
        let dbWant = (0..<o).map { c in (0..<n).reduce(Float(0)) { $0 + dy[$1 * o + c] } }
        for withInputGradient in [true, false] {
            var dw = [Float](repeating: .nan, count: i * o), dx = [Float](repeating: .nan, count: n * i)
            var db = [Float](repeating: .nan, count: o)
            var scratch = [Float](repeating: .nan, count: denseBackwardAdamScratchCount(maxBatch: n, outFeatures: o))
            let weights = w
            x.withUnsafeBufferPointer { xp in
                dy.withUnsafeBufferPointer { dyp in
                    weights.withUnsafeBufferPointer { wp in
                        dw.withUnsafeMutableBufferPointer { dwp in
                            dx.withUnsafeMutableBufferPointer { dxp in
                                db.withUnsafeMutableBufferPointer { dbp in
                                    scratch.withUnsafeMutableBufferPointer { sp in
                                        denseBackward(dyp.baseAddress!, xp.baseAddress!, wp.baseAddress!, dweight: dwp.baseAddress!,
                                                      dbias: dbp.baseAddress!, dinp: withInputGradient ? dxp.baseAddress! : nil,
                                                      scratch: sp.baseAddress!, batch: n, inFeatures: i, outFeatures: o)
                                    }
                                }
                            }
                        }
                    }
                }
            }
            #expect(weights == w)
            #expect(maxAbsDiff(dw, dwWant) <= 1e-5 * Float(n), "weight gradient")
            #expect(maxAbsDiff(db, dbWant) <= 1e-5, "bias gradient")
            if withInputGradient {
                #expect(maxAbsDiff(dx, dxWant) <= 1e-5 * Float(o), "input gradient")
            } else {
                #expect(dx.allSatisfy { $0.isNaN }, "input gradient written although not asked for")
            }
        }
    }
}
