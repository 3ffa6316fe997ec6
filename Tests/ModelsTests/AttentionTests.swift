import CTensorKernels
import Foundation
import Testing
import Tensor
@testable import Models

// MultiHeadAttention (docs/transformer.md) against a plain float64 twin (naive loops, below),
// finite differences, PyTorch float64 values (scripts/torch-reference/attention.py), and its
// own full forward for the key/value-cache decoding.

/// The layer's parameters and an input, as Double arrays in the layer's layout.
struct AttentionCase {
    let batch: Int, length: Int, width: Int, heads: Int, causal: Bool, useBias: Bool
    var x: [Double], qkvKernel: [Double], qkvBias: [Double], outputKernel: [Double], outputBias: [Double]

    init(batch: Int, length: Int, width: Int, heads: Int, causal: Bool, useBias: Bool = true, seed: UInt64 = 7) {
        self.batch = batch; self.length = length; self.width = width; self.heads = heads
        self.causal = causal; self.useBias = useBias
        var rng = Xoshiro256(seed: seed)
        func draw(_ n: Int, _ s: Float) -> [Double] { (0..<n).map { _ in Double(rng.nextFloat(in: -s, s)) } }
        let d = width
        x = draw(batch * length * d, 1)
        qkvKernel = draw(d * 3 * d, 0.6)
        qkvBias = useBias ? draw(3 * d, 0.2) : []
        outputKernel = draw(d * d, 0.6)
        outputBias = useBias ? draw(d, 0.2) : []
    }

    /// The flat parameter array in the layer's order (qkv_kernel, qkv_bias, output_kernel, output_bias).
    var parameters: [Double] { qkvKernel + qkvBias + outputKernel + outputBias }

    /// The float64 twin: naive loops over samples, heads, rows and keys. `keep(b, h, i, j)`
    /// is the dropout multiplier of a probability (1 without dropout).
    func reference(x: [Double]? = nil, parameters p: [Double]? = nil,
                   keep: (Int, Int, Int, Int) -> Double = { _, _, _, _ in 1 }) -> [Double] {
        let x = x ?? self.x, p = p ?? parameters
        let t = length, d = width, hd = width / heads
        let wq = Array(p[0..<(3 * d * d)])
        var o = 3 * d * d
        let bq = useBias ? Array(p[o..<(o + 3 * d)]) : [Double](repeating: 0, count: 3 * d)
        if useBias { o += 3 * d }
        let wo = Array(p[o..<(o + d * d)]); o += d * d
        let bo = useBias ? Array(p[o..<(o + d)]) : [Double](repeating: 0, count: d)
        var y = [Double](repeating: 0, count: batch * t * d)
        for b in 0..<batch {
            var qkv = [Double](repeating: 0, count: t * 3 * d)
            for i in 0..<t {
                for c in 0..<(3 * d) {
                    var s = bq[c]
                    for f in 0..<d { s += x[(b * t + i) * d + f] * wq[f * 3 * d + c] }
                    qkv[i * 3 * d + c] = s
                }
            }
            var concat = [Double](repeating: 0, count: t * d)
            for h in 0..<heads {
                for i in 0..<t {
                    var scores = [Double](repeating: -.infinity, count: t)
                    for j in 0..<t where !causal || j <= i {
                        var s = 0.0
                        for c in 0..<hd { s += qkv[i * 3 * d + h * hd + c] * qkv[j * 3 * d + d + h * hd + c] }
                        scores[j] = s / Double(hd).squareRoot()
                    }
                    let m = scores.max()!
                    let e = scores.map { $0 == -.infinity ? 0 : Foundation.exp($0 - m) }
                    let z = e.reduce(0, +)
                    for j in 0..<t {
                        let w = e[j] / z * keep(b, h, i, j)
                        for c in 0..<hd { concat[i * d + h * hd + c] += w * qkv[j * 3 * d + 2 * d + h * hd + c] }
                    }
                }
            }
            for i in 0..<t {
                for c in 0..<d {
                    var s = bo[c]
                    for f in 0..<d { s += concat[i * d + f] * wo[f * d + c] }
                    y[(b * t + i) * d + c] = s
                }
            }
        }
        return y
    }

