import Foundation
import Synchronization
import Testing
import Tensor
@testable import Models

/// A position-wise dense layer for these tests only: `[T, F]` -> `[T, units]`, plain loops,
/// its softmax left to the loss (a sequence classifier like a language model's head; the
/// real one is `Dense` on sequences, docs/transformer.md).
final class RowDense: SoftmaxFusable {
    let typeName = "RowDense"
    var name = ""
    let units: Int
    let activation: Activation = .softmax
    var emitsLogits = false
    private var rows = 0, features = 0
    private var kernel: UnsafeMutablePointer<Float>!, bias: UnsafeMutablePointer<Float>!
    private var dKernel: UnsafeMutablePointer<Float>!, dBias: UnsafeMutablePointer<Float>!
    private var input: UnsafePointer<Float>!
    private var output: FloatBuffer!, inputGradient: FloatBuffer?

    init(units: Int) { self.units = units }

    var configuration: LayerConfiguration { LayerConfiguration(Flatten.Options(), name: name) }
    func build(inputShape: [Int]) throws -> [Int] {
        guard inputShape.count == 2 else { throw ModelError("RowDense takes [T, F]") }
        rows = inputShape[0]; features = inputShape[1]
        return outputShape
    }
    var outputShape: [Int] { [rows, units] }
    var parameters: [ParameterSpec] {
        [ParameterSpec(name: "kernel", shape: [features, units]), ParameterSpec(name: "bias", shape: [units])]
    }
    func bind(parameters: UnsafeMutablePointer<Float>, gradients: UnsafeMutablePointer<Float>) {
        kernel = parameters; bias = parameters + features * units
        dKernel = gradients; dBias = gradients + features * units
    }
    func initializeParameters(rng: inout Xoshiro256) {
        Initializer.glorotUniform(.init(start: kernel, count: features * units), fanIn: features, fanOut: units, rng: &rng)
        for u in 0..<units { bias[u] = 0.1 * Float(u) }
    }
    func allocate(maxBatch: Int, needsInputGradient: Bool) {
        output = FloatBuffer(count: maxBatch * rows * units)
        inputGradient = needsInputGradient ? FloatBuffer(count: maxBatch * rows * features) : nil
    }
    func forward(_ x: UnsafePointer<Float>, batch: Int, training: Bool) -> UnsafePointer<Float> {
        precondition(emitsLogits, "RowDense leaves its softmax to the loss")
        input = x
        let y = output.pointer
        for r in 0..<(batch * rows) {
            for u in 0..<units {
                var s = bias[u]
                for f in 0..<features { s += x[r * features + f] * kernel[f * units + u] }
                y[r * units + u] = s
            }
        }
        return UnsafePointer(y)
    }
    func backward(_ dy: UnsafeMutablePointer<Float>, batch: Int) -> UnsafeMutablePointer<Float>? {
        for i in 0..<(features * units) { dKernel[i] = 0 }
        for u in 0..<units { dBias[u] = 0 }
        for r in 0..<(batch * rows) {
            for u in 0..<units {
                dBias[u] += dy[r * units + u]
                for f in 0..<features { dKernel[f * units + u] += input[r * features + f] * dy[r * units + u] }
            }
        }
        guard let dx = inputGradient?.pointer else { return nil }
        for r in 0..<(batch * rows) {
            for f in 0..<features {
                var s: Float = 0
                for u in 0..<units { s += dy[r * units + u] * kernel[f * units + u] }
                dx[r * features + f] = s
            }
        }
        return dx
    }
    var flopsPerSample: LayerFLOPs { .zero }
}

/// Sequences of `T` rows of `F` features, each row's label the argmax of its first `C`
/// features; a row ignored (-1) with probability 1 / `ignoreEvery`, so samples differ in
/// their counted rows.
func syntheticSequences(count: Int, T: Int = 4, F: Int = 5, C: Int = 3, seed: UInt64 = 1, ignoreEvery: Int = 3) -> ArrayBatchSource {
    var rng = Xoshiro256(seed: seed)
    var x = [Float](repeating: 0, count: count * T * F)
    var y = [Int32](repeating: 0, count: count * T)
    for r in 0..<(count * T) {
        for f in 0..<F { x[r * F + f] = rng.nextUnitFloat() * 2 - 1 }
        var best = 0
        for c in 1..<C where x[r * F + c] > x[r * F + best] { best = c }
        y[r] = ignoreEvery > 0 && rng.nextUnitFloat() * Float(ignoreEvery) < 1 ? -1 : Int32(best)
    }
    return ArrayBatchSource(inputs: x, labels: y, sampleShape: [T, F], classCount: C, labelsPerSample: T)
}

