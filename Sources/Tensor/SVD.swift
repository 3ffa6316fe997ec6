import CBLAS

/// A truncated singular value decomposition `A ≈ U * diag(S) * Vt`, with U (m, k),
/// S (k) sorted descending, Vt (k, n).
public struct TruncatedSVD: Sendable {
    /// Left singular vectors, (m, k), one per column.
    public let u: Tensor
    /// The k largest singular values, descending.
    public let singularValues: [Float]
    /// Right singular vectors, (k, n), one per row.
    public let vt: Tensor

    /// The rank-k reconstruction U * diag(S) * Vt.
    public var reconstruction: Tensor {
        var us = u
        let k = singularValues.count
        for i in 0..<u.shape[0] { for j in 0..<k { us.scalars[i * k + j] *= singularValues[j] } }
        return us.matmul(vt)
    }
}

/// A LAPACK routine that reported failure through its `info` result.
public struct LAPACKError: Error, CustomStringConvertible {
    /// The routine, e.g. `LAPACKE_sgesdd`.
    public let routine: String
    /// LAPACK's `info`: negative, the index of an illegal argument; positive, no convergence.
    public let info: Int32
    /// `<routine> failed with info = <info>`.
    public var description: String { "\(routine) failed with info = \(info)" }
}

extension Tensor {
    /// The `rank` largest singular triplets of a rank-2 tensor, through LAPACKE_sgesdd
    /// (divide and conquer). The full thin SVD is computed, then cut to `rank`: for the
    /// dense layers this is meant for (hundreds of rows) that costs milliseconds.
    ///
    /// - Parameter rank: The number of singular triplets to keep, in `1...min(m, n)` (outside
    ///   it traps, as does a tensor that is not rank 2).
    /// - Returns: U (m, rank), the `rank` largest singular values and Vt (rank, n).
    /// - Throws: ``LAPACKError`` when `LAPACKE_sgesdd` reports failure (e.g. no convergence).
    public func truncatedSVD(rank: Int) throws -> TruncatedSVD {
        precondition(self.rank == 2, "SVD needs a rank-2 tensor, got \(shape)")
        let m = shape[0], n = shape[1]
        let full = min(m, n)
        precondition(rank >= 1 && rank <= full, "rank \(rank) outside 1...\(full)")
        var a = scalars  // sgesdd destroys its input
        var s = [Float](repeating: 0, count: full)
        var u = [Float](repeating: 0, count: m * full)
        var vt = [Float](repeating: 0, count: full * n)
        let info = LAPACKE_sgesdd(LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "S")), Int32(m), Int32(n),
                                  &a, Int32(n), &s, &u, Int32(full), &vt, Int32(n))
        guard info == 0 else { throw LAPACKError(routine: "LAPACKE_sgesdd", info: info) }
        var uk = [Float](repeating: 0, count: m * rank)
        for i in 0..<m { for j in 0..<rank { uk[i * rank + j] = u[i * full + j] } }
        return TruncatedSVD(
            u: Tensor(shape: [m, rank], scalars: uk),
            singularValues: Array(s.prefix(rank)),
            vt: Tensor(shape: [rank, n], scalars: Array(vt.prefix(rank * n))))
    }
}
