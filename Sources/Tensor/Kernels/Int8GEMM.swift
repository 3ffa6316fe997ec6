import CBLAS
import CDNNL
import CTensorKernels
import Foundation
import Synchronization

/// The int8 x int8 -> int32 GEMMs of quantised inference (docs/compress.md): one is chosen
/// by timing them all on the layer's own shape, once per process and shape.
public enum Int8Kernel: String, CaseIterable, Sendable, Codable {
    /// fmctl's AVX-512 VNNI kernel (`vpdpbusd`), where the CPU has it.
    case vnni512 = "avx512-vnni"
    /// fmctl's AVX2 kernel (`vpmaddubsw` on the activations' nibbles, exact), where AVX2 is on.
    case avx2 = "avx2-maddubs"
    /// fmctl's plain C kernel over the same packed layout (compiled for AVX2 and the baseline).
    case portable = "portable-c"
    /// oneDNN's `dnnl_gemm_u8s8s32`.
    case onednn = "onednn"
    /// The quantised values converted to float, then OpenBLAS's sgemm.
    case dequantizeSgemm = "dequantize-sgemm"

    /// The kernels this CPU can run.
    public static var available: [Int8Kernel] {
        allCases.filter { kernel in
            switch kernel {
            case .vnni512: fm_i8_vnni512_available() != 0
            case .avx2: fm_kernels_avx2_enabled() != 0
            default: true
            }
        }
    }
}

/// Weights (K, N) of an int8 layer, with what every kernel needs: the packed layout, the
/// column sums (for the activations' zero point) and a float copy for dequantise-then-sgemm.
public final class Int8Weights {
    public let k: Int, n: Int
    /// K and N rounded up to 4 and 16 (the packed layout's, and the activations' row stride).
    public let paddedK: Int, paddedN: Int
    public let plain: UnsafeMutablePointer<Int8>
    public let packed: UnsafeMutablePointer<Int8>
    public let columnSums: UnsafeMutablePointer<Int32>
    let floats: UnsafeMutablePointer<Float>

    /// - Parameters:
    ///   - values: the (K, N) row-major weights, each an integer in -127...127.
    ///   - k: rows (the products' inner dimension).
    ///   - n: columns (outputs).
    public init(values: UnsafePointer<Float>, k: Int, n: Int) {
        self.k = k; self.n = n
        paddedK = fm_i8_packed_k(k); paddedN = fm_i8_packed_n(n)
        plain = .allocate(capacity: k * n)
        floats = .allocate(capacity: k * n)
        for i in 0..<(k * n) {
            plain[i] = Int8(max(-127, min(127, values[i].rounded())))
            floats[i] = Float(plain[i])
        }
        packed = .allocate(capacity: paddedK * paddedN)
        fm_i8_pack_b(plain, k, n, packed)
        columnSums = .allocate(capacity: n)
        fm_i8_column_sums(plain, k, n, columnSums)
    }

    deinit {
        plain.deallocate(); packed.deallocate(); columnSums.deallocate(); floats.deallocate()
    }
}

/// Scratch for one int8 GEMM call of up to `rows` rows.
public final class Int8Workspace {
    public let rows: Int, k: Int, n: Int
    public let activations: UnsafeMutablePointer<UInt8>   // rows x paddedK
    public let accumulators: UnsafeMutablePointer<Int32>  // rows x n
    let floatActivations: UnsafeMutablePointer<Float>     // rows x k (dequantise-then-sgemm)
    let floatResult: UnsafeMutablePointer<Float>
    public let correction: UnsafeMutablePointer<Int32>

    public init(rows: Int, weights: Int8Weights) {
        self.rows = rows; k = weights.k; n = weights.n
        activations = .allocate(capacity: max(1, rows * weights.paddedK))
        activations.initialize(repeating: 0, count: max(1, rows * weights.paddedK))
        accumulators = .allocate(capacity: max(1, rows * n))
        floatActivations = .allocate(capacity: max(1, rows * k))
        floatResult = .allocate(capacity: max(1, rows * n))
        correction = .allocate(capacity: n)
    }

