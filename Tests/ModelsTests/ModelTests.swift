import Foundation
import Testing
import Tensor
@testable import Models

/// A small synthetic image set: class k has a bright kxk... pattern; separable by a CNN.
func syntheticImages(count: Int, height: Int = 8, width: Int = 8, classes: Int = 3, seed: UInt64 = 1) -> ArrayBatchSource {
    var rng = Xoshiro256(seed: seed)
    var x = [Float](repeating: 0, count: count * height * width)
    var y = [Int32](repeating: 0, count: count)
    for i in 0..<count {
        let c = i % classes
        y[i] = Int32(c)
        for p in 0..<(height * width) {
            let row = p / width
            // Class c lights up the rows with row % classes == c, plus noise.
            x[i * height * width + p] = (row % classes == c ? 0.8 : 0.1) + 0.2 * rng.nextUnitFloat()
        }
    }
    return ArrayBatchSource(inputs: x, labels: y, sampleShape: [height, width, 1], classCount: classes)
}

@Suite struct SequentialTests {
    @Test func referenceCNN_shapesParametersAndFLOPs() throws {
        let m = try ModelDescription.cnn.makeModel(seed: 0)
        #expect(m.layers.map(\.outputShape) == [[26, 26, 32], [13, 13, 32], [5408], [128], [10]])
        // Keras's summary for the seed's model: 320 + 0 + 0 + 692,352 + 1,290.
        #expect(m.layers.map(\.parameterCount) == [320, 0, 0, 692_352, 1_290])
        #expect(m.parameterCount == 693_962)
        #expect(m.layers.map(\.name) == ["conv2d", "max_pooling2d", "flatten", "dense", "dense_1"])
        // The bench README's figures: 1,776,384 FLOP forward per sample, 266.7 GFLOP per
        // training epoch of 54,000 samples (no input gradient for the first layer).
        #expect(m.flopsPerSample.forward == 1_776_384)
        #expect(m.flopsPerSample.training * 54_000 == 266_747_904_000)
        let s = m.summary()
        #expect(s.contains("conv2d (Conv2D)") && s.contains("(None, 13, 13, 32)") && s.contains("693,962"))
    }

    @Test func glorotLimitsPerLayer() throws {
        let m = try ModelDescription.cnn.makeModel(seed: 3)
        let p = m.namedParameters
        let convLimit = (6.0 / Float(9 + 9 * 32)).squareRoot()
        #expect(p[0].name == "conv2d/kernel" && p[0].shape == [3, 3, 1, 32])
        #expect(p[0].values.allSatisfy { abs($0) <= convLimit } && p[0].values.contains { abs($0) > 0.9 * convLimit })
        #expect(p[1].values.allSatisfy { $0 == 0 })
        let denseLimit = (6.0 / Float(5408 + 128)).squareRoot()
        #expect(p[2].values.allSatisfy { abs($0) <= denseLimit })
        // Same seed, same weights; another seed, others.
        #expect(try ModelDescription.cnn.makeModel(seed: 3).flatParameters == m.flatParameters)
        #expect(try ModelDescription.cnn.makeModel(seed: 4).flatParameters != m.flatParameters)
    }

    /// The whole chain (conv, pool, flatten, dense, fused softmax-CE) against central
    /// differences of the loss in every third parameter (`checkModelGradients`).
    @Test(arguments: [Loss.sparseCategoricalCrossentropy, .meanSquaredError, .binaryCrossentropy])
    func modelGradients_matchFiniteDifferences(loss: Loss) throws {
        let data = syntheticImages(count: 4, height: 6, width: 6, classes: 3)
        let m = try Sequential(inputShape: [6, 6, 1], layers: [
            Conv2D(filters: 2, kernelSize: 3, padding: .same, activation: .tanh),
            MaxPool2D(poolSize: 2),
            Flatten(),
            Dense(units: 4, activation: .sigmoid),
            Dense(units: 3, activation: .softmax),
        ], seed: 5)
        m.compile(optimizer: SGD(learningRate: 0), loss: loss)
        #expect(checkModelGradients(m, data, batch: 4, stride: 3) > 20)
    }

