import Dispatch

/// Splits `0..<count` into `parts` contiguous ranges and runs them on Dispatch's workers;
/// used by the memory-bound kernels (Adam, the small-K convolution GEMMs) between BLAS
/// calls, never inside one, so there is one level of threading at a time. `parts` follows
/// the BLAS thread count (`--threads`).
@inline(__always)
public func parallelRanges(_ count: Int, parts: Int = BLAS.threads, minimumPerPart: Int = 4096, alignment: Int = 1,
                           _ body: (Range<Int>) -> Void) {
    let p = max(1, min(parts, count / max(1, minimumPerPart)))
    if p == 1 {
        body(0..<count)
        return
    }
    // Part boundaries at multiples of `alignment` (the last part takes the remainder).
    @Sendable func bound(_ i: Int) -> Int { i == p ? count : count * i / p / alignment * alignment }
    // The parts write disjoint ranges of caller-owned buffers, so sharing `body` across
    // the workers is safe even though the compiler cannot prove it.
    withoutActuallyEscaping(body) { body in
        let shared = UncheckedSendable(body)
        DispatchQueue.concurrentPerform(iterations: p) { i in
            shared.value(bound(i)..<bound(i + 1))
        }
    }
}

/// A reduction over `0..<count` split in two (at most) across the BLAS threads: each part
/// adds into its own zeroed accumulator of `weightCount + biasCount` floats laid out
/// [weights, bias] (`partials` holds two of them), then the parts' sums overwrite `weights`
/// and `bias`. Used by the weight gradients, whose long dimension is the sum.
func accumulateInTwoParts(
    _ count: Int, minimumPerPart: Int, partials: UnsafeMutablePointer<Float>,
    weights: UnsafeMutablePointer<Float>, weightCount: Int, bias: UnsafeMutablePointer<Float>, biasCount: Int,
    _ body: (Range<Int>, UnsafeMutablePointer<Float>) -> Void
) {
    let size = weightCount + biasCount
    let parts = max(1, min(2, BLAS.threads))
    partials.update(repeating: 0, count: parts * size)
    parallelRanges(count, parts: parts, minimumPerPart: minimumPerPart) { range in
        body(range, partials + (range.lowerBound == 0 ? 0 : size))
    }
    let second = parts > 1 ? partials + size : nil
    for i in 0..<weightCount { weights[i] = partials[i] + (second?[i] ?? 0) }
    for j in 0..<biasCount { bias[j] = partials[weightCount + j] + (second?[weightCount + j] ?? 0) }
}

struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

@inline(__always) func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always) func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
}