    deinit {
        activations.deallocate(); accumulators.deallocate(); floatActivations.deallocate()
        floatResult.deallocate(); correction.deallocate()
    }
}

public enum Int8GEMM {
    /// `accumulators (M, N) = activations (M, K; row stride paddedK) * weights`, exact in int32
    /// for the integer kernels; dequantise-then-sgemm rounds its float sums.
    ///
    /// The activations' zero point is subtracted by oneDNN and sgemm or left for the caller's
    /// correction by the fmctl kernels: every kernel returns `sum(a * b)`.
    /// - Parameters:
    ///   - kernel: which kernel computes the product.
    ///   - m: rows of the activations.
    ///   - w: the packed weights.
    ///   - ws: the workspace holding the activations and receiving the accumulators.
    public static func multiply(_ kernel: Int8Kernel, m: Int, weights w: Int8Weights, workspace ws: Int8Workspace) {
        precondition(m <= ws.rows)
        let n = w.n, k = w.k, lda = w.paddedK
        let a = ws.activations, c = ws.accumulators
        switch kernel {
        case .vnni512, .avx2, .portable:
            struct Job {
                let m: Int, n: Int, k: Int, lda: Int, a: UnsafePointer<UInt8>, b: UnsafePointer<Int8>, c: UnsafeMutablePointer<Int32>
                let kernel: Int, byRows: Bool, split: PieceSplit
            }
            let tiles = w.paddedN / 16
            let byRows = m >= 16
            let split = byRows
                ? PieceSplit(m, pieces: 2 * BLAS.threads, minimumPerPiece: max(8, 262_144 / max(1, n * k)), alignment: 8)
                : PieceSplit(tiles, pieces: BLAS.threads, minimumPerPiece: max(1, 65_536 / max(1, 16 * k * m)))
            var job = Job(m: m, n: n, k: k, lda: lda, a: a, b: w.packed, c: c,
                          kernel: kernel == .vnni512 ? 2 : (kernel == .avx2 ? 1 : 0), byRows: byRows, split: split)
            runPieces(&job, pieces: split.pieces) { context, i in
                let j = context!.assumingMemoryBound(to: Job.self).pointee
                let r = j.split.range(i)
                let tiles = (j.n + 15) / 16
                let (r0, r1, t0, t1) = j.byRows ? (r.lowerBound, r.upperBound, 0, tiles) : (0, j.m, r.lowerBound, r.upperBound)
                if j.kernel == 2, fm_i8_gemm_vnni512(j.m, j.n, j.k, j.a, j.lda, j.b, j.c, j.n, r0, r1, t0, t1) != 0 { return }
                if j.kernel == 1, fm_i8_gemm_avx2(j.m, j.n, j.k, j.a, j.lda, j.b, j.c, j.n, r0, r1, t0, t1) != 0 { return }
                fm_i8_gemm_portable(j.m, j.n, j.k, j.a, j.lda, j.b, j.c, j.n, r0, r1, t0, t1)
            }
        case .onednn:
            // C = (A - 0) * (B - 0): the zero point is corrected by the caller as for the others.
            var zero: Int32 = 0
            _ = dnnl_gemm_u8s8s32(CChar(UInt8(ascii: "N")), CChar(UInt8(ascii: "N")), CChar(UInt8(ascii: "F")),
                                  Int64(m), Int64(n), Int64(k), 1, a, Int64(lda), 0, w.plain, Int64(n), 0, 0, c, Int64(n), &zero)
        case .dequantizeSgemm:
            let fa = ws.floatActivations
            for i in 0..<m { for j in 0..<k { fa[i * k + j] = Float(a[i * lda + j]) } }
            sgemm(m: m, n: n, k: k, a: fa, b: w.floats, c: ws.floatResult)
            for i in 0..<(m * n) { c[i] = Int32(ws.floatResult[i].rounded()) }
        }
    }

