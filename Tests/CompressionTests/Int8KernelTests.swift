import CTensorKernels
import Foundation
import Testing
import Tensor

/// The int8 GEMM kernels against their plain-loop twin, on odd sizes (docs/compress.md).
@Suite struct Int8KernelTests {
    static let shapes = [(1, 1, 1), (3, 17, 5), (9, 33, 13), (8, 16, 4), (17, 16, 64), (64, 130, 300), (5, 10, 1153)]

    func random(_ m: Int, _ n: Int, _ k: Int, seed: UInt64) -> (Int8Weights, Int8Workspace) {
        var rng = Xoshiro256(seed: seed)
        var w = [Float](repeating: 0, count: k * n)
        for i in w.indices { w[i] = Float(Int(rng.next() % 255) - 127) }
        // Extremes: the largest products, which a 16-bit pairwise sum (vpmaddubsw) would saturate.
        if m > 1 && k > 1 { for j in 0..<n { w[j] = 127; w[n + j] = 127 } }
        let weights = w.withUnsafeBufferPointer { Int8Weights(values: $0.baseAddress!, k: k, n: n) }
        let ws = Int8Workspace(rows: m, weights: weights)
        for i in 0..<m { for j in 0..<weights.paddedK { ws.activations[i * weights.paddedK + j] = UInt8(truncatingIfNeeded: rng.next()) } }
        if m > 1 && k > 1 { for j in 0..<k { ws.activations[j] = 255 } }
        return (weights, ws)
    }

    func reference(_ m: Int, _ w: Int8Weights, _ ws: Int8Workspace) -> [Int32] {
        Int8GEMM.reference(m: m, weights: w, workspace: ws)
        return Array(UnsafeBufferPointer(start: ws.accumulators, count: m * w.n))
    }

    @Test(arguments: Int8Kernel.allCases)
    func kernelMatchesReference(_ kernel: Int8Kernel) {
        guard Int8Kernel.available.contains(kernel) else { return }
        for (s, (m, n, k)) in Self.shapes.enumerated() {
            let (w, ws) = random(m, n, k, seed: UInt64(s + 1))
            let expected = reference(m, w, ws)
            ws.accumulators.update(repeating: -1, count: m * n)
            Int8GEMM.multiply(kernel, m: m, weights: w, workspace: ws)
            let got = Array(UnsafeBufferPointer(start: ws.accumulators, count: m * n))
            if kernel == .dequantizeSgemm {
                // Float sums: exact while they stay below 2^24.
                let exact = 255 * 127 * k < 1 << 24
                #expect(exact ? got == expected : zip(got, expected).allSatisfy { abs(Double($0) - Double($1)) <= 1e-6 * Double(255 * 127 * k) },
                        "\(kernel) \(m)x\(n)x\(k)")
            } else {
                #expect(got == expected, "\(kernel) \(m)x\(n)x\(k)")
            }
        }
    }

    @Test func portableBaselineWithoutAVX2() {
        let before = fm_kernels_use_avx2(0)
        defer { _ = fm_kernels_use_avx2(before) }
        let (w, ws) = random(9, 33, 13, seed: 9)
        let expected = reference(9, w, ws)
        Int8GEMM.multiply(.portable, m: 9, weights: w, workspace: ws)
        #expect(Array(UnsafeBufferPointer(start: ws.accumulators, count: 9 * 33)) == expected)
    }

    @Test func runtimeChoiceIsAvailableAndExact() {
        let (m, n, k) = (33, 20, 70)
        let chosen = Int8GEMM.kernel(m: m, n: n, k: k)
        #expect(Int8Kernel.available.contains(chosen))
        #expect(Int8GEMM.measuredChoices.contains { $0.m == m && $0.n == n && $0.k == k } || Int8GEMM.forced != nil)
        let (w, ws) = random(m, n, k, seed: 5)
        let expected = reference(m, w, ws)
        Int8GEMM.multiply(chosen, m: m, weights: w, workspace: ws)
        #expect(Array(UnsafeBufferPointer(start: ws.accumulators, count: m * n)) == expected)
    }

    @Test func avx2KernelIsOffWithTheBaselineChoice() {
        let before = fm_kernels_use_avx2(0)
        defer { _ = fm_kernels_use_avx2(before) }
        #expect(!Int8Kernel.available.contains(.avx2))
    }

    @Test func vnniIsAvailableWhereTheCPUSaysSo() {
        let flags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        #expect(Int8Kernel.available.contains(.vnni512) == flags.contains("avx512_vnni"))
    }

    @Test func quantiseThenDequantiseRoundTrip() {
        let (k, n) = (7, 5)
        var w = [Float](repeating: 0, count: k * n)
        for i in w.indices { w[i] = Float(sin(Double(i) * 1.3)) * Float(1 + i % n) }
        for i in 0..<k { w[i * n + 4] = 0 }   // an all-zero column
        var q = [Float](repeating: 0, count: k * n), scales = [Float](repeating: 0, count: n)
        quantizePerColumn(w, k: k, n: n, into: &q, scales: &scales)
        #expect(scales[4] == 1)
        for j in 0..<n {
            let column = (0..<k).map { q[$0 * n + j] }
            if j != 4 { #expect(column.map(abs).max() == 127, "column \(j) uses the full range") }
            for i in 0..<k {
                #expect(q[i * n + j] == q[i * n + j].rounded() && abs(q[i * n + j]) <= 127)
                #expect(abs(q[i * n + j] * scales[j] - w[i * n + j]) <= scales[j] / 2 * 1.0001)
            }
        }
        let image = activationQuantization(min: 0, max: 1)
        #expect(image.zeroPoint == 0 && abs(image.scale - 1 / 255) < 1e-9)
        let signed = activationQuantization(min: -1, max: 3)
        #expect(abs(signed.scale - 4 / 255) < 1e-7 && signed.zeroPoint == 64)
        // Zero is exactly representable: q = zp dequantises to 0.
        #expect(Float(signed.zeroPoint - signed.zeroPoint) * signed.scale == 0)
        var u8 = [UInt8](repeating: 9, count: 4)
        let x: [Float] = [-1, 0, 3, 10]
        fm_quantize_u8(x, 1, 3, 3, 1 / signed.scale, Int32(signed.zeroPoint), &u8, 4)
        #expect(u8 == [0, 64, 255, 0])
    }
}

