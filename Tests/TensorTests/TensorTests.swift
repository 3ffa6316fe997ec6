import Testing
import Tensor

@Suite struct TensorTests {
    @Test func shapesAndReshape() {
        let t = Tensor(shape: [2, 3], scalars: [0, 1, 2, 3, 4, 5])
        #expect(t[1, 2] == 5)
        #expect(t.reshaped([3, -1]).shape == [3, 2])
        #expect(t.reshaped([6]).scalars == t.scalars)
        #expect(Tensor.zeros([2, 2]).scalars == [0, 0, 0, 0])
        #expect(Tensor.ones([3]).sum() == 3)
    }

    @Test func elementwiseArithmetic() {
        let a = Tensor([1, 2, 3]), b = Tensor([4, 5, 6])
        #expect(a + b == Tensor([5, 7, 9]))
        #expect(b - a == Tensor([3, 3, 3]))
        #expect(a * b == Tensor([4, 10, 18]))
        #expect(b / a == Tensor([4, 2.5, 2]))
        #expect(a * 2 == Tensor([2, 4, 6]))
        #expect(-a == Tensor([-1, -2, -3]))
    }

    @Test func reductionsAlongAxes() {
        let t = Tensor(shape: [2, 3], scalars: [1, 5, 3, 4, 2, 6])
        #expect(t.sum(axis: 0) == Tensor([5, 7, 9]))
        #expect(t.sum(axis: 1) == Tensor([9, 12]))
        #expect(t.mean(axis: 1) == Tensor([3, 4]))
        #expect(t.argmaxIndices(axis: 1) == [1, 2])
        #expect(t.argmaxIndices(axis: 0) == [1, 0, 1])
        #expect(t.argmax(axis: -1) == Tensor([1, 2]))
        let u = Tensor(shape: [2, 2, 2], scalars: [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(u.sum(axis: 1) == Tensor(shape: [2, 2], scalars: [4, 6, 12, 14]))
        #expect(t.mean() == 3.5)
    }
}

@Suite struct RandomTests {
    /// The expected words come from an independent Python implementation of SplitMix64 +
    /// xoshiro256**, so this pins the algorithm, not just determinism.
    @Test func xoshiro_fixedPrefix() {
        var g = Xoshiro256(seed: 0)
        #expect([g.next(), g.next(), g.next(), g.next()] ==
                [0x99ec5f36cb75f2b4, 0xbf6e1f784956452a, 0x1a5f849d4933e6e0, 0x6aa594f1262d2d2c])
        var h = Xoshiro256(seed: 42)
        #expect([h.nextUnitFloat(), h.nextUnitFloat(), h.nextUnitFloat()] ==
                [0.08386296033859253, 0.37898021936416626, 0.6800433993339539])
    }

    @Test func sameSeedSameSequence_differentSeedDifferent() {
        #expect(Tensor.randomNormal([100], seed: 7) == Tensor.randomNormal([100], seed: 7))
        #expect(Tensor.randomNormal([100], seed: 7) != Tensor.randomNormal([100], seed: 8))
        var g = Xoshiro256(seed: 3)
        _ = g.next()
        let restored = Xoshiro256(state: g.stateWords)
        var g2 = restored
        #expect(g2.next() == g.next())
    }

    @Test func normalAndIntegerDistributions() {
        let n = Tensor.randomNormal([20_000], mean: 2, standardDeviation: 3, seed: 1)
        let mean = n.mean()
        let variance = (n - mean).map { $0 * $0 }.mean()
        #expect(abs(mean - 2) < 0.1)
        #expect(abs(variance.squareRoot() - 3) < 0.1)
        var g = Xoshiro256(seed: 9)
        var counts = [Int](repeating: 0, count: 5)
        for _ in 0..<10_000 { counts[g.nextInt(below: 5)] += 1 }
        #expect(counts.allSatisfy { abs($0 - 2000) < 200 })
    }

    @Test func shuffle_isAPermutation() {
        var idx = [Int](0..<100)
        var g = Xoshiro256(seed: 5)
        idx.withUnsafeMutableBufferPointer { shuffleIndices($0, using: &g) }
        #expect(idx.sorted() == Array(0..<100))
        #expect(idx != Array(0..<100))
    }

    @Test func glorotUniform_keepsKerasLimit() {
        // Keras: limit = sqrt(6 / (fan_in + fan_out)); conv fans are cin*kh*kw, cout*kh*kw.
        #expect(abs(Initializer.glorotUniformLimit(fanIn: 9, fanOut: 288) - (6.0 / 297.0).squareRoot()) < 1e-7)
        var w = [Float](repeating: 0, count: 5408 * 128)
        var g = Xoshiro256(seed: 0)
        w.withUnsafeMutableBufferPointer { Initializer.glorotUniform($0, fanIn: 5408, fanOut: 128, rng: &g) }
        let limit = Initializer.glorotUniformLimit(fanIn: 5408, fanOut: 128)
        #expect(w.allSatisfy { abs($0) <= limit })
        #expect(w.max()! > 0.99 * limit && w.min()! < -0.99 * limit)
        let t = Tensor(w)
        #expect(abs(t.mean()) < 0.01 * limit)
    }
}

@Suite struct SVDTests {
    @Test func truncatedSVD_reconstructsAndSorts() throws {
        let a = Tensor.randomNormal([12, 7], seed: 11)
        let full = try a.truncatedSVD(rank: 7)
        #expect(maxAbsDiff(full.reconstruction.scalars, a.scalars) < 1e-4)
        #expect(zip(full.singularValues, full.singularValues.dropFirst()).allSatisfy { $0 >= $1 })
        #expect(full.singularValues.allSatisfy { $0 >= 0 })
        // U has orthonormal columns.
        let utu = full.u.matmul(full.u, transposeSelf: true)
        for i in 0..<7 { for j in 0..<7 { #expect(abs(utu[i, j] - (i == j ? 1 : 0)) < 1e-4) } }

        // A rank-2 matrix is recovered exactly by its rank-2 truncation.
        let low = Tensor.randomNormal([9, 2], seed: 1).matmul(Tensor.randomNormal([2, 6], seed: 2))
        let t2 = try low.truncatedSVD(rank: 2)
        #expect(maxAbsDiff(t2.reconstruction.scalars, low.scalars) < 1e-4)
        #expect(t2.u.shape == [9, 2] && t2.vt.shape == [2, 6])
        // The error of a rank-1 truncation is the dropped singular value (Eckart-Young, 2-norm ≤ Frobenius).
        let t1 = try low.truncatedSVD(rank: 1)
        let residual = (low - t1.reconstruction).map { $0 * $0 }.sum().squareRoot()
        #expect(abs(residual - t2.singularValues[1]) < 1e-3 * max(1, t2.singularValues[1]))
    }
}
