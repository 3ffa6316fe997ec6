import Foundation
import Synchronization
import Testing
import Tensor
@testable import Models

/// A group of "processes" that are threads of this test, each with its own model replica:
/// sums go through shared slots between two barriers, always added in rank order, so every
/// replica gets bit-identical sums (as MPI's all-reduce gives every rank the same result).
final class ThreadGroup: @unchecked Sendable {
    let size: Int
    private let condition = NSCondition()
    private var arrived = 0, generation = 0
    /// One slot per rank: where its values are, and how many. Allocated once, so that ranks
    /// writing their own slots at once do not share an array's storage.
    private let slots: UnsafeMutablePointer<(pointer: UnsafeMutablePointer<Double>?, floats: UnsafeMutablePointer<Float>?, count: Int)>

    init(size: Int) {
        self.size = size
        slots = .allocate(capacity: size)
        slots.initialize(repeating: (nil, nil, 0), count: size)
    }

    deinit { slots.deallocate() }

    func barrier() {
        condition.lock()
        let g = generation
        arrived += 1
        if arrived == size {
            arrived = 0
            generation += 1
            condition.broadcast()
        } else {
            while g == generation { condition.wait() }
        }
        condition.unlock()
    }

    /// Runs `body(rank)` on `size` threads of their own, all at once (a pool such as
    /// `concurrentPerform` may run fewer at a time, and ranks waiting at a barrier for a rank
    /// that has not started would wait forever), and returns when all have finished.
    func run(_ body: @escaping @Sendable (Int) -> Void) {
        let done = DispatchSemaphore(value: 0)
        for rank in 0..<size {
            let thread = Thread {
                body(rank)
                done.signal()
            }
            thread.start()
        }
        for _ in 0..<size { done.wait() }
    }

    /// Rank `rank`'s member of the group.
    func member(_ rank: Int) -> Member { Member(group: self, rank: rank) }

    final class Member: TrainingGroup, GradientHook {
        let group: ThreadGroup
        let rank: Int
        var size: Int { group.size }
        private var scratch: [Float] = []
        private(set) var steps = 0

        init(group: ThreadGroup, rank: Int) {
            self.group = group
            self.rank = rank
        }

        func sum(_ values: UnsafeMutableBufferPointer<Double>) {
            let copy = Array(values)
            copy.withUnsafeBufferPointer { c in
                group.slots[rank] = (UnsafeMutablePointer(mutating: c.baseAddress), nil, c.count)
                group.barrier()
                for i in values.indices { values[i] = (0..<size).reduce(0.0) { $0 + group.slots[$1].pointer![i] } }
                group.barrier()
            }
        }

        func gradientsReady(_ bucket: GradientBucket) {
            let g = bucket.gradients
            scratch = Array(g)
            scratch.withUnsafeMutableBufferPointer { s in
                group.slots[rank] = (nil, s.baseAddress, s.count)
                group.barrier()
                for i in g.indices { g[i] = (0..<size).reduce(Float(0)) { $0 + group.slots[$1].floats![i] } }
                group.barrier()
            }
        }

        func synchronize() { steps += 1 }
    }
}