    /// The twin's gradients of L = sum(y * dy) with respect to x and the parameters, by
    /// central differences in float64 (h 1e-6: error ~1e-9, far below the Float tolerances).
    func referenceGradients(dy: [Double], keep: @escaping (Int, Int, Int, Int) -> Double = { _, _, _, _ in 1 })
        -> (dx: [Double], dParameters: [Double]) {
        func loss(_ x: [Double], _ p: [Double]) -> Double {
            zip(reference(x: x, parameters: p, keep: keep), dy).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let h = 1e-6, p0 = parameters
        var dx = x, dp = p0
        for i in x.indices {
            var a = x, b = x
            a[i] += h; b[i] -= h
            dx[i] = (loss(a, p0) - loss(b, p0)) / (2 * h)
        }
        for i in p0.indices {
            var a = p0, b = p0
            a[i] += h; b[i] -= h
            dp[i] = (loss(x, a) - loss(x, b)) / (2 * h)
        }
        return (dx, dp)
    }
}

/// A built, bound and allocated layer with a case's parameters.
final class AttentionHarness {
    let layer: MultiHeadAttention
    let parameters: FloatBuffer, gradients: FloatBuffer
    let c: AttentionCase

    init(_ c: AttentionCase, dropout: Double = 0, kernel: AttentionKernel = .rows, maxBatch: Int? = nil) throws {
        self.c = c
        layer = MultiHeadAttention(numHeads: c.heads, causal: c.causal, dropout: dropout, useBias: c.useBias)
        layer.kernel = kernel
        #expect(try layer.build(inputShape: [c.length, c.width]) == [c.length, c.width])
        parameters = FloatBuffer(count: layer.parameterCount)
        gradients = FloatBuffer(count: layer.parameterCount)
        #expect(layer.parameterCount == c.parameters.count)
        layer.bind(parameters: parameters.pointer, gradients: gradients.pointer)
        for (i, v) in c.parameters.enumerated() { parameters.pointer[i] = Float(v) }
        layer.allocate(maxBatch: maxBatch ?? c.batch, needsInputGradient: true)
    }

    func forward(_ x: [Float], training: Bool = false) -> [Float] {
        x.withUnsafeBufferPointer { p in
            let y = layer.forward(p.baseAddress!, batch: c.batch, training: training)
            return Array(UnsafeBufferPointer(start: y, count: c.batch * c.length * c.width))
        }
    }

    /// Forward then backward of `dy`: (y, dx, parameter gradients).
    func run(_ x: [Float], dy: [Float], training: Bool = false) -> (y: [Float], dx: [Float], dp: [Float]) {
        x.withUnsafeBufferPointer { p in
            let y = layer.forward(p.baseAddress!, batch: c.batch, training: training)
            let yy = Array(UnsafeBufferPointer(start: y, count: c.batch * c.length * c.width))
            var g = dy
            let dx = g.withUnsafeMutableBufferPointer { layer.backward($0.baseAddress!, batch: c.batch)! }
            return (yy, Array(UnsafeBufferPointer(start: dx, count: x.count)), gradients.array)
        }
    }
}

func expectClose(_ a: [Float], _ b: [Double], rel: Double, abs absTol: Double, _ what: String,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.count == b.count, "\(what): count", sourceLocation: sourceLocation)
    var worst = 0.0, at = -1
    for i in 0..<min(a.count, b.count) {
        let excess = abs(Double(a[i]) - b[i]) - (rel * abs(b[i]) + absTol)
        if excess > worst { worst = excess; at = i }
    }
    #expect(at < 0, "\(what): element \(at): \(at >= 0 ? a[at] : 0) vs \(at >= 0 ? b[at] : 0)", sourceLocation: sourceLocation)
}

