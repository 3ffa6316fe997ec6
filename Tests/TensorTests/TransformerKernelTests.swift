import CTensorKernels
import Testing
import Tensor

/// The transformer layers' kernels (Kernels/Transformer.swift) against their plain twins
/// (Reference+Transformer.swift), on row widths that are and are not multiples of 8 (the SIMD
/// width) and on enough rows to be split across the worker pool.
@Suite struct TransformerKernelTests {
    static func values(_ n: Int, seed: UInt64, scale: Float = 1, offset: Float = 0) -> [Float] {
        var g = SplitMix64(seed: seed)
        return (0..<n).map { _ in Float.random(in: -1...1, using: &g) * scale + offset }
    }

    /// |a - b| <= atol + rtol |b| everywhere.
    static func close(_ a: [Float], _ b: [Float], atol: Float = 1e-5, rtol: Float = 1e-4) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= atol + rtol * abs($1) }
    }

    @Test(arguments: [(rows: 1, columns: 1), (3, 7), (10, 8), (37, 33), (600, 64)])
    func layerNormMatchesReference(rows: Int, columns: Int) {
        let x = Self.values(rows * columns, seed: 1, scale: 3, offset: 0.5)
        let gamma = Self.values(columns, seed: 2, offset: 1), beta = Self.values(columns, seed: 3)
        let dy = Self.values(rows * columns, seed: 4)
        var y = [Float](repeating: .nan, count: rows * columns)
        var mean = [Float](repeating: .nan, count: rows), rstd = mean
        layerNormForward(x, gamma: gamma, beta: beta, &y, mean: &mean, rstd: &rstd, rows: rows, columns: columns, epsilon: 1e-3)
        let ref = Reference.layerNorm(x, gamma: gamma, beta: beta, rows: rows, columns: columns, epsilon: 1e-3)
        #expect(Self.close(y, ref.y))
        #expect(Self.close(mean, ref.mean))
        #expect(Self.close(rstd, ref.rstd))
        // Recomputing from the kept statistics gives the forward pass's values exactly.
        var again = [Float](repeating: .nan, count: rows * columns)
        layerNormApply(x, gamma: gamma, beta: beta, &again, mean: mean, rstd: rstd, rows: rows, columns: columns)
        #expect(again == y)

        var dx = [Float](repeating: .nan, count: rows * columns)
        var dgamma = [Float](repeating: .nan, count: columns), dbeta = dgamma
        var scratch = [Float](repeating: .nan, count: layerNormBackwardScratchCount(columns: columns))
        layerNormBackward(dy, x, gamma: gamma, mean: mean, rstd: rstd, dx: &dx, dgamma: &dgamma, dbeta: &dbeta,
                          scratch: &scratch, rows: rows, columns: columns)
        let g = Reference.layerNormBackward(dy, x, gamma: gamma, rows: rows, columns: columns, epsilon: 1e-3)
        #expect(Self.close(dx, g.dx, atol: 1e-4))
        #expect(Self.close(dgamma, g.dgamma, atol: 1e-4))
        #expect(Self.close(dbeta, g.dbeta, atol: 1e-4))

        // In place over dy (as the layer runs it), and without an input gradient.
        var inPlace = dy
        inPlace.withUnsafeMutableBufferPointer { d in
            layerNormBackward(d.baseAddress!, x, gamma: gamma, mean: mean, rstd: rstd, dx: d.baseAddress!, dgamma: &dgamma,
                              dbeta: &dbeta, scratch: &scratch, rows: rows, columns: columns)
        }
        #expect(inPlace == dx)
        var dgammaOnly = [Float](repeating: .nan, count: columns)
        layerNormBackward(dy, x, gamma: gamma, mean: mean, rstd: rstd, dx: nil, dgamma: &dgammaOnly, dbeta: &dbeta,
                          scratch: &scratch, rows: rows, columns: columns)
        #expect(dgammaOnly == dgamma)
    }

    @Test func layerNormOfAConstantRowIsBeta() {
        let x = [Float](repeating: 4.5, count: 12)
        let gamma = Self.values(12, seed: 5, offset: 1), beta = Self.values(12, seed: 6)
        var y = [Float](repeating: .nan, count: 12), mean: [Float] = [0], rstd: [Float] = [0]
        layerNormForward(x, gamma: gamma, beta: beta, &y, mean: &mean, rstd: &rstd, rows: 1, columns: 12, epsilon: 1e-3)
        #expect(y == beta)
        #expect(mean == [4.5])
    }

    /// Every kernel level (the libm baseline, AVX2 lanes, AVX-512 lanes where the CPU has
    /// them), both forms, over 100 K values (split across the pool) and the tails: against the
    /// Double twin.
    @Test(arguments: [false, true], [0, 1, 2] as [Int32])
    func geluMatchesReference(approximate: Bool, level: Int32) {
        let before = fm_kernels_use_level(level)
        defer { fm_kernels_set_thread_choice(before) }
        let n = 100_003
        var x = Self.values(n, seed: 7, scale: 6)
        x += [0, -0.0, 12, -12, 30, -30]
        let dy = Self.values(x.count, seed: 8)
        var y = [Float](repeating: .nan, count: x.count), dx = y
        geluForward(x, &y, count: x.count, approximate: approximate)
        geluBackward(dy, input: x, &dx, count: x.count, approximate: approximate)
        #expect(Self.close(y, Reference.gelu(x, approximate: approximate), atol: 1e-6, rtol: 1e-5))
        #expect(Self.close(dx, Reference.geluBackward(dy, x, approximate: approximate), atol: 1e-6, rtol: 1e-5))
        #expect(y.allSatisfy(\.isFinite) && dx.allSatisfy(\.isFinite))
        // Known values: GELU(1) = Phi(1) = 0.8413447 (erf), 0.8411920 (tanh).
        var one: [Float] = [0]
        geluForward([1], &one, count: 1, approximate: approximate)
        #expect(abs(one[0] - (approximate ? 0.8411920 : 0.8413447)) < 1e-6)
        // A value does not depend on its place: one 5-value row equals the same values inside
        // a long array (decoding one position against a whole batch).
        var row = [Float](repeating: 0, count: 5)
        geluForward(Array(x[16..<21]), &row, count: 5, approximate: approximate)
        #expect(row == Array(y[16..<21]))
    }

    /// The AVX-512 GELU is the AVX2 arithmetic on wider vectors: the same value for every
    /// element (so a row decoded on one level equals the batch's on the other), tails included.
    @Test(.enabled(if: fm_kernels_best_level() >= 2, "the CPU has AVX-512"), arguments: [false, true])
    func geluAVX512EqualsAVX2(approximate: Bool) {
        let x = Self.values(1_037, seed: 9, scale: 6), dy = Self.values(1_037, seed: 10)
        var results: [[Float]] = []
        for level: Int32 in [1, 2] {
            let before = fm_kernels_use_level(level)
            defer { fm_kernels_set_thread_choice(before) }
            var y = [Float](repeating: .nan, count: x.count), dx = y
            geluForward(x, &y, count: x.count, approximate: approximate)
            geluBackward(dy, input: x, &dx, count: x.count, approximate: approximate)
            results.append(y + dx)
        }
        #expect(results[0] == results[1])
    }

    @Test func embeddingGathersAndScatterAddsRows() {
        let rows = 5, columns = 11
        let table = Self.values(rows * columns, seed: 9)
        // Repeats, both ends of the table, and ids that must read nothing.
        let ids: [Float] = [2, 0, 4, 2, -1, 5, 1.5, .nan, .infinity, 2, 1e9, 3]
        var out = [Float](repeating: .nan, count: ids.count * columns)
        embeddingForward(ids, table: table, &out, count: ids.count, tableRows: rows, columns: columns)
        #expect(out == Reference.embedding(ids, table: table, tableRows: rows, columns: columns))
        #expect(Array(out[0..<columns]) == Array(table[2 * columns..<3 * columns]))
        #expect(out[4 * columns..<9 * columns].allSatisfy { $0 == 0 })

        let dout = Self.values(ids.count * columns, seed: 10)
        var dtable = [Float](repeating: .nan, count: rows * columns)
        embeddingBackward(dout, ids: ids, dtable: &dtable, count: ids.count, tableRows: rows, columns: columns)
        #expect(Self.close(dtable, Reference.embeddingBackward(dout, ids: ids, tableRows: rows, columns: columns), atol: 1e-6))
        // Row 2 takes tokens 0, 3 and 9.
        let k = 3
        #expect(abs(dtable[2 * columns + k] - (dout[k] + dout[3 * columns + k] + dout[9 * columns + k])) < 1e-6)
    }

    @Test(arguments: [(batch: 1, positions: 1, tableRows: 1, columns: 3), (3, 5, 7, 8), (2, 9, 9, 13)])
    func positionEmbeddingMatchesReference(batch: Int, positions: Int, tableRows: Int, columns: Int) {
        let x = Self.values(batch * positions * columns, seed: 11)
        let table = Self.values(tableRows * columns, seed: 12)
        var y = [Float](repeating: .nan, count: x.count)
        positionEmbeddingForward(x, table: table, &y, batch: batch, positions: positions, columns: columns)
        #expect(y == Reference.positionEmbedding(x, table: table, batch: batch, positions: positions, columns: columns))
        let dout = Self.values(x.count, seed: 13)
        var dtable = [Float](repeating: .nan, count: table.count)
        positionEmbeddingBackward(dout, dtable: &dtable, batch: batch, positions: positions, tableRows: tableRows, columns: columns)
        let ref = Reference.positionEmbeddingBackward(dout, batch: batch, positions: positions, tableRows: tableRows, columns: columns)
        #expect(Self.close(dtable, ref, atol: 1e-6))
        #expect(dtable[(positions * columns)...].allSatisfy { $0 == 0 })
    }

    /// The many-rows Dense backward against the textbook products, with and without dinp.
    @Test(arguments: [(rows: 1, inFeatures: 1, outFeatures: 1), (7, 5, 3), (200, 33, 70), (640, 64, 256), (130, 29, 45)])
    func denseRowsBackwardMatchesTheTextbookGEMMs(shape: (rows: Int, inFeatures: Int, outFeatures: Int)) {
        let (rows, inFeatures, outFeatures) = shape
        let x = Self.values(rows * inFeatures, seed: 31), w = Self.values(inFeatures * outFeatures, seed: 32)
        let dy = Self.values(rows * outFeatures, seed: 33)
        var dw = [Float](repeating: .nan, count: inFeatures * outFeatures), db = [Float](repeating: .nan, count: outFeatures)
        var dx = [Float](repeating: .nan, count: rows * inFeatures)
        denseRowsBackward(dy, x, w, dweight: &dw, dbias: &db, dinp: &dx, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures)
        let dwWant = Reference.gemm(transposeA: true, transposeB: false, m: inFeatures, n: outFeatures, k: rows, alpha: 1, a: x, b: dy,
                                    beta: 0, c: [Float](repeating: 0, count: inFeatures * outFeatures))
        let dxWant = Reference.gemm(transposeA: false, transposeB: true, m: rows, n: inFeatures, k: outFeatures, alpha: 1, a: dy, b: w,
                                    beta: 0, c: [Float](repeating: 0, count: rows * inFeatures))
        let dbWant = (0..<outFeatures).map { o in Float((0..<rows).reduce(0.0) { $0 + Double(dy[$1 * outFeatures + o]) }) }
        #expect(maxAbsDiff(dw, dwWant) < 1e-5 * Float(rows).squareRoot() * 4)
        #expect(maxAbsDiff(dx, dxWant) < 1e-5 * Float(outFeatures).squareRoot() * 4)
        #expect(maxAbsDiff(db, dbWant) < 1e-5 * Float(rows).squareRoot() * 4)
        var dwOnly = [Float](repeating: .nan, count: dw.count)
        denseRowsBackward(dy, x, w, dweight: &dwOnly, dbias: &db, dinp: nil, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures)
        #expect(dwOnly == dw)
    }
}
