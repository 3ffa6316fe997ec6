import Foundation
import Models
import Tensor

/// Low-rank factorisation of Dense layers (docs/compress.md): a Dense kernel W (m, n) becomes
/// U_r sqrt(S_r) (m, r) and sqrt(S_r) V_r^T (r, n) from its truncated SVD, in a LowRankDense
/// layer. A layer is factorised only where it saves parameters, r (m + n) < m n.
public enum LowRank {
    /// The factorised model (compiled with Adam) and the names of the layers factorised.
    /// - Throws: ``CompressionError`` for a model with no Dense layer or a rank above
    ///   min(m, n) of every Dense layer, or when no layer would get smaller.
    public static func factorize(_ model: Model, rank: Int) throws -> (model: Model, factorized: [String]) {
        let dense = model.layers.compactMap { $0 as? Dense }
        guard !dense.isEmpty else { throw CompressionError("--low-rank: the model has no Dense layer to factorise") }
        let largest = dense.map { min($0.inFeatures, $0.units) }.max()!
        guard rank >= 1, rank <= largest else {
            throw CompressionError("--low-rank: rank \(rank) is outside 1...\(largest), the largest min(m, n) of the model's Dense kernels")
        }
        var description = model.modelDescription
        var factorized: [Dense] = []
        for (j, layer) in model.layers.enumerated() {
            guard let d = layer as? Dense, rank * (d.inFeatures + d.units) < d.inFeatures * d.units else { continue }
            description.layers[j].options = LowRankDense.Options(units: d.units, rank: rank, activation: d.activation)
            factorized.append(d)
        }
        guard !factorized.isEmpty else {
            throw CompressionError("--low-rank: rank \(rank) makes no Dense layer smaller (r (m + n) must be below m n)")
        }
        let out = try description.makeModel(seed: 0)
        out.copyParameters(from: model)
        let source = Dictionary(uniqueKeysWithValues: model.namedParameters.map { ($0.name, $0) })
        let target = Dictionary(uniqueKeysWithValues: out.namedParameters.map { ($0.name, $0) })
        for d in factorized {
            let w = source["\(d.name)/kernel"]!
            let (u, v) = try factors(of: w.values, m: d.inFeatures, n: d.units, rank: rank)
            target["\(d.name)/kernel_u"]!.pointer.update(from: u, count: u.count)
            target["\(d.name)/kernel_v"]!.pointer.update(from: v, count: v.count)
        }
        return (out, factorized.map(\.name))
    }

    /// The two factors of a row-major (m, n) matrix from its truncated SVD, the singular values
    /// split evenly: U_r sqrt(S_r) (m, r) and sqrt(S_r) V_r^T (r, n), row-major.
    /// - Throws: ``CompressionError`` for a rank outside 1...min(m, n); LAPACK's failure.
    public static func factors(of w: [Float], m: Int, n: Int, rank: Int) throws -> (u: [Float], v: [Float]) {
        guard rank >= 1, rank <= min(m, n) else { throw CompressionError("rank \(rank) is outside 1...\(min(m, n))") }
        let svd = try Tensor(shape: [m, n], scalars: w).truncatedSVD(rank: rank)
        var u = [Float](repeating: 0, count: m * rank), v = [Float](repeating: 0, count: rank * n)
        for j in 0..<rank {
            let root = svd.singularValues[j].squareRoot()
            for i in 0..<m { u[i * rank + j] = svd.u.scalars[i * rank + j] * root }
            for i in 0..<n { v[j * n + i] = svd.vt.scalars[j * n + i] * root }
        }
        return (u, v)
    }

    /// The ranks `auto` tries, ascending: powers of two from 2 up to the largest min(m, n).
    public static func candidateRanks(_ model: Model) -> [Int] {
        let largest = model.layers.compactMap { $0 as? Dense }.map { min($0.inFeatures, $0.units) }.max() ?? 0
        return Array(sequence(first: 2) { $0 * 2 }.prefix { $0 < largest })
    }
}
