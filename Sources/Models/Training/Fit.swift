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
/// of the partial epoch. Shuffling is derived from (seed, pass over the data), and the pass
/// from (epoch, batch), so resuming at a batch gives the same order as the uninterrupted run.
public struct TrainingPosition: Codable, Sendable, Equatable {
    public var epoch: Int
    public var batch: Int
    public var lossSum: Double
    public var correct: Int
    public var samples: Int
    /// Rows counted in `lossSum` and `correct` (the samples for an image classifier; the
    /// labels >= 0 for sequences). A position saved before rows were counted has `samples`.
    public var rows: Int

    public init(epoch: Int = 0, batch: Int = 0, lossSum: Double = 0, correct: Int = 0, samples: Int = 0, rows: Int? = nil) {
        self.epoch = epoch; self.batch = batch; self.lossSum = lossSum; self.correct = correct; self.samples = samples
        self.rows = rows ?? samples
    }

    private enum CodingKeys: String, CodingKey { case epoch, batch, lossSum, correct, samples, rows }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(epoch: try c.decode(Int.self, forKey: .epoch), batch: try c.decode(Int.self, forKey: .batch),
                  lossSum: try c.decode(Double.self, forKey: .lossSum), correct: try c.decode(Int.self, forKey: .correct),
                  samples: try c.decode(Int.self, forKey: .samples), rows: try c.decodeIfPresent(Int.self, forKey: .rows))
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
    /// epoch (seeded); the last partial batch is kept; the loss is the batch mean over its
    /// counted rows (labels >= 0); train loss and accuracy are running means over the epoch's
    /// counted rows.
    ///
    /// With `stepsPerEpoch`, an epoch is that many batches (Keras's `steps_per_epoch`): the
    /// batches continue one stream of passes over the training data, each pass shuffled
    /// afresh, an epoch ending in the middle of a pass and the next continuing it. A cosine
    /// learning-rate schedule without `decaySteps` decays over the run's total steps.
    ///
    /// With a `group` of several processes (data parallelism), `batchSize` is the global
    /// batch: every process shuffles alike and takes its contiguous share of each batch, its
    /// loss gradient is weighted by its share of the batch, and the model's gradient hook
    /// must sum the gradients over the group (so every process applies the same update);
    /// metrics, stop requests and validation are reduced over the group, so every process
    /// returns the same history. Dropout masks differ by process.
    /// - Parameters:
    ///   - data: the samples and labels.
    ///   - epochs: the epoch to stop after (counting from 1, including those `position` skips).
    ///   - batchSize: samples per optimisation step (the global batch with a group; a multiple of its size).
    ///   - validationSplit: the fraction at the end of `data` kept for validation, in [0, 1).
    ///   - shuffle: whether the training samples are shuffled every epoch (every pass).
    ///   - stepsPerEpoch: batches per epoch (nil: one pass over the training data).
    ///   - seed: the shuffling (and dropout) seed.
    ///   - position: where to resume (an interrupted run's saved position).
    ///   - observer: hooks called at epoch, phase and batch boundaries.
    ///   - current: called with the position after every batch and epoch (for checkpoints).
    ///   - group: the processes training together, or nil for this process alone.
    /// - Returns: the epochs' logs and why training ended.
    public func fit(
        _ data: any LabeledBatchSource,
        epochs: Int,
        batchSize: Int = 32,
        validationSplit: Double = 0,
        shuffle: Bool = true,
        stepsPerEpoch: Int? = nil,
        seed: UInt64 = 0,
        from position: TrainingPosition = TrainingPosition(),
        observer: (any TrainingObserver)? = nil,
        position current: ((TrainingPosition) -> Void)? = nil,
        group: (any TrainingGroup)? = nil
    ) -> FitResult {
        precondition(epochs >= 0 && batchSize > 0 && validationSplit >= 0 && validationSplit < 1 && (stepsPerEpoch ?? 1) > 0)
        let world = group.flatMap { $0.size > 1 ? $0 : nil }
        if let world {
            precondition(batchSize % world.size == 0, "batch \(batchSize) does not split over \(world.size) processes")
            precondition(gradientHook != nil, "data-parallel fit needs a gradient hook that sums the gradients over the group")
        }
        let localBatch = batchSize / (world?.size ?? 1)
        do { try checkLabels(of: data) } catch { preconditionFailure(error.message) }
        let trainCount = validationSplitIndex(count: data.count, validationSplit: validationSplit)
        let validationCount = data.count - trainCount
        prepare(maxBatch: localBatch)
        var order = [Int](repeating: 0, count: trainCount)
        var history: [EpochLogs] = []
        let batchesPerPass = (trainCount + batchSize - 1) / batchSize
        let batches = stepsPerEpoch ?? batchesPerPass
        var orderedPass = -1
        var start = position
        let dropouts = plan.stochasticLayers
        if optimizer.schedule.kind == .cosine && optimizer.schedule.decaySteps == nil {
            optimizer.schedule.decaySteps = epochs * batches
        }

        for epoch in start.epoch..<epochs {
            let e = epoch + 1
            observer?.epochBegan(e, of: epochs)
            let t0 = DispatchTime.now().uptimeNanoseconds

            observer?.phaseBegan(.train, epoch: e)
            var lossSum = start.lossSum, correct = start.correct, seen = start.samples, rows = start.rows
            var stopped = false
            var nonFinite = false
            let startBatch = start.batch, startSamples = start.samples
            var b = start.batch
            while b < batches {
                // Batch b of this epoch is batch `within` of pass `pass` over the data (the
                // epoch itself and b without stepsPerEpoch); each pass has its own order.
                let g = epoch * batches + b
                let pass = g / batchesPerPass, within = g % batchesPerPass
                if pass != orderedPass {
                    order.withUnsafeMutableBufferPointer { o in
                        for i in 0..<trainCount { o[i] = i }
                        if shuffle {
                            var rng = Self.epochGenerator(seed: seed, epoch: pass, stream: 0)
                            shuffleIndices(o, using: &rng)
                        }
                    }
                    orderedPass = pass
                }
                let lo = within * batchSize, n = min(batchSize, trainCount - lo)
                let share = world.map { Self.share(of: lo..<(lo + n), rank: $0.rank, size: $0.size) } ?? lo..<(lo + n)
                if !share.isEmpty {
                    order.withUnsafeBufferPointer { fill(data, indices: UnsafeBufferPointer(rebasing: $0[share])) }
                }
                // Dropout masks come from (seed, epoch, batch, layer) and the process: a
                // resumed run draws the same masks as an uninterrupted one.
                for (k, d) in dropouts.enumerated() {
                    let stream = UInt64(1 + b * dropouts.count + k) ^ (UInt64(world?.rank ?? 0) << 48)
                    d.rng = Self.epochGenerator(seed: seed, epoch: epoch, stream: stream)
                }
                var r: (lossSum: Double, correct: Int, counted: Int)
                if let world {
                    // The global batch's mean is over the rows counted on every process: each
                    // process's loss gradient (a mean over its own counted rows) is weighted by
                    // its counted rows over the group's, which one sum before the step gives,
                    // or, when no label can be ignored, its share of the batch (docs/architecture.md).
                    let ignoring = data.mayIgnoreLabels
                    let local = ignoring ? (share.isEmpty ? 0 : countedLabels(batch: share.count)) : share.count * rowsPerSample
                    let global = ignoring ? world.sum(count: local) : n * rowsPerSample
                    r = world.sum(trainStep(batch: share.count, gradientScale: global > 0 ? Float(local) / Float(global) : 0))
                } else {
                    r = trainStep(batch: share.count)
                }
                b += 1
                if !r.lossSum.isFinite {
                    nonFinite = true
                    break
                }
                lossSum += r.lossSum; correct += r.correct; seen += n; rows += r.counted
                current?(TrainingPosition(epoch: epoch, batch: b, lossSum: lossSum, correct: correct, samples: seen, rows: rows))
                var stop = false
                if let observer {
                    let logs = BatchLogs(epoch: e, batch: b, batches: batches, startBatch: startBatch, loss: lossSum / Double(rows),
                                         accuracy: Double(correct) / Double(rows), samples: seen,
                                         seconds: Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
                    stop = observer.batchEnded(logs) == .stop
                }
                if let world { stop = world.anyProcess(stop) }
                if stop { stopped = true; break }
            }
            observer?.phaseEnded(.train, epoch: e)
            let t1 = DispatchTime.now().uptimeNanoseconds
            start = TrainingPosition()

            var valLoss: Double?, valAccuracy: Double?
            if validationCount > 0 && !stopped && !nonFinite {
                observer?.phaseBegan(.validation, epoch: e)
                let v = evaluate(data, range: trainCount..<data.count, batchSize: localBatch, group: world)
                valLoss = v.loss
                valAccuracy = v.accuracy
                observer?.phaseEnded(.validation, epoch: e)
            }
            let t2 = DispatchTime.now().uptimeNanoseconds
            let logs = EpochLogs(
                epoch: e, epochs: epochs,
                loss: rows > 0 ? lossSum / Double(rows) : .nan,
                accuracy: rows > 0 ? Double(correct) / Double(rows) : .nan,
                validationLoss: valLoss, validationAccuracy: valAccuracy,
                samples: seen, batches: b, plannedBatches: batches, startBatch: startBatch, startSamples: startSamples,
                seconds: Double(t2 - t0) / 1e9, trainSeconds: Double(t1 - t0) / 1e9,
                validationSeconds: Double(t2 - t1) / 1e9,
                interrupted: stopped || nonFinite)
            history.append(logs)
            var control = observer?.epochEnded(logs) ?? .proceed
            if let world, world.anyProcess(control == .stop) { control = .stop }
            if nonFinite { return FitResult(history: history, outcome: .nonFiniteLoss(epoch: e, batch: b)) }
            if stopped || control == .stop { return FitResult(history: history, outcome: .stopped) }
            current?(TrainingPosition(epoch: epoch + 1))
        }
        return FitResult(history: history, outcome: .completed)
    }

    /// Runs the forward pass in inference mode over `range` of `data` and hands `observe` each
    /// layer's first input tensor just before the layer runs: `observe(j, values, count)` with
    /// layer index `j` and the `count` values of the batch (graph models too: the tensor is the
    /// one the graph names as its input). Calibration of int8 activations reads it (docs/compress.md).
    public func forEachLayerInput(_ data: any LabeledBatchSource, range: Range<Int>, batchSize: Int,
                                  _ observe: (Int, UnsafePointer<Float>, Int) -> Void) {
        withoutActuallyEscaping(observe) { observe in
            forEachBatch(data, range: range, batchSize: batchSize) { n, _ in
                _ = forward(batch: n, training: false) { j, t, x in observe(j, x, n * self.tensorSizes[t]) }
            }
        }
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

    /// Mean loss and accuracy over `range` of the data (all of it by default), forward only:
    /// means over the counted rows (labels >= 0).
    /// - Parameters:
    ///   - data: the samples and labels.
    ///   - range: the samples to evaluate (all by default).
    ///   - batchSize: samples per forward pass (per process with a group).
    ///   - group: processes that share the work: each takes a contiguous share of `range`,
    ///     and every process returns the figures of the whole range.
    /// - Returns: the mean loss and the accuracy (NaN for an empty range or no counted row).
    public func evaluate(_ data: any LabeledBatchSource, range: Range<Int>? = nil, batchSize: Int = 32,
                         group: (any TrainingGroup)? = nil) -> (loss: Double, accuracy: Double) {
        do { try checkLabels(of: data) } catch { preconditionFailure(error.message) }
        let range = range ?? 0..<data.count
        guard !range.isEmpty else { return (.nan, .nan) }
        let world = group.flatMap { $0.size > 1 ? $0 : nil }
        let part = world.map { Self.share(of: range, rank: $0.rank, size: $0.size) } ?? range
        var totals = (lossSum: 0.0, correct: 0, counted: 0)
        forEachBatch(data, range: part, batchSize: batchSize) { n, _ in
            let r = evaluateStep(batch: n)
            totals.lossSum += r.lossSum
            totals.correct += r.correct
            totals.counted += r.counted
        }
        if let world { totals = world.sum(totals) }
        guard totals.counted > 0 else { return (.nan, .nan) }
        return (totals.lossSum / Double(totals.counted), Double(totals.correct) / Double(totals.counted))
    }

    /// Process `rank`'s contiguous share of `range` among `size` (sizes differ by at most one;
    /// a share may be empty when the range is shorter than the group).
    static func share(of range: Range<Int>, rank: Int, size: Int) -> Range<Int> {
        let n = range.count
        return (range.lowerBound + rank * n / size)..<(range.lowerBound + (rank + 1) * n / size)
    }

    /// Class probabilities (count, classes) for the samples in `range`.
    /// - Parameters:
    ///   - data: the samples (their labels are not read).
    ///   - range: the samples to classify (all by default).
    ///   - batchSize: samples per forward pass.
    /// - Returns: a (count, outputs) tensor of probabilities.
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
    /// - Parameters:
    ///   - data: the samples.
    ///   - range: the samples to classify (all by default).
    ///   - batchSize: samples per forward pass.
    /// - Returns: one class index per sample.
    public func predictClasses(_ data: any LabeledBatchSource, range: Range<Int>? = nil, batchSize: Int = 32) -> [Int] {
        let p = predict(data, range: range, batchSize: batchSize)
        if outputCount == 1 { return p.scalars.map { $0 > 0.5 ? 1 : 0 } }
        return p.argmaxIndices(axis: 1)
    }
}