func drawFloats(_ n: Int, seed: UInt64) -> [Float] {
    var rng = Xoshiro256(seed: seed)
    return (0..<n).map { _ in rng.nextFloat(in: -1, 1) }
}

@Suite struct MultiHeadAttentionTests {
    struct Shape: Sendable, CustomTestStringConvertible {
        let b: Int, t: Int, d: Int, h: Int
        var testDescription: String { "B\(b) T\(t) D\(d) H\(h)" }
    }
    static let shapes = [Shape(b: 2, t: 5, d: 8, h: 2), Shape(b: 1, t: 1, d: 4, h: 1), Shape(b: 3, t: 1, d: 8, h: 4),
                         Shape(b: 2, t: 7, d: 12, h: 3), Shape(b: 2, t: 9, d: 16, h: 2), Shape(b: 1, t: 6, d: 20, h: 2)]

    // Forward and backward against the float64 twin, both kernels, causal and not. Tolerance:
    // 1e-4 relative + 1e-4 absolute, Float rounding over sums of at most a few hundred terms
    // of size ~1.
    @Test(arguments: shapes, [false, true])
    func matchesFloat64Twin(shape s: Shape, causal: Bool) throws {
        let c = AttentionCase(batch: s.b, length: s.t, width: s.d, heads: s.h, causal: causal, seed: UInt64(s.d * 31 + s.t))
        let dy = drawFloats(c.x.count, seed: 99)
        let want = c.reference()
        let (dxWant, dpWant) = c.referenceGradients(dy: dy.map(Double.init))
        // Kernel level 2: the C row kernels (AVX-512, where the CPU has it); 1: the Swift ones.
        for kernel in AttentionKernel.allCases {
            for level: Int32 in [2, 1] {
                let before = fm_kernels_use_level(level)
                defer { fm_kernels_set_thread_choice(before) }
                let h = try AttentionHarness(c, kernel: kernel)
                let (y, dx, dp) = h.run(c.x.map(Float.init), dy: dy)
                expectClose(y, want, rel: 1e-4, abs: 1e-4, "\(kernel) level \(level) y")
                expectClose(dx, dxWant, rel: 1e-4, abs: 2e-4, "\(kernel) level \(level) dx")
                expectClose(dp, dpWant, rel: 1e-4, abs: 2e-4, "\(kernel) level \(level) parameter gradients")
            }
        }
    }

    // The row kernels' two versions (level 2: C, AVX-512 where the CPU has it; level 1: Swift)
    // at shapes too large for the finite-difference twin: 64-key passes with a masked rest, head
    // widths 20 (16 + 4 masked) and 32, causal and not. The forward against the float64 twin,
    // the gradients against each other.
    @Test(arguments: [Shape(b: 2, t: 70, d: 40, h: 2), Shape(b: 1, t: 40, d: 64, h: 2), Shape(b: 3, t: 33, d: 16, h: 1)],
          [false, true])
    func rowKernelVersionsAgree(shape s: Shape, causal: Bool) throws {
        let c = AttentionCase(batch: s.b, length: s.t, width: s.d, heads: s.h, causal: causal, seed: UInt64(s.d * 7 + s.t))
        let dy = drawFloats(c.x.count, seed: 98)
        let want = c.reference()
        var results: [(y: [Float], dx: [Float], dp: [Float])] = []
        for level: Int32 in [2, 1] {
            let before = fm_kernels_use_level(level)
            defer { fm_kernels_set_thread_choice(before) }
            let h = try AttentionHarness(c, kernel: .rows)
            let r = h.run(c.x.map(Float.init), dy: dy)
            expectClose(r.y, want, rel: 1e-4, abs: 1e-4, "level \(level) y")
            results.append(r)
        }
        expectClose(results[0].dx, results[1].dx.map(Double.init), rel: 1e-4, abs: 1e-4, "dx")
        expectClose(results[0].dp, results[1].dp.map(Double.init), rel: 1e-4, abs: 1e-4, "parameter gradients")
    }

