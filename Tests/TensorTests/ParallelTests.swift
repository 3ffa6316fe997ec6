import CTensorKernels
import Dispatch
import Foundation
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

    /// A thread that chooses the baseline kernels (as the kernel tests do) chooses them for
    /// itself and for the workers running its pieces, and for no other thread: tests running
    /// side by side in one process cannot switch each other's kernels.
    @Test func kernelChoice_followsTheCallerIntoTheWorkers() {
        let detected = fm_kernels_avx2_enabled()
        let pieces = 200
        func choicesSeen() -> (choices: Set<Int32>, onWorker: Bool) {
            var seen = [Int32](repeating: -1, count: pieces), worker = [Bool](repeating: false, count: pieces)
            let caller = pthread_self()
            seen.withUnsafeMutableBufferPointer { s in
                worker.withUnsafeMutableBufferPointer { w in
                    let (sp, wp) = (s.baseAddress!, w.baseAddress!)
                    parallelPieces(pieces, pieces: pieces) { index, _ in
                        sp[index] = fm_kernels_avx2_enabled()
                        wp[index] = pthread_equal(pthread_self(), caller) == 0
                        let start = DispatchTime.now().uptimeNanoseconds   // long enough for a worker to join
                        while DispatchTime.now().uptimeNanoseconds - start < 50_000 {}
                    }
                }
            }
            return (Set(seen), worker.contains(true))
        }
        let before = fm_kernels_use_avx2(0)
        #expect(before == detected)
        // The pool may be busy with another test's kernel (then the pieces run here alone):
        // try until a worker took part.
        var baseline = choicesSeen()
        for _ in 0..<50 where !baseline.onWorker { baseline = choicesSeen() }
        // Another thread meanwhile still has what the CPU offers.
        let elsewhere = Atomic<Int32>(-1)
        let other = Thread { elsewhere.store(fm_kernels_avx2_enabled(), ordering: .relaxed) }
        other.start()
        while elsewhere.load(ordering: .relaxed) == -1 { usleep(1000) }
        fm_kernels_use_avx2(before)
        #expect(baseline.choices == [0])
        #expect(baseline.onWorker, "no piece ran on a worker, so the hand-over was not exercised")
        #expect(elsewhere.load(ordering: .relaxed) == detected)
        #expect(choicesSeen().choices == [detected])
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

