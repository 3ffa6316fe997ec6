import CTensorKernels
import Testing
import Tensor

/// The fused first block against its unfused twins: conv2dForward(relu) + maxPoolForward,
/// and maxPoolBackward(reluMask:) + conv2dBackward.
@Suite(.serialized) struct ConvReLUPoolTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let b, h, w, cin, k, cout: Int
        var conv: ConvGeometry {
            ConvGeometry(batch: b, height: h, width: w, inChannels: cin, kernelHeight: k, kernelWidth: k, outChannels: cout)
        }
        var pool: PoolGeometry {
            PoolGeometry(batch: b, height: conv.outHeight, width: conv.outWidth, channels: cout,
                         poolHeight: 2, poolWidth: 2, strideHeight: 2, strideWidth: 2)
        }
        var testDescription: String { "B\(b) \(h)x\(w)x\(cin) k\(k) ->\(cout)" }
    }

    static let cases = [
        Case(b: 3, h: 10, w: 10, cin: 1, k: 3, cout: 32),   // the reference CNN's block, small
        Case(b: 2, h: 9, w: 8, cin: 2, k: 3, cout: 16),     // odd conv output: last row dropped
        Case(b: 40, h: 6, w: 7, cin: 1, k: 2, cout: 8),     // many cells: both threads, several blocks
        Case(b: 2, h: 8, w: 8, cin: 3, k: 3, cout: 40),
    ]

    @Test func applies_onlyToStrideOneValidTwoByTwo() {
        let c = Self.cases[0]
        #expect(convReLUPoolApplies(c.conv, c.pool))
        let strided = ConvGeometry(batch: 1, height: 10, width: 10, inChannels: 1, kernelHeight: 3, kernelWidth: 3, outChannels: 32, strideHeight: 2, strideWidth: 2)
        #expect(!convReLUPoolApplies(strided, c.pool))
        let odd = ConvGeometry(batch: 1, height: 10, width: 10, inChannels: 1, kernelHeight: 3, kernelWidth: 3, outChannels: 12)
        #expect(!convReLUPoolApplies(odd, PoolGeometry(batch: 1, height: 8, width: 8, channels: 12, poolHeight: 2, poolWidth: 2, strideHeight: 2, strideWidth: 2)))
    }

    /// Both compiled versions: AVX2+FMA (where the CPU has it) and the baseline.
    @Test(arguments: cases, [true, false])
    func fused_matchesUnfusedForwardAndWeightGradient(_ t: Case, avx2: Bool) {
        let before = fm_kernels_use_avx2(avx2 ? 1 : 0)
        defer { fm_kernels_use_avx2(before) }
        let c = t.conv, p = t.pool
        let x = random(c.inputCount, seed: 1), w = random(c.weightCount, seed: 2), bias = random(c.outChannels, seed: 3, low: -0.3, high: 0.3)
        let dpool = random(p.outputCount, seed: 4)
        // Unfused.
        let y = convForward(x, w, bias, c, relu: true)
        let (pooled, argmax) = PoolingTests.forward(y, p)
        var dy = [Float](repeating: 0, count: c.outputCount)
        dpool.withUnsafeBufferPointer { dp in
            argmax.withUnsafeBufferPointer { ap in
                pooled.withUnsafeBufferPointer { pp in
                    dy.withUnsafeMutableBufferPointer { maxPoolBackward(dp.baseAddress!, argmax: ap.baseAddress!, $0.baseAddress!, p, reluMask: pp.baseAddress!) }
                }
            }
        }
        let (_, dwWant, dbWant) = convBackward(x, w, dy, c)
        // Fused.
        var fusedPooled = [Float](repeating: 0, count: p.outputCount)
        var winner = [Int32](repeating: 0, count: p.outputCount)
        var offsets = [Int](repeating: 0, count: c.patchSize)
        var dw = [Float](repeating: 0, count: c.weightCount), db = [Float](repeating: 0, count: c.outChannels)
        var partials = [Float](repeating: 0, count: conv2dBackwardWorkspaceCount(c))
        offsets.withUnsafeMutableBufferPointer { convPatchOffsets(c, into: $0.baseAddress!) }
        x.withUnsafeBufferPointer { xp in
            w.withUnsafeBufferPointer { wp in
                bias.withUnsafeBufferPointer { bp in
                    offsets.withUnsafeBufferPointer { op in
                        fusedPooled.withUnsafeMutableBufferPointer { pp in
                            winner.withUnsafeMutableBufferPointer { wi in
                                convReLUPoolForward(xp.baseAddress!, wp.baseAddress!, bias: bp.baseAddress!, pooled: pp.baseAddress!,
                                                    winner: wi.baseAddress!, offsets: op.baseAddress!, c, p)
                            }
                        }
                    }
                }
            }
        }
        // The same sums in the same order; with FMA (one rounding instead of two) they can
        // differ in the last bits, so: equal to rounding.
        #expect(maxAbsDiff(fusedPooled, pooled) < 1e-5)
        // The winner is the position of the window's maximum, wherever the maximum stands out
        // by more than rounding (near-ties, the ReLU's all-zero windows among them, may go
        // either way); most windows do.
        var checked = 0
        for i in 0..<p.outputCount {
            let channel = i % c.outChannels, cell = i / c.outChannels
            let (px, py, b) = (cell % p.outWidth, cell / p.outWidth % p.outHeight, cell / (p.outWidth * p.outHeight))
            let values = (0..<4).map { q in y[((b * c.outHeight + 2 * py + q / 2) * c.outWidth + 2 * px + q % 2) * c.outChannels + channel] }
            let sorted = values.sorted(by: >)
            guard sorted[0] - sorted[1] > 1e-4 else { continue }
            checked += 1
            #expect(Int(winner[i]) == values.firstIndex(of: sorted[0]), "window \(i): \(values)")
        }
        #expect(checked * 3 >= p.outputCount, "only \(checked) of \(p.outputCount) windows have a clear maximum")
        x.withUnsafeBufferPointer { xp in
            dpool.withUnsafeBufferPointer { dp in
                fusedPooled.withUnsafeBufferPointer { pp in
                    winner.withUnsafeBufferPointer { wi in
                        offsets.withUnsafeBufferPointer { op in
                            dw.withUnsafeMutableBufferPointer { dwp in
                                db.withUnsafeMutableBufferPointer { dbp in
                                    partials.withUnsafeMutableBufferPointer {
                                        convReLUPoolWeightGradient(xp.baseAddress!, dpooled: dp.baseAddress!, pooled: pp.baseAddress!,
                                                                   winner: wi.baseAddress!, offsets: op.baseAddress!, dweight: dwp.baseAddress!,
                                                                   dbias: dbp.baseAddress!, partials: $0.baseAddress!, c, p)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        // Same sums in another order: equal to Float rounding.
        #expect(maxAbsDiff(dw, dwWant) < 1e-3)
        #expect(maxAbsDiff(db, dbWant) < 1e-3)
        #expect(dw.contains { $0 != 0 })
    }
}