    /// `y (M, N) = inputScale * weightScale[j] * (acc - correction[j]) + bias[j]` (ReLU when
    /// `relu`), with `acc` the product of ``multiply(_:m:weights:workspace:)`` and the
    /// correction in the workspace. The VNNI kernel applies this in its stores; the others
    /// write int32, then one pass scales it.
    public static func multiplyScaled(_ kernel: Int8Kernel, m: Int, weights w: Int8Weights, workspace ws: Int8Workspace,
                                      inputScale: Float, weightScale: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                                      relu: Bool, into y: UnsafeMutablePointer<Float>) {
        guard kernel == .vnni512, fm_i8_vnni512_available() != 0 else {
            multiply(kernel, m: m, weights: w, workspace: ws)
            fm_i8_dequantize(ws.accumulators, m, w.n, w.n, inputScale, weightScale, ws.correction, bias, relu ? 1 : 0, y, w.n)
            return
        }
        struct Job {
            let m: Int, n: Int, k: Int, lda: Int, a: UnsafePointer<UInt8>, b: UnsafePointer<Int8>
            let scale: Float, weightScale: UnsafePointer<Float>, correction: UnsafePointer<Int32>, bias: UnsafePointer<Float>
            let relu: Int32, y: UnsafeMutablePointer<Float>, byRows: Bool, split: PieceSplit
        }
        let n = w.n, k = w.k, tiles = w.paddedN / 16
        let byRows = m >= 16
        let split = byRows
            ? PieceSplit(m, pieces: 2 * BLAS.threads, minimumPerPiece: max(8, 262_144 / max(1, n * k)), alignment: 8)
            : PieceSplit(tiles, pieces: BLAS.threads, minimumPerPiece: max(1, 65_536 / max(1, 16 * k * m)))
        var job = Job(m: m, n: n, k: k, lda: w.paddedK, a: ws.activations, b: w.packed, scale: inputScale, weightScale: weightScale,
                      correction: ws.correction, bias: bias, relu: relu ? 1 : 0, y: y, byRows: byRows, split: split)
        runPieces(&job, pieces: split.pieces) { context, i in
            let j = context!.assumingMemoryBound(to: Job.self).pointee
            let r = j.split.range(i)
            let tiles = (j.n + 15) / 16
            let (r0, r1, t0, t1) = j.byRows ? (r.lowerBound, r.upperBound, 0, tiles) : (0, j.m, r.lowerBound, r.upperBound)
            _ = fm_i8_gemm_vnni512_fused(j.m, j.n, j.k, j.a, j.lda, j.b, r0, r1, t0, t1, j.scale, j.weightScale, j.correction,
                                         j.bias, j.relu, j.y, j.n)
        }
    }

    /// The plain-loop twin: `sum(a * b)` over unpacked weights.
    public static func reference(m: Int, weights w: Int8Weights, workspace ws: Int8Workspace) {
        fm_i8_gemm_reference(m, w.n, w.k, ws.activations, w.paddedK, w.plain, ws.accumulators, w.n)
    }

    /// Times of each available kernel on one shape (the fastest of up to five rounds, seconds).
    public struct Timing: Sendable, Codable, Equatable {
        public let m: Int, n: Int, k: Int
        public let seconds: [String: Double]
        public let chosen: Int8Kernel
    }

    private struct ShapeKey: Hashable { let m: Int, n: Int, k: Int }
    private static let choices = Mutex<[ShapeKey: Timing]>([:])

    /// `FMCTL_INT8_KERNEL` forces a kernel (tests, benchmarks); otherwise nil.
    public static var forced: Int8Kernel? { forcedKernel }
    private static let forcedKernel: Int8Kernel? =
        ProcessInfo.processInfo.environment["FMCTL_INT8_KERNEL"].flatMap(Int8Kernel.init(rawValue:))