func sequenceModel(T: Int = 4, F: Int = 5, C: Int = 3, seed: UInt64 = 3) throws -> Model {
    try Sequential(name: "seq", inputShape: [T, F], layers: [RowDense(units: C)], seed: seed)
}

@Suite struct SequenceLabelTests {
    /// The fused loss over rows with ignored labels: the loss and accuracy count only rows with
    /// a label >= 0, the gradient of an ignored row is zero and the others' are (p - onehot) / counted.
    @Test func fusedLoss_ignoresNegativeLabels() {
        let (rows, classes) = (5, 4)
        var rng = Xoshiro256(seed: 4)
        let z = (0..<(rows * classes)).map { _ in rng.nextUnitFloat() * 6 - 3 }
        let labels: [Int32] = [2, -1, 0, -100, 3]
        var p = [Float](repeating: 0, count: z.count), g = [Float](repeating: 7, count: z.count)
        let r = Loss.sparseCategoricalCrossentropy.evaluate(outputs: z, labels: labels, batch: rows, classes: classes,
                                                            fused: true, probabilities: &p, gradient: &g)
        #expect(r.counted == 3)
        #expect(abs(r.lossSum / 3 - Reference.softmaxCrossEntropy(z, labels: labels, classes: classes)) < 1e-6)
        let kept = [0, 2, 4]
        let reference = Reference.softmaxCrossEntropy(kept.flatMap { Array(z[($0 * classes)..<(($0 + 1) * classes)]) },
                                                      labels: kept.map { labels[$0] }, classes: classes)
        #expect(abs(r.lossSum / 3 - reference) < 1e-6)
        for i in 0..<rows {
            for j in 0..<classes {
                let expected: Float = labels[i] < 0 ? 0 : (p[i * classes + j] - (Int32(j) == labels[i] ? 1 : 0)) / 3
                #expect(abs(g[i * classes + j] - expected) < 1e-7, "row \(i) class \(j)")
            }
        }
        // The non-fused form (probabilities in) ignores the same rows.
        var g2 = [Float](repeating: 7, count: z.count), unused = [Float](repeating: 0, count: z.count)
        let r2 = Loss.sparseCategoricalCrossentropy.evaluate(outputs: p, labels: labels, batch: rows, classes: classes,
                                                             fused: false, probabilities: &unused, gradient: &g2)
        #expect(r2.counted == 3 && r2.correct == r.correct && abs(r2.lossSum - r.lossSum) < 1e-5)
        for i in [1, 3] { #expect(g2[(i * classes)..<((i + 1) * classes)].allSatisfy { $0 == 0 }) }
    }

    /// The model's gradient of the mean over counted rows against central differences.
    @Test func sequenceGradients_matchFiniteDifferences() throws {
        let m = try sequenceModel()
        let data = syntheticSequences(count: 3)
        #expect(m.rowsPerSample == 4 && m.classCount == 3)
        let batch = 3
        m.prepare(maxBatch: batch)
        Array(0..<batch).withUnsafeBufferPointer { m.fill(data, indices: $0) }
        #expect(m.countedLabels(batch: batch) < batch * 4)   // some rows are ignored
        _ = m.computeGradients(batch: batch)
        let analytic = m.gradients.array
        func meanLoss() -> Double {
            let r = m.evaluateStep(batch: batch)
            return r.lossSum / Double(r.counted)
        }
        for i in 0..<m.parameterCount {
            let p = m.parameters.pointer + i
            let saved = p.pointee
            p.pointee = saved + 3e-3
            let up = meanLoss()
            p.pointee = saved - 3e-3
            let down = meanLoss()
            p.pointee = saved
            let numeric = (up - down) / (Double(saved + 3e-3) - Double(saved - 3e-3))
            #expect(abs(Double(analytic[i]) - numeric) <= 1e-2 * abs(numeric) + 1e-4, "parameter \(i)")
        }
    }

    /// fit's and evaluate's loss and accuracy are means over counted rows: with lr 0 the epoch's
    /// running mean equals evaluate over the training range and the plain reference.
    @Test func fitAndEvaluate_averageOverCountedRows() throws {
        let m = try sequenceModel()
        m.compile(optimizer: SGD(learningRate: 0))
        let data = syntheticSequences(count: 20)
        let r = m.fit(data, epochs: 1, batchSize: 6, validationSplit: 0.25, seed: 2)
        let train = m.evaluate(data, range: 0..<15)
        #expect(abs(r.history[0].loss - train.loss) < 1e-6 && abs(r.history[0].accuracy - train.accuracy) < 1e-12)
        // The reference: logits of every counted row of the 15 training samples.
        let logits = m.predict(data, range: 0..<15)   // probabilities; recompute the loss from them
        let kept = (0..<(15 * 4)).filter { data.labels[$0] >= 0 }
        let loss = kept.reduce(0.0) { $0 - log(Double(logits.scalars[$1 * 3 + Int(data.labels[$1])])) } / Double(kept.count)
        #expect(abs(train.loss - loss) < 1e-5)
        #expect(r.history[0].validationLoss == m.evaluate(data, range: 15..<20).loss)
    }

    /// A source whose labels per sample differ from the model's rows is refused by name.
    @Test func mismatchedLabelsPerSample_isAClearError() throws {
        let m = try sequenceModel()
        let one = ArrayBatchSource(inputs: [Float](repeating: 0, count: 2 * 20), labels: [0, 1], sampleShape: [4, 5])
        #expect(throws: ModelError.self) { try m.checkLabels(of: one) }
        do { try m.checkLabels(of: one) } catch {
            #expect(error.message.contains("1 label(s) per sample") && error.message.contains("needs 4"))
        }
        try m.checkLabels(of: syntheticSequences(count: 2))
    }

    /// Data parallel with ignored rows: the processes' counted rows differ, and the mean is
    /// over the group's count, so N replicas train like one process; with clipping, each
    /// clips the summed gradient (the same norm as one process's).
    @Test(arguments: [nil, 0.05] as [Float?])
    func dataParallel_withIgnoredRows_trainsLikeOneProcess(clip: Float?) throws {
        let data = syntheticSequences(count: 30, ignoreEvery: 2)
        let single = try sequenceModel()
        single.compile(optimizer: SGD(learningRate: 0.5))
        single.clipNorm = clip
        let expected = single.fit(data, epochs: 2, batchSize: 8, seed: 5)
        let group = ThreadGroup(size: 2)
        nonisolated(unsafe) let models = try (0..<2).map { _ in try sequenceModel() }
        for m in models {
            m.compile(optimizer: SGD(learningRate: 0.5))
            m.clipNorm = clip
        }
        let results = Mutex<[Int: FitResult]>([:])
        group.run { rank in
            let member = group.member(rank)
            models[rank].gradientHook = member
            let r = models[rank].fit(data, epochs: 2, batchSize: 8, seed: 5, group: member)
            results.withLock { $0[rank] = r }
        }
        let r0 = results.withLock { $0[0]! }
        let worst = zip(models[0].flatParameters, single.flatParameters).map { abs($0 - $1) }.max()!
        #expect(worst < 1e-5)
        #expect(models[0].flatParameters == models[1].flatParameters)
        for (a, b) in zip(r0.history, expected.history) {
            #expect(abs(a.loss - b.loss) < 1e-5 && abs(a.accuracy - b.accuracy) < 1e-12)
        }
        #expect(maxAbsDiff(single.flatParameters, try sequenceModel().flatParameters) > 1e-2)
        if clip != nil {
            #expect(abs(models[0].lastGradientNorm! - single.lastGradientNorm!) <= 1e-5 * single.lastGradientNorm!)
            #expect(single.lastGradientNorm! > 0.05)   // the clipping acted
        }
    }
}

@Suite struct AdamWTests {
    struct Fixture: Decodable {
        struct Step: Decodable {
            let kernel_gradient: [Double], bias_gradient: [Double], norm: Double, kernel: [Double], bias: [Double]
        }
        let lr: Double, beta1: Double, beta2: Double, eps: Double, weight_decay: Double, max_norm: Double
        let kernel: [Double], bias: [Double], steps: [Step]
    }

