// Elementwise arithmetic on equal shapes, and with a scalar.

extension Tensor {
    @inline(__always)
    private static func zipWith(_ l: Tensor, _ r: Tensor, _ op: (Float, Float) -> Float) -> Tensor {
        precondition(l.shape == r.shape, "shapes \(l.shape) and \(r.shape) differ")
        var out = [Float](repeating: 0, count: l.count)
        l.scalars.withUnsafeBufferPointer { a in
            r.scalars.withUnsafeBufferPointer { b in
                for i in 0..<out.count { out[i] = op(a[i], b[i]) }
            }
        }
        return Tensor(shape: l.shape, scalars: out)
    }

    public func map(_ f: (Float) -> Float) -> Tensor { Tensor(shape: shape, scalars: scalars.map(f)) }

    public static func + (l: Tensor, r: Tensor) -> Tensor { zipWith(l, r, +) }
    public static func - (l: Tensor, r: Tensor) -> Tensor { zipWith(l, r, -) }
    public static func * (l: Tensor, r: Tensor) -> Tensor { zipWith(l, r, *) }
    public static func / (l: Tensor, r: Tensor) -> Tensor { zipWith(l, r, /) }

    public static func + (l: Tensor, r: Float) -> Tensor { l.map { $0 + r } }
    public static func - (l: Tensor, r: Float) -> Tensor { l.map { $0 - r } }
    public static func * (l: Tensor, r: Float) -> Tensor { l.map { $0 * r } }
    public static func / (l: Tensor, r: Float) -> Tensor { l.map { $0 / r } }
    public static func * (l: Float, r: Tensor) -> Tensor { r.map { l * $0 } }
    public static prefix func - (t: Tensor) -> Tensor { t.map { -$0 } }

    public static func += (l: inout Tensor, r: Tensor) { l = l + r }
    public static func -= (l: inout Tensor, r: Tensor) { l = l - r }
    public static func *= (l: inout Tensor, r: Float) { l = l * r }

    /// Matrix product through `cblas_sgemm`: `alpha * op(self) * op(other) + beta * addend`.
    /// Both operands are rank 2; `transposeSelf`/`transposeOther` apply op = transpose.
    public func matmul(
        _ other: Tensor, transposeSelf: Bool = false, transposeOther: Bool = false,
        alpha: Float = 1, beta: Float = 0, addend: Tensor? = nil
    ) -> Tensor {
        precondition(rank == 2 && other.rank == 2, "matmul needs rank-2 tensors, got \(shape) and \(other.shape)")
        let m = transposeSelf ? shape[1] : shape[0]
        let k = transposeSelf ? shape[0] : shape[1]
        let k2 = transposeOther ? other.shape[1] : other.shape[0]
        let n = transposeOther ? other.shape[0] : other.shape[1]
        precondition(k == k2, "matmul inner dimensions differ: \(shape) x \(other.shape)")
        var out: [Float]
        if let addend {
            precondition(addend.shape == [m, n], "addend shape \(addend.shape) is not [\(m), \(n)]")
            out = addend.scalars
        } else {
            out = [Float](repeating: 0, count: m * n)
        }
        guard m > 0, n > 0 else { return Tensor(shape: [m, n], scalars: out) }
        scalars.withUnsafeBufferPointer { a in
            other.scalars.withUnsafeBufferPointer { b in
                out.withUnsafeMutableBufferPointer { c in
                    sgemm(transposeA: transposeSelf, transposeB: transposeOther, m: m, n: n, k: k,
                          alpha: alpha, a: a.baseAddress!, lda: shape[1],
                          b: b.baseAddress!, ldb: other.shape[1],
                          beta: addend == nil ? 0 : beta, c: c.baseAddress!)
                }
            }
        }
        return Tensor(shape: [m, n], scalars: out)
    }

    /// Transpose of a rank-2 tensor.
    public var transposed: Tensor {
        precondition(rank == 2, "transpose needs rank 2, got \(shape)")
        let (r, c) = (shape[0], shape[1])
        var out = [Float](repeating: 0, count: count)
        for i in 0..<r { for j in 0..<c { out[j * r + i] = scalars[i * c + j] } }
        return Tensor(shape: [c, r], scalars: out)
    }
}