    @Test func fit_learnsASeparableProblem() throws {
        let data = syntheticImages(count: 300)
        let m = try Sequential(inputShape: [8, 8, 1], layers: [
            Conv2D(filters: 4, kernelSize: 3, activation: .relu), MaxPool2D(poolSize: 2), Flatten(),
            Dense(units: 16, activation: .relu), Dense(units: 3, activation: .softmax),
        ], seed: 1)
        m.compile(optimizer: Adam(learningRate: 0.01))
        let r = m.fit(data, epochs: 5, batchSize: 16, validationSplit: 0.2, seed: 1)
        #expect(r.outcome == .completed && r.history.count == 5)
        #expect(r.history.last!.validationAccuracy! > 0.9)
        #expect(r.history.last!.loss < r.history.first!.loss)
        #expect(m.evaluate(data).accuracy > 0.9)
        let classes = m.predictClasses(data, range: 0..<9)
        #expect(classes.count == 9)
        let p = m.predict(data, range: 0..<5)
        #expect(p.shape == [5, 3])
        for row in 0..<5 { #expect(abs((0..<3).map { p[row, $0] }.reduce(0, +) - 1) < 1e-5) }
    }

    @Test func fit_keepsLastPartialBatchAndRunningMeans() throws {
        // 100 samples, split 0.3: 70 train (batches of 32, 32, 6), 30 validation.
        let data = syntheticImages(count: 100)
        let m = try ModelDescription(name: "t", inputShape: [8, 8, 1], layers: [
            LayerConfiguration(Flatten.Options()), LayerConfiguration(Dense.Options(units: 3, activation: .softmax)),
        ]).makeModel(seed: 2)
        m.compile(optimizer: SGD(learningRate: 0))  // parameters stay: metrics are plain means
        var batchSizes: [Int] = []
        var last = 0
        let hooks = TrainingHooks(batchEnd: { logs in
            batchSizes.append(logs.samples - last)
            last = logs.samples
            return .proceed
        })
        let r = m.fit(data, epochs: 1, batchSize: 32, validationSplit: 0.3, shuffle: true, seed: 0, observer: hooks)
        #expect(batchSizes == [32, 32, 6])
        let e = r.history[0]
        #expect(e.samples == 70 && e.batches == 3)
        // With lr 0 the running mean over the epoch equals the mean over the 70 training samples.
        let trainEval = m.evaluate(data, range: 0..<70)
        #expect(abs(e.loss - trainEval.loss) < 1e-6)
        #expect(abs(e.accuracy - trainEval.accuracy) < 1e-9)
        let valEval = m.evaluate(data, range: 70..<100)
        #expect(e.validationLoss! == valEval.loss && e.validationAccuracy! == valEval.accuracy)
    }

    @Test func validationSplit_takesTheLastFraction() {
        #expect(validationSplitIndex(count: 60_000, validationSplit: 0.1) == 54_000)
        #expect(validationSplitIndex(count: 10, validationSplit: 0.25) == 7)
        #expect(validationSplitIndex(count: 100, validationSplit: 0) == 100)
    }

    @Test func hookStopsTraining_andResumeMatchesUninterrupted() throws {
        let data = syntheticImages(count: 200)
        func model() throws -> Model {
            let m = try ModelDescription(name: "t", inputShape: [8, 8, 1], layers: [
                LayerConfiguration(Flatten.Options()), LayerConfiguration(Dense.Options(units: 8, activation: .relu)),
                LayerConfiguration(Dropout.Options(rate: 0.2)),
                LayerConfiguration(Dense.Options(units: 3, activation: .softmax)),
            ]).makeModel(seed: 9)
            m.compile(optimizer: Adam())
            return m
        }
        let full = try model()
        _ = full.fit(data, epochs: 2, batchSize: 16, validationSplit: 0.1, seed: 4)

        let a = try model()
        var position = TrainingPosition()
        let stopper = TrainingHooks(batchEnd: { $0.epoch == 2 && $0.batch == 5 ? .stop : .proceed })
        let r1 = a.fit(data, epochs: 2, batchSize: 16, validationSplit: 0.1, seed: 4, observer: stopper,
                       position: { position = $0 })
        #expect(r1.outcome == .stopped && r1.history.last!.interrupted)
        #expect(position == TrainingPosition(epoch: 1, batch: 5, lossSum: position.lossSum, correct: position.correct, samples: 80))
        let stoppedEpoch = r1.history.last!
        #expect(stoppedEpoch.batches == 5 && stoppedEpoch.plannedBatches == 12 && stoppedEpoch.startBatch == 0)
        // Resume in the same model object (weights and optimiser state as they were).
        var firstBatch: BatchLogs?
        let watcher = TrainingHooks(batchEnd: { logs in
            if firstBatch == nil { firstBatch = logs }
            return .proceed
        })
        let r2 = a.fit(data, epochs: 2, batchSize: 16, validationSplit: 0.1, seed: 4, from: position, observer: watcher)
        #expect(r2.outcome == .completed)
        #expect(a.flatParameters == full.flatParameters)
        // The resumed epoch says which of its batches and samples came before this fit, so its
        // times (which cover this fit only) are shared over the right number of steps.
        #expect(firstBatch?.batch == 6 && firstBatch?.startBatch == 5)
        let resumed = r2.history.first!
        #expect(resumed.epoch == 2 && resumed.batches == 12 && resumed.plannedBatches == 12)
        #expect(resumed.startBatch == 5 && resumed.startSamples == 80 && resumed.samples == 180)
    }
}

@Suite struct OptimizerTests {
    /// One Adam step worked by hand in Keras's form with t = 1:
    /// alpha = lr * sqrt(1 - b2) / (1 - b1); m = (1 - b1) g; v = (1 - b2) g^2;
    /// w -= m * alpha / (sqrt(v) + eps).
    @Test func adam_firstStepsMatchKerasForm() {
        let adam = Adam()
        adam.allocate(count: 2)
        var w: [Float] = [1, -2]
        let g: [Float] = [0.5, -4]
        var expected = w.map(Double.init)
        var m = [0.0, 0.0], v = [0.0, 0.0]
        for t in 1...3 {
            w.withUnsafeMutableBufferPointer { wp in g.withUnsafeBufferPointer { adam.step(parameters: wp.baseAddress!, gradients: $0.baseAddress!, count: 2) } }
            let alpha = 0.001 * (1 - pow(0.999, Double(t))).squareRoot() / (1 - pow(0.9, Double(t)))
            for i in 0..<2 {
                m[i] += (Double(g[i]) - m[i]) * 0.1
                v[i] += (Double(g[i]) * Double(g[i]) - v[i]) * 0.001
                expected[i] -= m[i] * alpha / (v[i].squareRoot() + 1e-7)
            }
            for i in 0..<2 { #expect(abs(Double(w[i]) - expected[i]) < 1e-6) }
        }
        // Each of the first steps moves a weight by about lr (the sign of the gradient).
        #expect(abs(Double(w[0]) - (1 - 0.003)) < 1e-5)
        #expect(adam.stepCount == 3)
    }

    @Test func sgd_plainMomentumAndNesterov() {
        func run(_ opt: SGD, steps: Int) -> Float {
            opt.allocate(count: 1)
            var w: [Float] = [1]
            let g: [Float] = [2]
            for _ in 0..<steps {
                w.withUnsafeMutableBufferPointer { wp in g.withUnsafeBufferPointer { opt.step(parameters: wp.baseAddress!, gradients: $0.baseAddress!, count: 1) } }
            }
            return w[0]
        }
        #expect(abs(run(SGD(learningRate: 0.1), steps: 2) - 0.6) < 1e-6)               // 1 - 2*0.2
        // momentum 0.9: v1 = -0.2, w = 0.8; v2 = -0.18 - 0.2 = -0.38, w = 0.42.
        #expect(abs(run(SGD(learningRate: 0.1, momentum: 0.9), steps: 2) - 0.42) < 1e-6)
        // nesterov: v1 = -0.2, w = 1 + 0.9*(-0.2) - 0.2 = 0.62.
        #expect(abs(run(SGD(learningRate: 0.1, momentum: 0.9, nesterov: true), steps: 1) - 0.62) < 1e-6)
    }
}

@Suite struct ModelDescriptionTests {
    @Test func builtInsRoundTripThroughJSON() throws {
        for d in [ModelDescription.cnn, .mlp] {
            #expect(try ModelDescription.parse(Data(d.jsonString().utf8)) == d)
        }
        #expect(try ModelDescription.mlp.makeModel().parameterCount == 784 * 100 + 100 + 100 * 10 + 10)
    }