    /// Replaces the gradients at `synchronize` by given ones (as an all-reduce would).
    final class GradientSetter: GradientHook {
        var next: [Float] = []
        weak var model: Model?
        func gradientsReady(_ bucket: GradientBucket) {}
        func synchronize() {
            guard let model else { return }
            next.withUnsafeBufferPointer { model.gradients.pointer.update(from: $0.baseAddress!, count: $0.count) }
        }
    }

    /// AdamW with clipping against PyTorch (scripts/torch-reference/adamw.py): a Dense layer's
    /// kernel (decayed) and bias (not decayed), the gradient clipped at max_norm after the
    /// hook, then the update; weights and the pre-clip norm agree step by step.
    @Test func adamWWithClipping_matchesPyTorch() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/torch/adamw.json")
        let f = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        let m = try Sequential(inputShape: [2], layers: [Dense(units: 3)])
        m.compile(optimizer: AdamW(learningRate: Float(f.lr), beta1: Float(f.beta1), beta2: Float(f.beta2),
                                   epsilon: Float(f.eps), weightDecay: Float(f.weight_decay)))
        #expect(m.updateSegments == [ParameterSegment(range: 0..<6, decays: true), ParameterSegment(range: 6..<9, decays: false)])
        let setter = GradientSetter()
        setter.model = m
        m.gradientHook = setter
        m.clipNorm = Float(f.max_norm)
        (f.kernel + f.bias).map(Float.init).withUnsafeBufferPointer { m.parameters.pointer.update(from: $0.baseAddress!, count: 9) }
        m.prepare(maxBatch: 1)
        let data = ArrayBatchSource(inputs: [0.5, -0.5], labels: [1], sampleShape: [2], classCount: 3)
        [0].withUnsafeBufferPointer { m.fill(data, indices: $0) }
        for (t, step) in f.steps.enumerated() {
            setter.next = (step.kernel_gradient + step.bias_gradient).map(Float.init)
            _ = m.trainStep(batch: 1)
            #expect(abs(m.lastGradientNorm! - step.norm) <= 1e-6 * step.norm, "step \(t + 1)")
            let expected = (step.kernel + step.bias).map(Float.init)
            #expect(maxAbsDiff(m.flatParameters, expected) < 2e-6, "step \(t + 1)")
        }
        #expect(f.steps.contains { $0.norm > f.max_norm } && f.steps.count >= 5)
    }

