import Dispatch
import Synchronization
import Testing
import Tensor

/// `parallelPieces` on the persistent workers: every index of every piece runs exactly once,
/// with pieces of any alignment, and callers on several threads at once (one gets the
/// workers, the others run their pieces alone) neither lose work nor deadlock.
@Suite struct ParallelTests {
    /// How often each index of 0..<count was visited, and the pieces' indices and ranges.
    static func visit(_ count: Int, pieces: Int, alignment: Int) -> (visits: [Int32], ranges: [Range<Int>]) {
        var visits = [Int32](repeating: 0, count: count)
        var ranges = [Range<Int>](repeating: 0..<0, count: pieces)
        visits.withUnsafeMutableBufferPointer { v in
            ranges.withUnsafeMutableBufferPointer { r in
                let (vp, rp) = (v.baseAddress!, r.baseAddress!)
                parallelPieces(count, pieces: pieces, alignment: alignment) { index, range in
                    rp[index] = range  // each piece writes only its own slot and its own range
                    for i in range { vp[i] += 1 }
                }
            }
        }
        return (visits, ranges)
    }

    @Test(arguments: [(1000, 8, 1), (5408, 48, 6), (128, 8, 16), (7, 16, 1), (100, 3, 64)])
    func pieces_coverEveryIndexOnce(_ c: (count: Int, pieces: Int, alignment: Int)) {
        let (visits, ranges) = Self.visit(c.count, pieces: c.pieces, alignment: c.alignment)
        #expect(visits.allSatisfy { $0 == 1 })
        // Contiguous, in order, boundaries on the alignment (the last takes the rest).
        let used = ranges.prefix(min(c.pieces, c.count))
        #expect(used.first?.lowerBound == 0 && used.last?.upperBound == c.count)
        #expect(zip(used, used.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
        #expect(used.dropLast().allSatisfy { $0.upperBound % c.alignment == 0 })
    }

    @Test func concurrentCallers_allComplete() {
        // Atomics, not Mutex: ThreadSanitizer misreads Synchronization.Mutex's hand-over on Linux.
        final class Tally: Sendable { let calls = Atomic<Int>(0), failures = Atomic<Int>(0) }
        let callers = 4, calls = 300, tally = Tally()
        DispatchQueue.concurrentPerform(iterations: callers) { caller in
            for call in 0..<calls {
                let count = 50 + (caller * 131 + call * 17) % 3000
                let (visits, _) = Self.visit(count, pieces: 2 + call % 30, alignment: 1 + call % 4)
                if !visits.allSatisfy({ $0 == 1 }) { tally.failures.wrappingAdd(1, ordering: .relaxed) }
                tally.calls.wrappingAdd(1, ordering: .relaxed)
            }
        }
        #expect(tally.calls.load(ordering: .relaxed) == callers * calls)
        #expect(tally.failures.load(ordering: .relaxed) == 0)
    }
}

