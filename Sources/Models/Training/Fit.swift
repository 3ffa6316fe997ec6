import Foundation
import Tensor

/// Why `fit` returned.
public enum FitOutcome: Sendable, Equatable {
    case completed
    /// A hook returned `.stop`.
    case stopped
    /// The loss became NaN or infinite at this (epoch, batch), 1-based.
    case nonFiniteLoss(epoch: Int, batch: Int)
}

public struct FitResult: Sendable {
    public let history: [EpochLogs]
    public let outcome: FitOutcome
}

/// Where `fit` resumes: the epoch and batch (0-based) to start from and the running sums
/// of the partial epoch. Shuffling is derived from (seed, epoch), so resuming at a batch
/// gives the same order as the uninterrupted run.
public struct TrainingPosition: Codable, Sendable, Equatable {
    public var epoch: Int
    public var batch: Int
    public var lossSum: Double
    public var correct: Int
    public var samples: Int

    public init(epoch: Int = 0, batch: Int = 0, lossSum: Double = 0, correct: Int = 0, samples: Int = 0) {
        self.epoch = epoch; self.batch = batch; self.lossSum = lossSum; self.correct = correct; self.samples = samples
    }
}

/// Keras's split: the LAST `validationSplit` fraction (before any shuffling) is validation;
/// `split_at = floor(count * (1 - validationSplit))`.
public func validationSplitIndex(count: Int, validationSplit: Double) -> Int {
    Int((Double(count) * (1 - validationSplit)).rounded(.down))
}

extension Model {
    /// The shuffling (and dropout) generator of one epoch: a fresh stream per (seed, epoch),
    /// so that a resumed run shuffles exactly as an uninterrupted one.
    static func epochGenerator(seed: UInt64, epoch: Int, stream: UInt64) -> Xoshiro256 {
        Xoshiro256(seed: seed ^ (UInt64(epoch + 1) &* 0x9E37_79B9_7F4A_7C15) ^ (stream &* 0xD1B5_4A32_D192_ED03))
    }