    /// The kernel against its plain reference twin over segments that decay and segments that do not.
    @Test func kernel_matchesReferenceTwin() {
        let n = 70_001, split = 40_000
        var rng = Xoshiro256(seed: 11)
        var w = (0..<n).map { _ in rng.nextUnitFloat() * 2 - 1 }
        var reference = w, m = [Float](repeating: 0, count: n), v = m
        let opt = AdamW(learningRate: 0.003, weightDecay: 0.05)
        opt.allocate(count: n)
        let decays = (0..<n).map { $0 < split }
        for t in 1...4 {
            let g = (0..<n).map { _ in rng.nextUnitFloat() - 0.5 }
            w.withUnsafeMutableBufferPointer { wp in
                g.withUnsafeBufferPointer {
                    opt.step(parameters: wp.baseAddress!, gradients: $0.baseAddress!,
                             segments: [ParameterSegment(range: 0..<split, decays: true), ParameterSegment(range: split..<n, decays: false)])
                }
            }
            Reference.adamWUpdate(parameters: &reference, gradients: g, m: &m, v: &v, decays: decays, step: t,
                                  lr: 0.003, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.05)
        }
        #expect(maxAbsDiff(w, reference) < 1e-6)
        #expect(maxAbsDiff(opt.stateArrays[1].buffer.array, v) < 1e-9)
    }

    @Test func parameterSpec_decaysKernelsOnly() {
        #expect(ParameterSpec(name: "kernel", shape: [2]).decays)
        #expect(ParameterSpec(name: "qkv_kernel", shape: [2]).decays)
        #expect(!ParameterSpec(name: "bias", shape: [2]).decays)
        #expect(!ParameterSpec(name: "gamma", shape: [2]).decays && !ParameterSpec(name: "embeddings", shape: [2]).decays)
        #expect(!ParameterSpec(name: "kernel", shape: [2], decays: false).decays)
    }

