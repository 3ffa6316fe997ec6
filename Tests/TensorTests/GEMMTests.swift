import Testing
import Tensor

@Suite struct GEMMTests {
    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func sgemm_matchesTripleLoop(transposeA: Bool, transposeB: Bool) {
        for (m, n, k) in [(1, 1, 1), (3, 5, 7), (17, 4, 33), (64, 31, 9)] {
            for (alpha, beta) in [(Float(1), Float(0)), (0.5, 2), (-1.5, 1)] {
                let a = random(m * k, seed: 1), b = random(k * n, seed: 2), c0 = random(m * n, seed: 3)
                var c = c0
                a.withUnsafeBufferPointer { ap in
                    b.withUnsafeBufferPointer { bp in
                        c.withUnsafeMutableBufferPointer { cp in
                            sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                                  alpha: alpha, a: ap.baseAddress!, b: bp.baseAddress!,
                                  beta: beta, c: cp.baseAddress!)
                        }
                    }
                }
                let want = Reference.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                                          alpha: alpha, a: a, b: b, beta: beta, c: c0)
                #expect(maxAbsDiff(c, want) < 1e-4, "m \(m) n \(n) k \(k) alpha \(alpha) beta \(beta)")
            }
        }
    }

    @Test func tensorMatmul_transposesAndAddend() {
        let a = Tensor([[1, 2, 3], [4, 5, 6]])          // (2, 3)
        let b = Tensor([[1, 0], [0, 1], [1, 1]])        // (3, 2)
        #expect(a.matmul(b) == Tensor([[4, 5], [10, 11]]))
        #expect(b.matmul(a, transposeSelf: true, transposeOther: true) == a.matmul(b).transposed)
        let c = Tensor([[1, 1], [1, 1]])
        #expect(a.matmul(b, alpha: 2, beta: 3, addend: c) == Tensor([[11, 13], [23, 25]]))
        #expect(a.matmul(a, transposeOther: true) == Tensor([[14, 32], [32, 77]]))
    }

    @Test func blas_reportsCoreAndThreads() {
        #expect(!BLAS.coreName.isEmpty && BLAS.coreName != "unknown")
        let before = BLAS.threads
        BLAS.setThreads(1)
        #expect(BLAS.threads == 1)
        BLAS.setThreads(before)
    }
}