    @Test func userJSON_acceptsKerasShorthand() throws {
        let json = #"{"input_shape": [12, 12, 1], "layers": [{"type": "Conv2D", "filters": 4, "kernel_size": 3, "strides": 1, "padding": "same", "activation": "relu"}, {"type": "MaxPool2D", "pool_size": 2}, {"type": "Flatten"}, {"type": "Dropout", "rate": 0.5}, {"type": "Dense", "units": 5}, {"type": "Softmax"}]}"#
        let d = try ModelDescription.parse(Data(json.utf8))
        let m = try d.makeModel()
        #expect(m.outputShape == [5])
        #expect(m.layers[0].outputShape == [12, 12, 4])
    }

    @Test(arguments: [
        (#"{"input_shape": [28, 28, 1], "layers": [{"type": "Dense2", "units": 3}]}"#, "unknown layer type 'Dense2'"),
        (#"{"input_shape": [28, 28, 1], "layers": [{"type": "Dense", "unitz": 3}]}"#, "unknown option 'unitz'"),
        (#"{"input_shape": [28, 28, 1], "layers": [{"type": "Dense"}]}"#, "missing 'units'"),
        (#"{"layers": [{"type": "Flatten"}]}"#, "missing 'input_shape'"),
        (#"{"input_shape": [28, 28, 1], "layers": []}"#, "non-empty list"),
        (#"[1, 2]"#, "not a JSON object"),
        (#"{"input_shape": [28, 28, 1], "layers": [{"type": "Dense", "units": 3, "activation": "swish"}]}"#, "layer 1"),
    ])
    func badDescriptions_sayWhatIsWrong(json: String, message: String) {
        #expect { try ModelDescription.parse(Data(json.utf8)) } throws: { error in
            "\(error)".contains(message)
        }
    }

    @Test func impossibleShapes_areRejectedAtBuild() throws {
        let small = ModelDescription(name: "x", inputShape: [2, 2, 1], layers: [LayerConfiguration(Conv2D.Options(filters: 1, kernelSize: [3, 3]))])
        #expect(throws: ModelError.self) { try small.makeModel() }
        // Dense acts on the last axis (docs/transformer.md): an image input keeps its positions.
        let imageDense = ModelDescription(name: "x", inputShape: [4, 4, 1], layers: [LayerConfiguration(Dense.Options(units: 3))])
        #expect(try imageDense.makeModel().outputShape == [4, 4, 3])
        let noUnits = ModelDescription(name: "x", inputShape: [4], layers: [LayerConfiguration(Dense.Options(units: 0))])
        #expect(throws: ModelError.self) { try noUnits.makeModel() }
        let convAfterFlatten = ModelDescription(name: "x", inputShape: [4, 4, 1], layers: [LayerConfiguration(Flatten.Options()), LayerConfiguration(Conv2D.Options(filters: 1, kernelSize: [1, 1]))])
        #expect(throws: ModelError.self) { try convAfterFlatten.makeModel() }
    }
}

@Suite struct LayerFusionTests {
    /// The fused first block trains like the layer-by-layer path for a few steps (forward and
    /// weight gradients equal to rounding, so the parameters stay close).
    @Test func fusedConvPool_trainsLikeUnfused() throws {
        let data = syntheticImages(count: 96, height: 10, width: 10)
        let d = ModelDescription(name: "t", inputShape: [10, 10, 1], layers: [
            LayerConfiguration(Conv2D.Options(filters: 8, kernelSize: [3, 3], activation: .relu)),
            LayerConfiguration(MaxPool2D.Options(poolSize: [2, 2])),
            LayerConfiguration(Flatten.Options()),
            LayerConfiguration(Dense.Options(units: 3, activation: .softmax)),
        ])
        let fused = try d.makeModel(seed: 1), plain = try d.makeModel(seed: 1, fuseLayers: false)
        #expect((fused.layers[0] as! Conv2D).fusedPool != nil)
        #expect((plain.layers[0] as! Conv2D).fusedPool == nil)
        let before = plain.evaluate(data)
        #expect(abs(fused.evaluate(data).loss - before.loss) < 1e-6)
        let a = fused.fit(data, epochs: 2, batchSize: 16, seed: 3)
        let b = plain.fit(data, epochs: 2, batchSize: 16, seed: 3)
        #expect(abs(a.history[1].loss - b.history[1].loss) < 1e-4)
        #expect(maxAbsDiff(fused.flatParameters, plain.flatParameters) < 1e-4)
    }
}

extension LayerFusionTests {
    /// With Adam, Dense layers update their kernels inside backward (`denseBackwardAdam`) and
    /// the optimiser updates the rest; training matches the separate gradient + Adam path
    /// to rounding, including the step count the checkpoints save.
    @Test func adamInsideDenseBackward_trainsLikeSeparateSteps() throws {
        let data = syntheticImages(count: 100, height: 6, width: 6)
        func model(fuse: Bool) throws -> Sequential {
            let m = try Sequential(inputShape: [6, 6, 1], layers: [
                Flatten(), Dense(units: 40, activation: .relu), Dropout(rate: 0.1), Dense(units: 3, activation: .softmax),
            ], seed: 2, fuseLayers: fuse)
            m.compile(optimizer: Adam(learningRate: 0.005))
            return m
        }
        let fused = try model(fuse: true), plain = try model(fuse: false)
        let a = fused.fit(data, epochs: 3, batchSize: 16, validationSplit: 0.2, seed: 5)
        let b = plain.fit(data, epochs: 3, batchSize: 16, validationSplit: 0.2, seed: 5)
        #expect(fused.plan.fusedUpdate?.layers.map(\.offset) == [0, 36 * 40 + 40])
        #expect(plain.plan.fusedUpdate == nil)
        #expect((fused.layers[1] as! Dense).fusedAdam == nil)  // set for the backward pass only
        #expect(fused.optimizer.stepCount == plain.optimizer.stepCount && fused.optimizer.stepCount == 15)
        #expect(abs(a.history[2].loss - b.history[2].loss) < 1e-4)
        #expect(maxAbsDiff(fused.flatParameters, plain.flatParameters) < 1e-4)
        // Training moved the weights well beyond that tolerance.
        let untrained = try model(fuse: true)
        #expect(maxAbsDiff(fused.flatParameters, untrained.flatParameters) > 1e-2)
        // SGD has no fused path: the layers go back to gradients only.
        fused.compile(optimizer: SGD())
        #expect(fused.plan.fusedUpdate == nil)
    }
}