    @Test func sumOfSquares_matchesReference() {
        var rng = Xoshiro256(seed: 2)
        let x = (0..<10_003).map { _ in rng.nextUnitFloat() * 4 - 2 }
        let s = x.withUnsafeBufferPointer { sumOfSquares($0.baseAddress!, count: $0.count) }
        #expect(abs(s.squareRoot() - Reference.globalNorm(x)) <= 1e-6 * Reference.globalNorm(x))
    }

    /// Clipping, like a hook, keeps the optimiser out of Dense's backward.
    @Test func clipping_disablesTheInBackwardUpdate() throws {
        let m = try Sequential(inputShape: [4], layers: [Dense(units: 3, activation: .softmax)])
        m.compile(optimizer: Adam())
        #expect(m.plannedFusions.contains { $0.contains("update inside backward") })
        m.clipNorm = 1
        #expect(!m.plannedFusions.contains { $0.contains("update inside backward") })
        m.clipNorm = nil
        #expect(m.plannedFusions.contains { $0.contains("update inside backward") })
    }

    /// A clip norm above the gradient's norm changes nothing: the same weights as no clipping.
    @Test func clipping_aboveTheNorm_leavesTrainingAlone() throws {
        let data = syntheticImages(count: 40)
        func run(_ clip: Float?) throws -> (Model, [Float]) {
            let m = try Sequential(inputShape: [8, 8, 1], layers: [Flatten(), Dense(units: 3, activation: .softmax)], seed: 1)
            m.compile(optimizer: AdamW())
            m.clipNorm = clip
            _ = m.fit(data, epochs: 1, batchSize: 8, seed: 3)
            return (m, m.flatParameters)
        }
        let (clipped, a) = try run(1e6), (_, b) = try run(nil)
        #expect(a == b)
        #expect(clipped.lastGradientNorm! > 0)
        let (_, c) = try run(1e-3)
        #expect(maxAbsDiff(c, b) > 1e-4)
    }

    /// AdamW's state, weight decay and the schedule survive a checkpoint.
    @Test func checkpoint_restoresAdamWAndSchedule() throws {
        let directory = TemporaryDirectory()
        let data = syntheticImages(count: 32)
        let m = try ModelDescription(name: "t", inputShape: [8, 8, 1], layers: [
            LayerConfiguration(Flatten.Options()), LayerConfiguration(Dense.Options(units: 3, activation: .softmax)),
        ]).makeModel(seed: 7)
        let opt = AdamW(learningRate: 0.002, weightDecay: 0.2)
        opt.schedule = .cosine(warmupSteps: 2, decaySteps: 10, minimum: 0.0001)
        m.compile(optimizer: opt)
        _ = m.fit(data, epochs: 1, batchSize: 8, seed: 1)
        let path = directory.file("model.safetensors")
        try ModelCheckpoint.save(m, to: path)
        let (loaded, _) = try ModelCheckpoint.load(path: path)
        let restored = try #require(loaded.optimizer as? AdamW)
        #expect(restored.weightDecay == 0.2 && restored.learningRate == 0.002 && restored.epsilon == 1e-8)
        #expect(restored.schedule == opt.schedule && restored.stepCount == 4)
        for (a, b) in zip(restored.stateArrays, opt.stateArrays) { #expect(a.buffer.array == b.buffer.array) }
        _ = m.fit(data, epochs: 2, batchSize: 8, seed: 1, from: TrainingPosition(epoch: 1))
        _ = loaded.fit(data, epochs: 2, batchSize: 8, seed: 1, from: TrainingPosition(epoch: 1))
        #expect(loaded.flatParameters == m.flatParameters)
    }
}

@Suite struct LearningRateScheduleTests {
    @Test func warmupThenCosine_values() {
        let s = LearningRateSchedule.cosine(warmupSteps: 10, decaySteps: 110, minimum: 0.01)
        func close(_ a: Float, _ b: Double) -> Bool { abs(Double(a) - b) < 1e-7 }
        #expect(close(s.rate(base: 0.1, step: 0), 0.1 / 11))
        #expect(close(s.rate(base: 0.1, step: 9), 0.1 * 10 / 11))
        #expect(close(s.rate(base: 0.1, step: 10), 0.1))
        #expect(close(s.rate(base: 0.1, step: 60), 0.055))
        #expect(close(s.rate(base: 0.1, step: 35), 0.01 + 0.045 * (1 + cos(Double.pi / 4))))
        #expect(close(s.rate(base: 0.1, step: 110), 0.01))
        #expect(close(s.rate(base: 0.1, step: 1000), 0.01))
        // nanoGPT's default minimum: a tenth of the rate.
        #expect(close(LearningRateSchedule.cosine(decaySteps: 4).rate(base: 0.5, step: 4), 0.05))
        #expect(LearningRateSchedule.constant.rate(base: 0.3, step: 12345) == 0.3)
        #expect(close(LearningRateSchedule(warmupSteps: 3).rate(base: 0.4, step: 1), 0.2))
    }

