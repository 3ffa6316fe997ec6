import Testing
@testable import Tensor

/// When fmctl asks OpenBLAS for another kernel (docs/architecture.md, "OpenBLAS's kernel").
@Suite struct BLASTuningTests {
    @Test func aPreAVX2FallbackOnAnAVXCPUIsReplaced() {
        #expect(BLAS.betterCoreType(current: "Prescott", avx512: true, avx2: true) == "SkylakeX")
        #expect(BLAS.betterCoreType(current: "Prescott", avx512: false, avx2: true) == "Haswell")
        #expect(BLAS.betterCoreType(current: "Sandybridge", avx512: false, avx2: true) == "Haswell")
        #expect(BLAS.betterCoreType(current: "NEHALEM", avx512: true, avx2: true) == "SkylakeX")
    }

    @Test func aChoiceOfAVX2OrLaterOrAnOldCPUIsKept() {
        for core in ["Haswell", "SkylakeX", "Cooperlake", "Zen", "SapphireRapids", "unknown"] {
            #expect(BLAS.betterCoreType(current: core, avx512: true, avx2: true) == nil, "\(core)")
        }
        #expect(BLAS.betterCoreType(current: "Prescott", avx512: false, avx2: false) == nil)
    }
}
