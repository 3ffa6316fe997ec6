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

    /// Applies `f` to every element.
    ///
    /// - Parameter f: The function of one element.
    /// - Returns: A tensor of the same shape.
    public func map(_ f: (Float) -> Float) -> Tensor { Tensor(shape: shape, scalars: scalars.map(f)) }

    /// Elementwise sum.
    ///
    /// - Parameters:
    ///   - l: The left operand.
    ///   - r: The right operand (the same shape as `l`: another shape traps).
    /// - Returns: A tensor of `l`'s shape.
    public static func + (l: Tensor, r: Tensor) -> Tensor { zipWith(l, r, +) }
    /// Elementwise difference.
    ///
    /// - Parameters:
    ///   - l: The left operand.
    ///   - r: The right operand (the same shape as `l`: another shape traps).
    /// - Returns: A tensor of `l`'s shape.
    public static func - (l: Tensor, r: Tensor) -> Tensor { zipWith(l, r, -) }
    /// Elementwise (Hadamard) product.
    ///
    /// - Parameters:
    ///   - l: The left operand.
    ///   - r: The right operand (the same shape as `l`: another shape traps).
    /// - Returns: A tensor of `l`'s shape.
    public static func * (l: Tensor, r: Tensor) -> Tensor { zipWith(l, r, *) }
    /// Elementwise quotient.
    ///
    /// - Parameters:
    ///   - l: The left operand.
    ///   - r: The right operand (the same shape as `l`: another shape traps).
    /// - Returns: A tensor of `l`'s shape.
    public static func / (l: Tensor, r: Tensor) -> Tensor { zipWith(l, r, /) }

    /// Adds `r` to every element.
    ///
    /// - Parameters:
    ///   - l: The left operand.
    ///   - r: The right operand.
    /// - Returns: A tensor of `l`'s shape.
    public static func + (l: Tensor, r: Float) -> Tensor { l.map { $0 + r } }
    /// Subtracts `r` from every element.
    ///
    /// - Parameters:
    ///   - l: The left operand.
    ///   - r: The right operand.
    /// - Returns: A tensor of `l`'s shape.
    public static func - (l: Tensor, r: Float) -> Tensor { l.map { $0 - r } }
    /// Multiplies every element by `r`.
    ///
    /// - Parameters:
    ///   - l: The left operand.
    ///   - r: The right operand.
    /// - Returns: A tensor of `l`'s shape.
    public static func * (l: Tensor, r: Float) -> Tensor { l.map { $0 * r } }
    /// Divides every element by `r`.
    ///
    /// - Parameters:
    ///   - l: The left operand.
    ///   - r: The right operand.
    /// - Returns: A tensor of `l`'s shape.
    public static func / (l: Tensor, r: Float) -> Tensor { l.map { $0 / r } }
    /// Multiplies every element of `r` by `l`.
    ///
    /// - Parameters:
    ///   - l: The left operand.
    ///   - r: The right operand.
    /// - Returns: A tensor of `r`'s shape.
    public static func * (l: Float, r: Tensor) -> Tensor { r.map { l * $0 } }
    /// Elementwise negation.
    ///
    /// - Parameter t: The operand.
    /// - Returns: A tensor of the same shape.
    public static prefix func - (t: Tensor) -> Tensor { t.map { -$0 } }

    /// Adds `r` elementwise to `l`.
    ///
    /// - Parameters:
    ///   - l: The tensor to update.
    ///   - r: A tensor of `l`'s shape.
    public static func += (l: inout Tensor, r: Tensor) { l = l + r }
    /// Subtracts `r` elementwise from `l`.
    ///
    /// - Parameters:
    ///   - l: The tensor to update.
    ///   - r: A tensor of `l`'s shape.
    public static func -= (l: inout Tensor, r: Tensor) { l = l - r }
    /// Multiplies every element of `l` by `r`.
    ///
    /// - Parameters:
    ///   - l: The tensor to update.
    ///   - r: The factor.
    public static func *= (l: inout Tensor, r: Float) { l = l * r }

    /// Matrix product through `cblas_sgemm`: `alpha * op(self) * op(other) + beta * addend`.
    /// Both operands are rank 2; `transposeSelf`/`transposeOther` apply op = transpose.
    ///
    /// - Parameters:
    ///   - other: The right operand, rank 2.
    ///   - transposeSelf: Use this tensor's transpose: op(self) is (M, K).
    ///   - transposeOther: Use `other`'s transpose: op(other) is (K, N).
    ///   - alpha: Scale of the product.
    ///   - beta: Scale of `addend`; ignored without one.
    ///   - addend: A (M, N) tensor added after scaling by `beta`, or nil.
    /// - Returns: The (M, N) result. Shapes that do not fit trap.
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

    /// Transpose of a rank-2 tensor: (rows, columns) becomes (columns, rows).
    public var transposed: Tensor {
        precondition(rank == 2, "transpose needs rank 2, got \(shape)")
        let (r, c) = (shape[0], shape[1])
        var out = [Float](repeating: 0, count: count)
        for i in 0..<r { for j in 0..<c { out[j * r + i] = scalars[i * c + j] } }
        return Tensor(shape: [c, r], scalars: out)
    }
}