    /// The optimiser takes each step's rate from its own step count, so a restored count
    /// continues the schedule; fit fills in the run's total steps as decaySteps.
    @Test func optimiser_followsTheScheduleFromItsStepCount() throws {
        let s = LearningRateSchedule.cosine(warmupSteps: 2, decaySteps: 6)
        let sgd = SGD(learningRate: 1)
        sgd.schedule = s
        sgd.allocate(count: 1)
        var w: [Float] = [0]
        let g: [Float] = [1]
        var expected: Float = 0
        for t in 0..<8 {
            w.withUnsafeMutableBufferPointer { sgd.step(parameters: $0.baseAddress!, gradients: g, count: 1) }
            expected -= s.rate(base: 1, step: t)
            #expect(w[0] == expected)
            #expect(sgd.currentLearningRate == s.rate(base: 1, step: t))
        }
        let resumed = SGD(learningRate: 1)
        resumed.schedule = s
        resumed.stepCount = 5
        var x: [Float] = [0]
        x.withUnsafeMutableBufferPointer { resumed.step(parameters: $0.baseAddress!, gradients: g, count: 1) }
        #expect(x[0] == -s.rate(base: 1, step: 5))

        let m = try Sequential(inputShape: [8, 8, 1], layers: [Flatten(), Dense(units: 3, activation: .softmax)])
        let adamW = AdamW()
        adamW.schedule = .cosine(warmupSteps: 1)
        m.compile(optimizer: adamW)
        _ = m.fit(syntheticImages(count: 20), epochs: 3, batchSize: 8, seed: 1)
        #expect(adamW.schedule.decaySteps == 9 && adamW.stepCount == 9)
    }
}

/// Records the indices of every batch filled from it.
final class RecordingSource: LabeledBatchSource {
    let base: ArrayBatchSource
    var batches: [[Int]] = []
    init(_ base: ArrayBatchSource) { self.base = base }
    var count: Int { base.count }
    var sampleShape: [Int] { base.sampleShape }
    var classCount: Int { base.classCount }
    func fillBatch(indices: UnsafeBufferPointer<Int>, inputs: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Int32>) {
        batches.append(Array(indices))
        base.fillBatch(indices: indices, inputs: inputs, labels: labels)
    }
}

@Suite struct StepsPerEpochTests {
    func model() throws -> Model {
        let m = try Sequential(inputShape: [8, 8, 1], layers: [Flatten(), Dense(units: 6, activation: .relu),
                                                               Dropout(rate: 0.2), Dense(units: 3, activation: .softmax)], seed: 4)
        m.compile(optimizer: AdamW(learningRate: 0.01))
        return m
    }

    /// Epochs of 2 batches over 10 samples in batches of 4 (4, 4, 2 per pass): the batches
    /// continue the passes across epochs, every pass covers each sample once in its own order.
    @Test func epochsContinueAShuffledStreamOfPasses() throws {
        let source = RecordingSource(syntheticImages(count: 10))
        let r = try model().fit(source, epochs: 3, batchSize: 4, stepsPerEpoch: 2, seed: 6)
        #expect(r.history.map(\.batches) == [2, 2, 2] && r.history.map(\.plannedBatches) == [2, 2, 2])
        #expect(source.batches.map(\.count) == [4, 4, 2, 4, 4, 2])
        #expect(r.history.map(\.samples) == [8, 6, 6])
        let pass1 = source.batches[0..<3].flatMap { $0 }, pass2 = source.batches[3..<6].flatMap { $0 }
        #expect(pass1.sorted() == Array(0..<10) && pass2.sorted() == Array(0..<10))
        #expect(pass1 != pass2)
        // Without stepsPerEpoch, an epoch is one pass, the same batches as before.
        let plain = RecordingSource(syntheticImages(count: 10))
        _ = try model().fit(plain, epochs: 2, batchSize: 4, seed: 6)
        #expect(plain.batches == source.batches[0..<6].map { $0 })
    }