/// A collective one replica skipped would wait forever: the time limit turns that into a failure.
@Suite(.timeLimit(.minutes(1))) struct DataParallelTests {
    func replica(seed: UInt64 = 3) throws -> Model {
        let m = try ModelDescription.cnn.adapted(inputShape: [8, 8, 1], classes: 3).makeModel(seed: seed)
        m.compile(optimizer: Adam(learningRate: 0.01))
        return m
    }

    /// Trains `size` replicas on threads, each with its share of every batch.
    func trainTogether(size: Int, data: ArrayBatchSource, batchSize: Int, epochs: Int = 1) throws -> [(Model, FitResult)] {
        let group = ThreadGroup(size: size)
        nonisolated(unsafe) let models = try (0..<size).map { _ in try replica() }
        let results = Mutex<[Int: FitResult]>([:])
        group.run { rank in
            let member = group.member(rank)
            models[rank].gradientHook = member
            let r = models[rank].fit(data, epochs: epochs, batchSize: batchSize, validationSplit: 0.2, seed: 7, group: member)
            results.withLock { $0[rank] = r }
        }
        let outcomes = results.withLock { r in (0..<size).map { r[$0]! } }
        return Array(zip(models, outcomes))
    }

    /// N processes reproduce one process up to the order of float sums: weights within 1e-5
    /// relative (plus 1e-6 absolute), the same batch count and metrics; every replica holds
    /// bit-identical weights. 110 samples: 88 to train in batches of 12 ends in a batch of 4
    /// (shares 1, 1, 2 over three processes; 2, 2 over two).
    @Test(arguments: [2, 3])
    func replicas_trainLikeOneProcess(size: Int) throws {
        let data = syntheticImages(count: 110)
        let single = try replica()
        let expected = single.fit(data, epochs: 2, batchSize: 12, validationSplit: 0.2, seed: 7)
        let together = try trainTogether(size: size, data: data, batchSize: 12, epochs: 2)
        for (m, r) in together {
            #expect(m.flatParameters == together[0].0.flatParameters)
            #expect(r.history.map(\.batches) == expected.history.map(\.batches))
            #expect(r.history.map(\.samples) == expected.history.map(\.samples))
            for (a, b) in zip(r.history, expected.history) {
                #expect(abs(a.loss - b.loss) <= 1e-5 * abs(b.loss))
                #expect(abs(a.accuracy - b.accuracy) < 1e-9)
                #expect(abs(a.validationLoss! - b.validationLoss!) <= 1e-5 * abs(b.validationLoss!))
            }
        }
        let w = together[0].0.flatParameters, reference = single.flatParameters
        let worst = zip(w, reference).map { abs($0 - $1) / (abs($1) + 1e-6 / 1e-5) }.max()!
        #expect(worst <= 1e-5)
        // Training moved the weights far beyond that tolerance.
        #expect(maxAbsDiff(reference, try replica().flatParameters) > 1e-2)
    }

    /// A last batch smaller than the group leaves a process without samples: it contributes
    /// zero gradients and still takes part in every sum (no deadlock), and the result holds.
    @Test func anEmptyShare_contributesNothing() throws {
        // 14 samples to train at batch 12: the second batch holds 2 samples, so one of three
        // processes has none.
        let small = syntheticImages(count: 18)
        let one = try replica()
        let e2 = one.fit(small, epochs: 1, batchSize: 12, validationSplit: 0.2, seed: 7)
        let together = try trainTogether(size: 3, data: small, batchSize: 12)
        #expect(DataParallelTests.shares(of: 12..<14, size: 3).map(\.count) == [0, 1, 1])
        for (m, r) in together {
            #expect(r.history[0].samples == e2.history[0].samples && r.history[0].batches == 2)
            #expect(abs(r.history[0].loss - e2.history[0].loss) <= 1e-5 * e2.history[0].loss)
            let worst = zip(m.flatParameters, one.flatParameters).map { abs($0 - $1) / (abs($1) + 0.1) }.max()!
            #expect(worst <= 1e-5)
        }
    }

    static func shares(of range: Range<Int>, size: Int) -> [Range<Int>] {
        (0..<size).map { Model.share(of: range, rank: $0, size: size) }
    }

    @Test func shares_coverTheRangeOnceInOrder() {
        for n in 0..<20 {
            for size in 1...5 {
                let s = Self.shares(of: 7..<(7 + n), size: size)
                #expect(s.flatMap { Array($0) } == Array(7..<(7 + n)))
                #expect(s.map(\.count).max()! - s.map(\.count).min()! <= 1)
            }
        }
    }

    /// A stop request from one process stops every process after the same batch.
    @Test func oneProcessStopping_stopsAll() throws {
        let data = syntheticImages(count: 120)
        let group = ThreadGroup(size: 2)
        nonisolated(unsafe) let models = try (0..<2).map { _ in try replica() }
        let results = Mutex<[Int: FitResult]>([:])
        group.run { rank in
            let member = group.member(rank)
            models[rank].gradientHook = member
            let stopper = TrainingHooks(batchEnd: { logs in rank == 1 && logs.batch == 3 ? .stop : .proceed })
            let r = models[rank].fit(data, epochs: 2, batchSize: 12, seed: 7, observer: stopper, group: member)
            results.withLock { $0[rank] = r }
        }
        results.withLock { r in
            for rank in 0..<2 {
                #expect(r[rank]!.outcome == .stopped)
                #expect(r[rank]!.history.map(\.batches) == [3])
            }
        }
    }
}