@Suite struct Int8ScaledTests {
    /// Every kernel's scaled output (the VNNI kernel's fused epilogue included) against the
    /// reference product scaled by plain loops.
    @Test(arguments: Int8Kernel.allCases)
    func scaledOutputMatchesReference(_ kernel: Int8Kernel) {
        guard Int8Kernel.available.contains(kernel) else { return }
        for (m, n, k) in [(1, 3, 5), (9, 17, 13), (16, 33, 40), (37, 10, 128)] {
            var rng = Xoshiro256(seed: UInt64(m * 1000 + n))
            let wv = (0..<(k * n)).map { _ in Float(Int(rng.next() % 255) - 127) }
            let w = wv.withUnsafeBufferPointer { Int8Weights(values: $0.baseAddress!, k: k, n: n) }
            let ws = Int8Workspace(rows: m, weights: w)
            for i in 0..<(m * w.paddedK) { ws.activations[i] = UInt8(truncatingIfNeeded: rng.next()) }
            let zp: Int32 = 7
            for j in 0..<n { ws.correction[j] = zp * w.columnSums[j] }
            let scales = (0..<n).map { Float($0 + 1) * 1e-3 }, bias = (0..<n).map { Float($0) * 0.01 - 0.05 }
            var y = [Float](repeating: .nan, count: m * n)
            Int8GEMM.multiplyScaled(kernel, m: m, weights: w, workspace: ws, inputScale: 0.02, weightScale: scales, bias: bias,
                                    relu: true, into: &y)
            Int8GEMM.reference(m: m, weights: w, workspace: ws)
            for i in 0..<m {
                for j in 0..<n {
                    let acc = ws.accumulators[i * n + j] - ws.correction[j]
                    let expected = max(0, Float(0.02) * scales[j] * Float(acc) + bias[j])
                    #expect(abs(y[i * n + j] - expected) <= 1e-5 * max(1, abs(expected)), "\(kernel) \(m)x\(n)x\(k) [\(i), \(j)]")
                }
            }
        }
    }
}