    /// Stopped mid-epoch and resumed from the position, training ends where the uninterrupted run does.
    @Test func resume_matchesUninterrupted() throws {
        let data = syntheticImages(count: 10)
        let full = try model()
        _ = full.fit(data, epochs: 3, batchSize: 4, stepsPerEpoch: 2, seed: 6)
        let a = try model()
        var position = TrainingPosition()
        let stopper = TrainingHooks(batchEnd: { $0.epoch == 2 && $0.batch == 1 ? .stop : .proceed })
        let r1 = a.fit(data, epochs: 3, batchSize: 4, stepsPerEpoch: 2, seed: 6, observer: stopper, position: { position = $0 })
        #expect(r1.outcome == .stopped && position.epoch == 1 && position.batch == 1)
        let r2 = a.fit(data, epochs: 3, batchSize: 4, stepsPerEpoch: 2, seed: 6, from: position)
        #expect(r2.outcome == .completed)
        #expect(a.flatParameters == full.flatParameters)
    }
}

@Suite struct FreezeTests {
    /// Frozen weights stay bit-equal through training (AdamW, whose decay would move them), the
    /// others change; the summary counts trainable and non-trainable parameters.
    @Test func frozenLayers_stayBitEqual() throws {
        let m = try Sequential(inputShape: [8, 8, 1], layers: [Flatten(), Dense(units: 8, activation: .relu),
                                                               Dense(units: 3, activation: .softmax)], seed: 2)
        m.compile(optimizer: AdamW(learningRate: 0.01, weightDecay: 0.5))
        try m.freeze(layers: ["dense"])
        let before = m.namedParameters.map(\.values)
        _ = m.fit(syntheticImages(count: 40), epochs: 2, batchSize: 8, seed: 1)
        let after = m.namedParameters.map(\.values)
        #expect(after[0].map(\.bitPattern) == before[0].map(\.bitPattern))
        #expect(after[1].map(\.bitPattern) == before[1].map(\.bitPattern))
        #expect(maxAbsDiff(after[2], before[2]) > 1e-3 && maxAbsDiff(after[3], before[3]) > 1e-3)
        #expect(m.trainableParameterCount == 8 * 3 + 3)
        let summary = m.summary()
        #expect(summary.contains("Total params: 547 (2.14 KB)"))
        #expect(summary.contains("Trainable params: 27 (0.11 KB)"))
        #expect(summary.contains("Non-trainable params: 520 (2.03 KB)"))
    }

    /// With Adam and no hook, a frozen Dense is not fused (it would update itself in backward).
    @Test func frozenDense_isNotUpdatedInsideBackward() throws {
        let m = try Sequential(inputShape: [8, 8, 1], layers: [Flatten(), Dense(units: 8, activation: .relu),
                                                               Dense(units: 3, activation: .softmax)], seed: 2)
        m.compile(optimizer: Adam(learningRate: 0.01))
        #expect(m.plannedFusions.contains("dense: adam update inside backward"))
        try m.freeze(layers: ["dense"])
        #expect(!m.plannedFusions.contains("dense: adam update inside backward"))
        let before = m.namedParameters[0].values
        _ = m.fit(syntheticImages(count: 24), epochs: 1, batchSize: 8, seed: 1)
        #expect(m.namedParameters[0].values == before)
        m.unfreezeAll()
        #expect(m.trainableParameterCount == m.parameterCount)
    }

    @Test func unknownLayer_isNamedWithTheKnownOnes() throws {
        let m = try Sequential(inputShape: [4], layers: [Dense(units: 3)])
        do {
            try m.freeze(layers: ["encoder"])
            Issue.record("no error")
        } catch let error as ModelError {
            #expect(error.message == "freeze: no layer named 'encoder' (layers: dense)")
        }
        #expect(m.trainableParameterCount == m.parameterCount)
    }
}
