import Foundation

// Plain-loop twins of the transformer layers' kernels (Kernels/Transformer.swift), in Double,
// written from the formulas in docs/transformer.md.
extension Reference {
    /// Layer normalisation over the last axis, biased variance.
    ///
    /// - Parameters:
    ///   - x: The input (rows, columns).
    ///   - gamma: The scale.
    ///   - beta: The shift.
    ///   - rows: Rows.
    ///   - columns: Features.
    ///   - epsilon: Added to the variance.
    /// - Returns: The output (rows, columns), each row's mean and reciprocal standard deviation.
    public static func layerNorm(_ x: [Float], gamma: [Float], beta: [Float], rows: Int, columns: Int, epsilon: Float)
        -> (y: [Float], mean: [Float], rstd: [Float]) {
        var y = [Float](repeating: 0, count: rows * columns)
        var means = [Float](repeating: 0, count: rows), rstds = [Float](repeating: 0, count: rows)
        for r in 0..<rows {
            var s = 0.0
            for k in 0..<columns { s += Double(x[r * columns + k]) }
            let m = s / Double(columns)
            var q = 0.0
            for k in 0..<columns { let d = Double(x[r * columns + k]) - m; q += d * d }
            let rs = 1 / (q / Double(columns) + Double(epsilon)).squareRoot()
            for k in 0..<columns {
                y[r * columns + k] = Float((Double(x[r * columns + k]) - m) * rs * Double(gamma[k]) + Double(beta[k]))
            }
            means[r] = Float(m); rstds[r] = Float(rs)
        }
        return (y, means, rstds)
    }

    /// Layer normalisation's gradients, recomputing the statistics from x.
    ///
    /// - Parameters:
    ///   - dy: Gradient with respect to the output (rows, columns).
    ///   - x: The input (rows, columns).
    ///   - gamma: The scale.
    ///   - rows: Rows.
    ///   - columns: Features.
    ///   - epsilon: Added to the variance.
    /// - Returns: The gradients with respect to x, gamma and beta.
    public static func layerNormBackward(_ dy: [Float], _ x: [Float], gamma: [Float], rows: Int, columns: Int, epsilon: Float)
        -> (dx: [Float], dgamma: [Float], dbeta: [Float]) {
        var dx = [Float](repeating: 0, count: rows * columns)
        var dg = [Double](repeating: 0, count: columns), db = [Double](repeating: 0, count: columns)
        for r in 0..<rows {
            let xr = (0..<columns).map { Double(x[r * columns + $0]) }
            let m = xr.reduce(0, +) / Double(columns)
            let v = xr.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(columns)
            let rs = 1 / (v + Double(epsilon)).squareRoot()
            let xh = xr.map { ($0 - m) * rs }
            let g = (0..<columns).map { Double(dy[r * columns + $0]) * Double(gamma[$0]) }
            let m1 = g.reduce(0, +) / Double(columns)
            var m2 = 0.0
            for k in 0..<columns { m2 += g[k] * xh[k] }
            m2 /= Double(columns)
            for k in 0..<columns {
                dx[r * columns + k] = Float(rs * (g[k] - m1 - xh[k] * m2))
                dg[k] += Double(dy[r * columns + k]) * xh[k]
                db[k] += Double(dy[r * columns + k])
            }
        }
        return (dx, dg.map { Float($0) }, db.map { Float($0) })
    }