    /// The kernel for this shape: measured the first time the process meets it (each
    /// available kernel timed on random data of the shape), then remembered.
    public static func kernel(m: Int, n: Int, k: Int) -> Int8Kernel {
        if let forced, Int8Kernel.available.contains(forced) { return forced }
        let key = ShapeKey(m: m, n: n, k: k)
        if let known = choices.withLock({ $0[key] }) { return known.chosen }
        let t = measure(m: m, n: n, k: k)
        choices.withLock { $0[key] = t }
        return t.chosen
    }

    /// Every measured choice so far, for the report.
    public static var measuredChoices: [Timing] {
        choices.withLock { Array($0.values) }.sorted { ($0.k, $0.n, $0.m) < ($1.k, $1.n, $1.m) }
    }

    /// Times every available kernel on a (m, n, k) product of random values.
    public static func measure(m: Int, n: Int, k: Int) -> Timing {
        var rng = Xoshiro256(seed: 7)
        var values = [Float](repeating: 0, count: k * n)
        for i in values.indices { values[i] = Float(Int(rng.next() % 255) - 127) }
        let w = values.withUnsafeBufferPointer { Int8Weights(values: $0.baseAddress!, k: k, n: n) }
        let ws = Int8Workspace(rows: m, weights: w)
        for i in 0..<(m * w.paddedK) { ws.activations[i] = UInt8(truncatingIfNeeded: rng.next()) }
        var seconds: [String: Double] = [:]
        let repeats = max(3, min(50, 20_000_000 / max(1, m * n * k)))
        var fastest = Double.infinity
        for kernel in Int8Kernel.available {
            multiply(kernel, m: m, weights: w, workspace: ws)   // warm up
            var times: [Double] = []
            for _ in 0..<5 {
                let t0 = DispatchTime.now().uptimeNanoseconds
                for _ in 0..<repeats { multiply(kernel, m: m, weights: w, workspace: ws) }
                times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9 / Double(repeats))
                // A kernel four times slower than the best so far is out after one timing.
                if times[0] > 4 * fastest { break }
            }
            // The fastest round: on a shared machine the others measure the neighbours too.
            seconds[kernel.rawValue] = times.min()!
            fastest = min(fastest, seconds[kernel.rawValue]!)
        }
        let best = Int8Kernel.available.min { seconds[$0.rawValue]! < seconds[$1.rawValue]! }!
        return Timing(m: m, n: n, k: k, seconds: seconds, chosen: best)
    }
}

/// Symmetric per-output-channel int8 quantisation of a (K, N) kernel: scale_j =
/// max_k |W[k, j]| / 127 (1 for an all-zero column), q = round(W / scale_j).
public func quantizePerColumn(_ w: UnsafePointer<Float>, k: Int, n: Int,
                              into q: UnsafeMutablePointer<Float>, scales: UnsafeMutablePointer<Float>) {
    for j in 0..<n {
        var m: Float = 0
        for i in 0..<k { m = max(m, abs(w[i * n + j])) }
        scales[j] = m > 0 ? m / 127 : 1
    }
    for i in 0..<k { for j in 0..<n { q[i * n + j] = max(-127, min(127, (w[i * n + j] / scales[j]).rounded())) } }
}

/// The activation scale and zero point of an observed range [lo, hi] (uint8, asymmetric, the
/// range widened to hold 0): scale = (hi - lo) / 255, zero point = round(-lo / scale).
public func activationQuantization(min lo: Float, max hi: Float) -> (scale: Float, zeroPoint: Int) {
    let lo = min(lo, 0), hi = max(hi, 0)
    guard hi > lo else { return (1, 0) }
    let scale = (hi - lo) / 255
    return (scale, Int(max(0, min(255, (-lo / scale).rounded()))))
}