    @Test func withoutBias_matchesTwin() throws {
        let c = AttentionCase(batch: 2, length: 4, width: 8, heads: 2, causal: true, useBias: false)
        let h = try AttentionHarness(c)
        #expect(h.layer.parameters.map(\.name) == ["qkv_kernel", "output_kernel"])
        let dy = drawFloats(c.x.count, seed: 3)
        let (y, dx, dp) = h.run(c.x.map(Float.init), dy: dy)
        let (dxWant, dpWant) = c.referenceGradients(dy: dy.map(Double.init))
        expectClose(y, c.reference(), rel: 1e-4, abs: 1e-4, "y")
        expectClose(dx, dxWant, rel: 1e-4, abs: 2e-4, "dx")
        expectClose(dp, dpWant, rel: 1e-4, abs: 2e-4, "dp")
    }

    /// A smaller batch than allocated, and a second call reusing the workspaces.
    @Test func smallerBatchThanAllocated() throws {
        let c = AttentionCase(batch: 2, length: 6, width: 8, heads: 2, causal: true)
        let h = try AttentionHarness(c, maxBatch: 5)
        let first = h.forward(c.x.map(Float.init))
        _ = h.forward(drawFloats(c.x.count, seed: 1))
        #expect(h.forward(c.x.map(Float.init)) == first)
        expectClose(first, c.reference(), rel: 1e-4, abs: 1e-4, "y")
    }