    /// GELU, exact (erf) or tanh form, in Double.
    ///
    /// - Parameters:
    ///   - x: The input.
    ///   - approximate: The tanh form.
    /// - Returns: The output.
    public static func gelu(_ x: [Float], approximate: Bool) -> [Float] {
        x.map { f in
            let v = Double(f)
            if approximate {
                return Float(0.5 * v * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * (v + 0.044715 * v * v * v))))
            }
            return Float(0.5 * v * (1 + Foundation.erf(v / 2.0.squareRoot())))
        }
    }

    /// GELU's input gradient from the input, in Double.
    ///
    /// - Parameters:
    ///   - dy: Gradient with respect to the output.
    ///   - x: The input.
    ///   - approximate: The tanh form.
    /// - Returns: The gradient with respect to x.
    public static func geluBackward(_ dy: [Float], _ x: [Float], approximate: Bool) -> [Float] {
        zip(dy, x).map { d, f in
            let v = Double(f)
            let derivative: Double
            if approximate {
                let c = (2 / Double.pi).squareRoot()
                let t = Foundation.tanh(c * (v + 0.044715 * v * v * v))
                derivative = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * c * (1 + 3 * 0.044715 * v * v)
            } else {
                derivative = 0.5 * (1 + Foundation.erf(v / 2.0.squareRoot())) + v * Foundation.exp(-0.5 * v * v) / (2 * Double.pi).squareRoot()
            }
            return Float(Double(d) * derivative)
        }
    }

    /// The table row of an id, or nil outside `0..<rows` or not whole (zero row, no gradient).
    static func tokenRow(_ id: Float, rows: Int) -> Int? {
        guard id.isFinite, id >= 0, id.rounded(.towardZero) == id, Int(id) < rows else { return nil }
        return Int(id)
    }

    /// Embedding lookup: row r is table row ids[r], zeros for an id outside the table.
    ///
    /// - Parameters:
    ///   - ids: Token ids stored as Floats.
    ///   - table: The embeddings (tableRows, columns).
    ///   - tableRows: Rows of the table.
    ///   - columns: Features.
    /// - Returns: The output (ids.count, columns).
    public static func embedding(_ ids: [Float], table: [Float], tableRows: Int, columns: Int) -> [Float] {
        var out = [Float](repeating: 0, count: ids.count * columns)
        for (r, id) in ids.enumerated() {
            guard let row = tokenRow(id, rows: tableRows) else { continue }
            for k in 0..<columns { out[r * columns + k] = table[row * columns + k] }
        }
        return out
    }

    /// The embedding table's gradient: the sum of the output gradient rows of each id.
    ///
    /// - Parameters:
    ///   - dout: Gradient with respect to the output (ids.count, columns).
    ///   - ids: Token ids.
    ///   - tableRows: Rows of the table.
    ///   - columns: Features.
    /// - Returns: The table's gradient (tableRows, columns).
    public static func embeddingBackward(_ dout: [Float], ids: [Float], tableRows: Int, columns: Int) -> [Float] {
        var g = [Double](repeating: 0, count: tableRows * columns)
        for (r, id) in ids.enumerated() {
            guard let row = tokenRow(id, rows: tableRows) else { continue }
            for k in 0..<columns { g[row * columns + k] += Double(dout[r * columns + k]) }
        }
        return g.map { Float($0) }
    }

    /// Position embedding: x[b, t, k] + table[t, k].
    ///
    /// - Parameters:
    ///   - x: The input (batch, positions, columns).
    ///   - table: The position rows (>= positions, columns).
    ///   - batch: Samples.
    ///   - positions: Positions per sample.
    ///   - columns: Features.
    /// - Returns: The output (batch, positions, columns).
    public static func positionEmbedding(_ x: [Float], table: [Float], batch: Int, positions: Int, columns: Int) -> [Float] {
        var out = x
        for b in 0..<batch {
            for t in 0..<positions {
                for k in 0..<columns { out[(b * positions + t) * columns + k] += table[t * columns + k] }
            }
        }
        return out
    }

    /// The position table's gradient: row t is the sum over samples of dout[b, t, :].
    ///
    /// - Parameters:
    ///   - dout: Gradient with respect to the output (batch, positions, columns).
    ///   - batch: Samples.
    ///   - positions: Positions per sample.
    ///   - tableRows: Rows of the table.
    ///   - columns: Features.
    /// - Returns: The table's gradient (tableRows, columns).
    public static func positionEmbeddingBackward(_ dout: [Float], batch: Int, positions: Int, tableRows: Int, columns: Int) -> [Float] {
        var g = [Double](repeating: 0, count: tableRows * columns)
        for b in 0..<batch {
            for t in 0..<positions {
                for k in 0..<columns { g[t * columns + k] += Double(dout[(b * positions + t) * columns + k]) }
            }
        }
        return g.map { Float($0) }
    }
}
