import Foundation
import Models
import Tensor

/// Whether a pruned Dense kernel pays stored and multiplied sparse (docs/compress.md): its
/// CSR size (float values, 32-bit column indices, row offsets) against dense float32, and a
/// CSR times dense product against the dense sgemm, timed on the layer's shape.
public enum SparseCheck {
    public struct Result: Sendable {
        public let layer: String
        public let density: Double
        public let denseBytes: Int, csrBytes: Int
        public let denseSeconds: Double, csrSeconds: Double
        public let batch: Int
    }

    /// CSR of a row-major (k, n) matrix: row offsets (k + 1), column indices and values.
    public static func csr(_ w: UnsafePointer<Float>, k: Int, n: Int) -> (rows: [Int32], columns: [Int32], values: [Float]) {
        var rows: [Int32] = [0], columns: [Int32] = [], values: [Float] = []
        for i in 0..<k {
            for j in 0..<n where w[i * n + j] != 0 { columns.append(Int32(j)); values.append(w[i * n + j]) }
            rows.append(Int32(columns.count))
        }
        return (rows, columns, values)
    }

    /// y (b, n) = x (b, k) * W, W in CSR: one pass over each input row's nonzero weights.
    public static func csrMultiply(_ x: UnsafePointer<Float>, b: Int, k: Int, n: Int, rows: [Int32], columns: [Int32],
                                   values: [Float], into y: UnsafeMutablePointer<Float>) {
        y.update(repeating: 0, count: b * n)
        rows.withUnsafeBufferPointer { r in columns.withUnsafeBufferPointer { c in values.withUnsafeBufferPointer { v in
            for s in 0..<b {
                let ys = y + s * n
                for i in 0..<k {
                    let xi = x[s * k + i]
                    if xi == 0 { continue }
                    for p in Int(r[i])..<Int(r[i + 1]) { ys[Int(c[p])] += xi * v[p] }
                }
            }
        } } }
    }

    /// Measures every Dense kernel of `model` at `batch` (inputs drawn uniform in [0, 1)).
    public static func measure(_ model: Model, batch: Int = 256) -> [Result] {
        let kernels = model.namedParameters.filter { p in model.layers.contains { $0 is Dense && p.name == "\($0.name)/kernel" } }
        var rng = Xoshiro256(seed: 3)
        return kernels.map { p in
            let k = p.shape[0], n = p.shape[1]
            let x = FloatBuffer(count: batch * k), y = FloatBuffer(count: batch * n)
            for i in 0..<(batch * k) { x.pointer[i] = rng.nextUnitFloat() }
            let sparse = csr(p.pointer, k: k, n: n)
            func time(_ body: () -> Void) -> Double {
                body()
                var best = Double.infinity
                for _ in 0..<5 {
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    body()
                    best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
                }
                return best
            }
            let dense = time { sgemm(m: batch, n: n, k: k, a: x.pointer, b: p.pointer, c: y.pointer) }
            let csrTime = time { csrMultiply(x.pointer, b: batch, k: k, n: n, rows: sparse.rows, columns: sparse.columns, values: sparse.values, into: y.pointer) }
            return Result(layer: p.name, density: Double(sparse.values.count) / Double(k * n), denseBytes: 4 * k * n,
                          csrBytes: 8 * sparse.values.count + 4 * (k + 1), denseSeconds: dense, csrSeconds: csrTime, batch: batch)
        }
    }
}