    // Finite differences of the Float layer itself, L = sum(y * dy) summed in Double,
    // eps 1e-2: for the input and every parameter, causal and not, with and without dropout
    // (dropout: the rng reset before every forward, so each sees the same mask). Tolerance
    // 2e-2 relative + 2e-3 absolute: the loss's Float rounding (~1e-6) over 2 eps, and the
    // curvature of softmax at this eps.
    @Test(arguments: [false, true], [0.0, 0.3])
    func finiteDifferences(causal: Bool, dropout: Double) throws {
        let c = AttentionCase(batch: 2, length: 4, width: 6, heads: 2, causal: causal, seed: 11)
        let h = try AttentionHarness(c, dropout: dropout)
        h.layer.rng = Xoshiro256(seed: 42)
        let state = h.layer.rng
        let training = dropout > 0
        let x = c.x.map(Float.init), dy = drawFloats(x.count, seed: 5)
        let (_, dx, dp) = h.run(x, dy: dy, training: training)
        func loss(_ x: [Float]) -> Double {
            h.layer.rng = state
            return zip(h.forward(x, training: training), dy).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        let eps: Float = 1e-2
        for i in x.indices {
            var a = x, b = x
            a[i] += eps; b[i] -= eps
            let numeric = (loss(a) - loss(b)) / Double(a[i] - b[i])
            #expect(abs(Double(dx[i]) - numeric) <= 2e-2 * abs(numeric) + 2e-3, "dx[\(i)]")
        }
        for i in 0..<h.layer.parameterCount {
            let p = h.parameters.pointer + i, saved = p.pointee
            p.pointee = saved + eps
            let up = loss(x)
            p.pointee = saved - eps
            let down = loss(x)
            p.pointee = saved
            let numeric = (up - down) / Double((saved + eps) - (saved - eps))
            #expect(abs(Double(dp[i]) - numeric) <= 2e-2 * abs(numeric) + 2e-3, "parameter \(i)")
        }
    }

    // The model-level check (the loss through Flatten and a softmax Dense), with the repository's helper.
    @Test(arguments: [false, true])
    func modelGradients(causal: Bool) throws {
        let t = 4, d = 8, n = 4
        var rng = Xoshiro256(seed: 3)
        let x = (0..<(n * t * d)).map { _ in rng.nextFloat(in: -1, 1) }
        let data = ArrayBatchSource(inputs: x, labels: (0..<n).map { Int32($0 % 3) }, sampleShape: [t, d], classCount: 3)
        let m = try Sequential(inputShape: [t, d], layers: [MultiHeadAttention(numHeads: 2, causal: causal), Flatten(),
                                                       Dense(units: 3, activation: .softmax)], seed: 4)
        m.compile(optimizer: SGD(learningRate: 0))
        #expect(m.layers[0].name == "multi_head_attention")
        #expect(checkModelGradients(m, data, batch: n) == m.parameterCount)
    }

    // PyTorch float64 (scaled_dot_product_attention) on the layer's layout, compared in Float:
    // 1e-4 relative + 1e-5 absolute.
    @Test(arguments: ["bidirectional", "causal"])
    func matchesPyTorch(mode: String) throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/torch/attention.json")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        func doubles(_ o: Any?) throws -> [Double] { try #require(o as? [Double]) }
        let expected = try #require(json[mode] as? [String: Any])
        var c = AttentionCase(batch: json["batch"] as! Int, length: json["length"] as! Int, width: json["width"] as! Int,
                              heads: json["heads"] as! Int, causal: mode == "causal")
        c.x = try doubles(json["x"]); c.qkvKernel = try doubles(json["qkv_kernel"]); c.qkvBias = try doubles(json["qkv_bias"])
        c.outputKernel = try doubles(json["output_kernel"]); c.outputBias = try doubles(json["output_bias"])
        let dy = try doubles(json["dy"]).map(Float.init)
        for kernel in AttentionKernel.allCases {
            let h = try AttentionHarness(c, kernel: kernel)
            let (y, dx, dp) = h.run(c.x.map(Float.init), dy: dy)
            expectClose(y, try doubles(expected["y"]), rel: 1e-4, abs: 1e-5, "\(kernel) y")
            expectClose(dx, try doubles(expected["d_x"]), rel: 1e-4, abs: 1e-5, "\(kernel) dx")
            let dpWant = try ["d_qkv_kernel", "d_qkv_bias", "d_output_kernel", "d_output_bias"].flatMap { try doubles(expected[$0]) }
            expectClose(dp, dpWant, rel: 1e-4, abs: 1e-5, "\(kernel) parameter gradients")
        }
        // The twin agrees with PyTorch too (float64 against float64).
        let twin = c.reference()
        for (a, b) in zip(twin, try doubles(expected["y"])) { #expect(abs(a - b) < 1e-10) }
    }

    // Decoding positions 0..<T one at a time over the cache gives the rows of the full causal forward.
    @Test(arguments: [AttentionKernel.rows, .sgemm])
    func decodingMatchesFullForward(kernel: AttentionKernel) throws {
        let c = AttentionCase(batch: 2, length: 7, width: 12, heads: 3, causal: true, seed: 21)
        let h = try AttentionHarness(c, kernel: kernel)
        let x = c.x.map(Float.init)
        let full = h.forward(x)
        for b in 0..<c.batch {
            h.layer.beginDecoding(maxLength: c.length)
            for p in 0..<c.length {
                let row = x.withUnsafeBufferPointer { xs in
                    var rows: [UnsafePointer<Float>] = [xs.baseAddress! + (b * c.length + p) * c.width]
                    return rows.withUnsafeMutableBufferPointer { r in
                        Array(UnsafeBufferPointer(start: h.layer.decodeStep(r.baseAddress!, count: 1, position: p), count: c.width))
                    }
                }
                let want = full[((b * c.length + p) * c.width)..<((b * c.length + p + 1) * c.width)]
                for (a, w) in zip(row, want) { #expect(abs(a - w) <= 1e-5 + 1e-5 * abs(w), "sample \(b) position \(p)") }
            }
        }
    }

    // Dropout: in training about `rate` of the probabilities are zeroed (the survivors scaled
    // by 1/(1 - rate)); inference equals a layer without dropout; the same rng state gives the
    // same mask, another state another.
    @Test func dropoutOnProbabilities() throws {
        let c = AttentionCase(batch: 4, length: 16, width: 8, heads: 2, causal: false, seed: 8)
        let rate: Float = 0.3
        let h = try AttentionHarness(c, dropout: Double(rate))
        let plain = try AttentionHarness(c)
        let x = c.x.map(Float.init)
        #expect(h.forward(x, training: false) == plain.forward(x, training: false))
        h.layer.rng = Xoshiro256(seed: 1)
        let y1 = h.forward(x, training: true)
        let p = try #require(h.layer.probabilitiesForTesting), pd = try #require(h.layer.droppedForTesting)
        #expect(p.count == pd.count && p.count == 4 * 2 * 16 * 16)
        var zeros = 0
        for i in p.indices {
            if pd[i] == 0 { zeros += 1 } else { #expect(abs(pd[i] - p[i] / (1 - rate)) <= 1e-6 * abs(pd[i])) }
        }
        let fraction = Double(zeros) / Double(p.count)  // 2048 draws: sd 0.01
        #expect(abs(fraction - Double(rate)) < 0.05, "dropped fraction \(fraction)")
        #expect(y1 != plain.forward(x))
        h.layer.rng = Xoshiro256(seed: 1)
        #expect(h.forward(x, training: true) == y1)
        #expect(h.forward(x, training: true) != y1)  // the rng advanced
        #expect(h.layer.rng.stateWords != Xoshiro256(seed: 1).stateWords)
    }

    // With dropout, both kernels draw the same masks from the same state (pair by pair, row by
    // row), so they agree in training as they do in inference.
    @Test(arguments: [false, true])
    func dropoutKernelsAgree(causal: Bool) throws {
        let c = AttentionCase(batch: 3, length: 6, width: 8, heads: 2, causal: causal, seed: 12)
        let rows = try AttentionHarness(c, dropout: 0.4, kernel: .rows)
        let gemm = try AttentionHarness(c, dropout: 0.4, kernel: .sgemm)
        rows.layer.rng = Xoshiro256(seed: 9)
        gemm.layer.rng = Xoshiro256(seed: 9)
        let x = c.x.map(Float.init), dy = drawFloats(x.count, seed: 4)
        let a = rows.run(x, dy: dy, training: true), b = gemm.run(x, dy: dy, training: true)
        expectClose(a.y, b.y.map(Double.init), rel: 1e-5, abs: 1e-5, "y")
        expectClose(a.dx, b.dx.map(Double.init), rel: 1e-5, abs: 1e-5, "dx")
        expectClose(a.dp, b.dp.map(Double.init), rel: 1e-5, abs: 1e-5, "dp")
        #expect(a.y != rows.forward(x, training: false))
    }

    @Test func flopsPerSample() throws {
        let c = AttentionCase(batch: 1, length: 64, width: 128, heads: 4, causal: true)
        let h = try AttentionHarness(c)
        let t = 64, d = 128, projections = 8 * t * d * d
        // causal rows kernel: T(T+1)/2 pairs for q k^T and for P v.
        #expect(h.layer.flopsPerSample == LayerFLOPs(forward: projections + 4 * d * t * (t + 1) / 2,
                                                     weightGradient: projections + 2 * t * d * d + 8 * d * t * (t + 1) / 2,
                                                     inputGradient: 6 * t * d * d))
        let full = try AttentionHarness(AttentionCase(batch: 1, length: 64, width: 128, heads: 4, causal: false))
        #expect(full.layer.flopsPerSample.forward == projections + 4 * d * t * t)
        // The sgemm kernel computes (and counts) the whole square of a causal layer too.
        let square = try AttentionHarness(c, kernel: .sgemm)
        #expect(square.layer.flopsPerSample.forward == projections + 4 * d * t * t)
        #expect(MultiHeadAttention(numHeads: 4, causal: true).kernel == .sgemm)
    }

    // MARK: - Options and errors

    @Test func jsonRoundTripAndDefaults() throws {
        let json = #"{"type": "MultiHeadAttention", "num_heads": 4, "causal": true, "dropout": 0.1, "name": "attn"}"#
        let config = try JSONDecoder().decode(LayerConfiguration.self, from: Data(json.utf8))
        let o = try #require(config.options as? MultiHeadAttention.Options)
        #expect(o.numHeads == 4 && o.causal && o.dropout == 0.1 && o.useBias)
        #expect(o.sizes.map(\.key) == ["num_heads"] && o.sizes.map(\.value) == [4])
        let again = try JSONDecoder().decode(LayerConfiguration.self, from: JSONEncoder().encode(config))
        #expect(again == config)
        let layer = try #require(try o.makeLayer() as? MultiHeadAttention)
        layer.name = "attn"
        #expect(layer.configuration == config)
        let minimal = try JSONDecoder().decode(LayerConfiguration.self, from: Data(#"{"type": "MultiHeadAttention", "num_heads": 2}"#.utf8))
        let m = try #require(minimal.options as? MultiHeadAttention.Options)
        #expect(m.numHeads == 2 && !m.causal && m.dropout == 0 && m.useBias)
        #expect(LayerRegistry.type(named: "MultiHeadAttention") != nil)
    }

    func message(_ body: () throws -> Any) -> String {
        do { _ = try body(); return "" } catch { return "\(error)" }
    }

    @Test func oneLineErrors() throws {
        func parse(_ json: String) -> String {
            message { try JSONDecoder().decode(LayerConfiguration.self, from: Data(json.utf8)).options.makeLayer() }
        }
        let zero = parse(#"{"type": "MultiHeadAttention", "num_heads": 0}"#)
        #expect(zero.contains("num_heads must be positive, got 0"))
        #expect(parse(#"{"type": "MultiHeadAttention", "num_heads": 2, "dropout": 1}"#).contains("dropout must be in [0, 1), got 1"))
        #expect(parse(#"{"type": "MultiHeadAttention", "num_heads": 2, "dropout": -0.1}"#).contains("dropout must be in [0, 1)"))
        #expect(parse(#"{"type": "MultiHeadAttention"}"#).contains("missing 'num_heads'"))
        #expect(parse(#"{"type": "MultiHeadAttention", "num_heads": 2, "heads": 2}"#).contains("unknown option 'heads'"))
        let indivisible = message { try MultiHeadAttention(numHeads: 3).build(inputShape: [4, 8]) }
        #expect(indivisible.contains("multi_head_attention: the width 8 is not divisible by num_heads 3"))
        let rank = message { try MultiHeadAttention(numHeads: 2).build(inputShape: [4, 4, 8]) }
        #expect(rank.contains("needs a sequence input [T, D], got shape [4, 4, 8]"))
        #expect(message { try MultiHeadAttention(numHeads: 2).build(inputShape: [8]) }.contains("[T, D]"))
        #expect(message { try MultiHeadAttention(numHeads: -1).build(inputShape: [4, 8]) }.contains("num_heads must be positive"))
        let huge = message { try MultiHeadAttention(numHeads: 4).build(inputShape: [4096, 8]) }
        #expect(huge.contains("4 heads of 4096x4096 attention probabilities are more than 16777216 values per sample"))
        for m in [zero, indivisible, rank, huge] { #expect(!m.isEmpty && !m.contains("\n")) }
        // Through a whole model description.
        let model = #"{"name": "m", "input_shape": [4, 6], "layers": [{"type": "MultiHeadAttention", "num_heads": 4}]}"#
        let e = message { try ModelDescription.parse(Data(model.utf8)).makeModel(seed: 0) }
        #expect(e.contains("not divisible by num_heads 4"), "\(e)")
    }
}