    /// Trains for `epochs` epochs with Keras's semantics: validation is the last
    /// `validationSplit` of the data before shuffling; the training part is shuffled every
    /// epoch (seeded); the last partial batch is kept; the loss is the batch mean; train
    /// loss and accuracy are running means over the epoch's samples.
    public func fit(
        _ data: any LabeledBatchSource,
        epochs: Int,
        batchSize: Int = 32,
        validationSplit: Double = 0,
        shuffle: Bool = true,
        seed: UInt64 = 0,
        from position: TrainingPosition = TrainingPosition(),
        observer: (any TrainingObserver)? = nil,
        position current: ((TrainingPosition) -> Void)? = nil
    ) -> FitResult {
        precondition(epochs >= 0 && batchSize > 0 && validationSplit >= 0 && validationSplit < 1)
        precondition(data.sampleShape.reduce(1, *) == inputCount, "data sample shape \(data.sampleShape) does not fit input \(inputShape)")
        let trainCount = validationSplitIndex(count: data.count, validationSplit: validationSplit)
        let validationCount = data.count - trainCount
        prepare(maxBatch: batchSize)
        var order = [Int](repeating: 0, count: trainCount)
        var history: [EpochLogs] = []
        let batches = (trainCount + batchSize - 1) / batchSize
        var start = position
        let dropouts = plan.stochasticLayers

        for epoch in start.epoch..<epochs {
            let e = epoch + 1
            observer?.epochBegan(e, of: epochs)
            let t0 = DispatchTime.now().uptimeNanoseconds
            order.withUnsafeMutableBufferPointer { o in
                for i in 0..<trainCount { o[i] = i }
                if shuffle {
                    var rng = Self.epochGenerator(seed: seed, epoch: epoch, stream: 0)
                    shuffleIndices(o, using: &rng)
                }
            }

            observer?.phaseBegan(.train, epoch: e)
            var lossSum = start.lossSum, correct = start.correct, seen = start.samples
            var stopped = false
            var nonFinite = false
            let startBatch = start.batch, startSamples = start.samples
            var b = start.batch
            while b < batches {
                let lo = b * batchSize, n = min(batchSize, trainCount - lo)
                order.withUnsafeBufferPointer { fill(data, indices: UnsafeBufferPointer(rebasing: $0[lo..<(lo + n)])) }
                // Dropout masks come from (seed, epoch, batch, layer): a resumed run draws
                // the same masks as an uninterrupted one.
                for (k, d) in dropouts.enumerated() {
                    d.rng = Self.epochGenerator(seed: seed, epoch: epoch, stream: UInt64(1 + b * dropouts.count + k))
                }
                let r = trainStep(batch: n)
                b += 1
                if !r.lossSum.isFinite {
                    nonFinite = true
                    break
                }
                lossSum += r.lossSum; correct += r.correct; seen += n
                current?(TrainingPosition(epoch: epoch, batch: b, lossSum: lossSum, correct: correct, samples: seen))
                if let observer {
                    let logs = BatchLogs(epoch: e, batch: b, batches: batches, startBatch: startBatch, loss: lossSum / Double(seen),
                                         accuracy: Double(correct) / Double(seen), samples: seen,
                                         seconds: Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
                    if observer.batchEnded(logs) == .stop { stopped = true; break }
                }
            }
            observer?.phaseEnded(.train, epoch: e)
            let t1 = DispatchTime.now().uptimeNanoseconds
            start = TrainingPosition()

            var valLoss: Double?, valAccuracy: Double?
            if validationCount > 0 && !stopped && !nonFinite {
                observer?.phaseBegan(.validation, epoch: e)
                let v = evaluate(data, range: trainCount..<data.count, batchSize: batchSize)
                valLoss = v.loss
                valAccuracy = v.accuracy
                observer?.phaseEnded(.validation, epoch: e)
            }
            let t2 = DispatchTime.now().uptimeNanoseconds
            let logs = EpochLogs(
                epoch: e, epochs: epochs,
                loss: seen > 0 ? lossSum / Double(seen) : .nan,
                accuracy: seen > 0 ? Double(correct) / Double(seen) : .nan,
                validationLoss: valLoss, validationAccuracy: valAccuracy,
                samples: seen, batches: b, plannedBatches: batches, startBatch: startBatch, startSamples: startSamples,
                seconds: Double(t2 - t0) / 1e9, trainSeconds: Double(t1 - t0) / 1e9,
                validationSeconds: Double(t2 - t1) / 1e9,
                interrupted: stopped || nonFinite)
            history.append(logs)
            let control = observer?.epochEnded(logs) ?? .proceed
            if nonFinite { return FitResult(history: history, outcome: .nonFiniteLoss(epoch: e, batch: b)) }
            if stopped || control == .stop { return FitResult(history: history, outcome: .stopped) }
            current?(TrainingPosition(epoch: epoch + 1))
        }
        return FitResult(history: history, outcome: .completed)
    }

    /// Runs `body(batch, first)` for consecutive batches of `range`, each already filled into
    /// the input and label buffers (`first` is the batch's offset in `range`).
    func forEachBatch(_ data: any LabeledBatchSource, range: Range<Int>, batchSize: Int, _ body: (Int, Int) -> Void) {
        prepare(maxBatch: max(maxBatch, batchSize))
        var indices = [Int](repeating: 0, count: batchSize)
        var lo = range.lowerBound
        while lo < range.upperBound {
            let n = min(batchSize, range.upperBound - lo)
            for i in 0..<n { indices[i] = lo + i }
            indices.withUnsafeBufferPointer { fill(data, indices: UnsafeBufferPointer(rebasing: $0[0..<n])) }
            body(n, lo - range.lowerBound)
            lo += n
        }
    }

    /// Mean loss and accuracy over `range` of the data (all of it by default), forward only.
    public func evaluate(_ data: any LabeledBatchSource, range: Range<Int>? = nil, batchSize: Int = 32) -> (loss: Double, accuracy: Double) {
        let range = range ?? 0..<data.count
        guard !range.isEmpty else { return (.nan, .nan) }
        var lossSum = 0.0, correct = 0
        forEachBatch(data, range: range, batchSize: batchSize) { n, _ in
            let r = evaluateStep(batch: n)
            lossSum += r.lossSum
            correct += r.correct
        }
        return (lossSum / Double(range.count), Double(correct) / Double(range.count))
    }

    /// Class probabilities (count, classes) for the samples in `range`.
    public func predict(_ data: any LabeledBatchSource, range: Range<Int>? = nil, batchSize: Int = 32) -> Tensor {
        let range = range ?? 0..<data.count
        var out = [Float](repeating: 0, count: range.count * outputCount)
        forEachBatch(data, range: range, batchSize: batchSize) { n, first in
            let p = predictStep(batch: n)
            out.withUnsafeMutableBufferPointer { ($0.baseAddress! + first * outputCount).update(from: p, count: n * outputCount) }
        }
        return Tensor(shape: [range.count, outputCount], scalars: out)
    }

    /// Predicted classes (argmax, or p > 0.5 for one output unit) for the samples in `range`.
    public func predictClasses(_ data: any LabeledBatchSource, range: Range<Int>? = nil, batchSize: Int = 32) -> [Int] {
        let p = predict(data, range: range, batchSize: batchSize)
        if outputCount == 1 { return p.scalars.map { $0 > 0.5 ? 1 : 0 } }
        return p.argmaxIndices(axis: 1)
    }
}
