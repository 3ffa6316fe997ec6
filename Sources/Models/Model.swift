import Foundation
import Tensor

/// A named input of a model and its shape per sample (e.g. `[28, 28, 1]`).
public struct ModelInput: Codable, Equatable, Sendable {
    public var name: String
    public var shape: [Int]

    public init(name: String, shape: [Int]) {
        self.name = name
        self.shape = shape
    }
}

/// One layer of a graph being built: the layer, its name (nil: named by the model, `dense`,
/// `dense_1`, ...) and the tensors it takes by name (nil: the previous layer's output, or the
/// model's only input for the first layer).
public struct GraphNode {
    public var layer: any Layer
    public var name: String?
    public var inputs: [String]?

    public init(_ layer: any Layer, name: String? = nil, inputs: [String]? = nil) {
        self.layer = layer
        self.name = name
        self.inputs = inputs
    }
}

/// A directed acyclic graph of layers (Keras's functional `Model`): named inputs, layers with
/// one or several inputs (``Add``, ``Concatenate``), and one output, the last layer's (every
/// other layer's output feeds a later layer). ``Sequential`` is the chain.
///
/// Layers run in the order given, which must be topological (a layer takes only model inputs
/// and earlier layers). Parameters, gradients and optimiser state live in flat arrays (one
/// allocation each) in that order; every layer owns views into them. Workspaces are sized
/// once per batch size, so a training step allocates nothing. A tensor used by several layers
/// receives the sum of their gradients. The training step is forward, loss, backward (with
/// the ``GradientHook``'s buckets), then the optimiser update; what runs fused is decided once
/// by a training plan (docs/architecture.md).
public class Model {
    public let name: String
    public let inputs: [ModelInput]
    /// The layers in execution (topological) order.
    public let layers: [any Layer]
    /// The output shape per sample.
    public let outputShape: [Int]
    public let parameterCount: Int
    public private(set) var loss: Loss = .sparseCategoricalCrossentropy
    public private(set) var optimizer: any Optimizer = Adam()

    let parameters: FloatBuffer
    let gradients: FloatBuffer
    /// Offsets of each layer's parameters in the flat arrays.
    let parameterOffsets: [Int]
    /// Whether layers may be fused (the first conv block, Adam inside Dense's backward).
    let fuseLayers: Bool

    // The graph. Tensor ids: 0..<inputs.count are the model inputs, inputs.count + j is layer
    // j's output.
    /// For each layer, the tensors it takes.
    let layerInputs: [[Int]]
    /// For each layer, itself as a merge layer when it takes several inputs.
    let merges: [(any MergeLayer)?]
    let outputTensor: Int
    /// Values per sample of each tensor, and how many layers take it.
    let tensorSizes: [Int]
    let consumerCounts: [Int]

    /// What runs fused and where gradient buckets close; rebuilt by `compile` and when the
    /// gradient hook or bucket capacity change.
    private(set) var plan = TrainingPlan()

    /// Receives the parameter gradients during each training step's backward pass, in buckets
    /// in reverse layer order, and is waited for before the optimiser update. Setting it
    /// re-plans the step: a fusion that would update weights before the hook sees their
    /// gradients (Dense backward with Adam) is not planned while a hook is installed.
    public var gradientHook: (any GradientHook)? {
        didSet { replan() }
    }

    /// The parameter count at which a gradient bucket closes: walking backward, a bucket closes
    /// after the layer that brings it to this count (with the layers since the last one closed),
    /// and the last bucket after the first layer with parameters. The default, 6.5 M
    /// parameters, is PyTorch DDP's 25 MB of float32.
    public var gradientBucketCapacity = 25 << 18 {
        didSet { replan() }
    }

    /// Clips the gradient by its global norm before each update (PyTorch's
    /// `clip_grad_norm_`): the norm over every trainable parameter's gradient, after the
    /// gradient hook's `synchronize` (so a data-parallel run clips the summed gradient); when
    /// above, the gradients are scaled by `clipNorm / (norm + 1e-6)`. Nil: no clipping. While
    /// set, no update runs inside backward (the plan stores every gradient).
    public var clipNorm: Float? {
        didSet {
            precondition(clipNorm.map { $0 > 0 && $0.isFinite } ?? true, "clipNorm must be positive and finite")
            replan()
        }
    }

    /// The global gradient norm of the last training step, before clipping (set while
    /// `clipNorm` is set; nil before the first such step).
    public private(set) var lastGradientNorm: Double?

    /// For each layer, whether it is frozen (``freeze(layers:)``).
    public private(set) var frozen: [Bool]

    /// The trainable parameters as contiguous segments of the flat arrays, each marked with
    /// whether weight decay applies (what the optimiser is handed every step).
    public private(set) var updateSegments: [ParameterSegment] = []

    // Batch workspaces, sized by `prepare(maxBatch:)`.
    private(set) var maxBatch = 0
    private var inputBuffers: [FloatBuffer] = []
    private var batchLabels: Int32Buffer!
    private var probabilities: FloatBuffer!
    /// The loss's gradient when the softmax is not fused (made at the first such step; a fused
    /// softmax's gradient is written over its probabilities).
    private var outputGradient: FloatBuffer?
    /// The backward scratch every ``SharedScratchLayer`` shares, and the pool that lends
    /// ``GradientBorrowingLayer``s their input-gradient buffers (docs/architecture.md, "Memory
    /// of a training step").
    private var sharedScratch: FloatBuffer?
    private var gradientPool = GradientPool()
    /// Whether `prepare` shares memory between layers (the shared scratch, the gradient pool,
    /// transient outputs, recomputed inputs); off only to compare against each layer owning
    /// its buffers. Takes effect at the next `prepare` with a new batch size.
    var sharesMemory = true
    /// The placement of the short-lived outputs, from the last `prepare`.
    private(set) var memoryPlan: MemoryPlan?
    /// For each layer that borrows: its table of lent buffers and their sizes (values per sample).
    private var lendingTables: [UnsafeMutablePointer<UnsafeMutablePointer<Float>?>?] = []
    private var lendingCounts: [[Int]] = []

    // Pointer tables of the step, allocated once.
    private let values: UnsafeMutablePointer<UnsafePointer<Float>?>
    private let tensorGradients: UnsafeMutablePointer<UnsafeMutablePointer<Float>?>
    private let mergeInputs: [UnsafeMutablePointer<UnsafePointer<Float>>?]
    private let mergeGradients: [UnsafeMutablePointer<UnsafeMutablePointer<Float>?>?]

    /// Builds the graph, checks every shape and size, and initialises the parameters from
    /// `seed` (Keras's initialisers, layer by layer in order).
    /// - Parameters:
    ///   - name: the model's name.
    ///   - inputs: the named inputs with their shapes per sample.
    ///   - nodes: the layers in topological order, each with the tensors it takes; the last
    ///     one's output is the model's.
    ///   - seed: the initialisers' seed.
    ///   - fuseLayers: lets a first Conv2D(relu) + 2x2 MaxPool2D run as one fused kernel and a
    ///     Dense layer apply Adam inside its backward (the same results; off only to compare
    ///     against the layer-by-layer path).
    /// - Throws: ``ModelError`` naming the layer for an unknown tensor name, a name used
    ///   twice or with control characters, one layer object given twice, an unused layer or
    ///   input, shapes that do not fit, or sizes beyond
    ///   ``ModelDescription/maximumParameters`` and ``ModelDescription/maximumValuesPerSample``.
    public init(name: String = "model", inputs: [ModelInput], nodes: [GraphNode],
                seed: UInt64 = 0, fuseLayers: Bool = true) throws {
        guard !nodes.isEmpty else { throw ModelError("\(name): a model needs at least one layer") }
        guard !inputs.isEmpty else { throw ModelError("\(name): a model needs at least one input") }
        for input in inputs {
            guard !input.shape.isEmpty, input.shape.allSatisfy({ $0 > 0 }) else {
                throw ModelError("\(name): input shape must be positive dimensions, got \(input.shape)")
            }
            if let d = input.shape.first(where: { $0 > ModelDescription.maximumSize }) {
                throw ModelError("'input_shape' \(input.shape): dimension \(d) is larger than \(ModelDescription.maximumSize)")
            }
        }
        self.name = name
        self.inputs = inputs
        self.fuseLayers = fuseLayers
        layers = nodes.map(\.layer)
        frozen = [Bool](repeating: false, count: nodes.count)
        let graph = try GraphResolution(inputs: inputs, nodes: nodes)
        layerInputs = graph.layerInputs
        outputTensor = graph.outputTensor
        consumerCounts = graph.consumerCounts
        merges = layers.map { $0 as? any MergeLayer }

        // Shapes and sizes, in order, each checked before it is used (an absurd size is an
        // error, not an overflow trap or a failed allocation inside a layer).
        let product = Safetensors.elementCount   // nil on overflow
        var shapes = inputs.map(\.shape)
        var offsets: [Int] = []
        var total = 0
        for (j, layer) in layers.enumerated() {
            layer.name = graph.names[j]
            let label = "layer \(j + 1) (\(layer.typeName))"
            let inputShapes = layerInputs[j].map { shapes[$0] }
            for shape in inputShapes {
                guard let v = product(shape), v <= ModelDescription.maximumValuesPerSample else {
                    throw ModelError("\(label): input \(shape) is more than \(ModelDescription.maximumValuesPerSample) values per sample")
                }
            }
            let shape = try merges[j].map { try $0.build(inputShapes: inputShapes) } ?? layer.build(inputShape: inputShapes[0])
            if let conv = layer as? Conv2D {
                let g = conv.geometry!
                guard let patches = product([g.outHeight, g.outWidth, g.patchSize]), patches <= ModelDescription.maximumValuesPerSample else {
                    throw ModelError("\(label): a \(g.outHeight)x\(g.outWidth) output of \(g.patchSize)-value patches is more than \(ModelDescription.maximumValuesPerSample) values per sample")
                }
            }
            for spec in layer.parameters {
                guard let count = product(spec.shape), count <= ModelDescription.maximumParameters - total else {
                    throw ModelError("\(label): more than \(ModelDescription.maximumParameters) parameters in the model")
                }
                total += count
            }
            guard let values = product(shape), values <= ModelDescription.maximumValuesPerSample else {
                throw ModelError("\(label): output \(shape) is more than \(ModelDescription.maximumValuesPerSample) values per sample")
            }
            offsets.append(total - layer.parameterCount)
            shapes.append(shape)
        }
        outputShape = shapes[outputTensor]
        tensorSizes = shapes.map { $0.reduce(1, *) }
        parameterOffsets = offsets
        parameterCount = total
        parameters = FloatBuffer(count: total)
        gradients = FloatBuffer(count: total)
        var rng = Xoshiro256(seed: seed)
        for (layer, offset) in zip(layers, offsets) {
            layer.bind(parameters: parameters.pointer + offset, gradients: gradients.pointer + offset)
            layer.initializeParameters(rng: &rng)
        }

        let tensorCount = inputs.count + layers.count
        values = .allocate(capacity: tensorCount)
        values.initialize(repeating: nil, count: tensorCount)
        tensorGradients = .allocate(capacity: tensorCount)
        tensorGradients.initialize(repeating: nil, count: tensorCount)
        mergeInputs = zip(merges, layerInputs).map { m, ins in m == nil ? nil : .allocate(capacity: ins.count) }
        mergeGradients = zip(merges, layerInputs).map { m, ins in
            guard m != nil else { return nil }
            let p = UnsafeMutablePointer<UnsafeMutablePointer<Float>?>.allocate(capacity: ins.count)
            p.initialize(repeating: nil, count: ins.count)
            return p
        }
        compile()
    }

    deinit {
        values.deallocate()
        tensorGradients.deallocate()
        for p in mergeInputs { p?.deallocate() }
        for p in mergeGradients { p?.deallocate() }
        for table in lendingTables { table?.deallocate() }
    }

    /// Chooses the loss and optimiser (Keras's `compile`) and plans the training step. A
    /// softmax output with a cross-entropy loss is fused: the last layer emits logits and the
    /// loss owns the softmax.
    /// - Parameters:
    ///   - optimizer: the optimiser (Keras's default, Adam with learning rate 0.001).
    ///   - loss: the loss (sparse categorical cross-entropy by default).
    public func compile(optimizer: any Optimizer = Adam(), loss: Loss = .sparseCategoricalCrossentropy) {
        self.optimizer = optimizer
        self.loss = loss
        optimizer.allocate(count: parameterCount)
        replan()
    }

    private func replan() {
        updateSegments = Self.segments(layers: layers, offsets: parameterOffsets, frozen: frozen)
        plan = TrainingPlan(model: self)
        plan.apply(to: self)
    }

    /// The trainable parameters in contiguous runs of equal `decays`.
    static func segments(layers: [any Layer], offsets: [Int], frozen: [Bool]) -> [ParameterSegment] {
        var out: [ParameterSegment] = []
        for (j, layer) in layers.enumerated() where !frozen[j] {
            var o = offsets[j]
            for p in layer.parameters where p.count > 0 {
                let r = o..<(o + p.count)
                o += p.count
                if let last = out.last, last.range.upperBound == r.lowerBound, last.decays == p.decays {
                    out[out.count - 1] = ParameterSegment(range: last.range.lowerBound..<r.upperBound, decays: p.decays)
                } else {
                    out.append(ParameterSegment(range: r, decays: p.decays))
                }
            }
        }
        return out
    }

    /// Freezes the named layers (Keras's `layer.trainable = False`): their parameters get no
    /// update and no weight decay, and are left out of the gradient norm; gradients still flow
    /// through them to the layers below. Layers frozen before stay frozen.
    /// - Parameter names: layer names (as in ``summary()``).
    /// - Throws: ``ModelError`` naming an unknown layer and listing the model's layers.
    public func freeze(layers names: [String]) throws {
        var indices: [Int] = []
        for name in names {
            guard let j = layers.firstIndex(where: { $0.name == name }) else {
                throw ModelError("freeze: no layer named '\(name)' (layers: \(layers.map(\.name).joined(separator: ", ")))")
            }
            indices.append(j)
        }
        for j in indices { frozen[j] = true }
        replan()
    }

    /// Makes every layer trainable again.
    public func unfreezeAll() {
        frozen = [Bool](repeating: false, count: layers.count)
        replan()
    }

    /// Parameters that training updates (those of layers not frozen).
    public var trainableParameterCount: Int { updateSegments.reduce(0) { $0 + $1.range.count } }

    /// The shape of the first input (all a single-input model has).
    public var inputShape: [Int] { inputs[0].shape }
    /// Outputs per sample (classes for a classifier).
    public var outputCount: Int { outputShape.reduce(1, *) }
    /// Values per sample of the first input.
    public var inputCount: Int { inputShape.reduce(1, *) }
    /// Classified rows per sample: the output `[..., C]` is classified over its last axis, so
    /// a sample has `product(outputShape.dropLast())` rows and as many labels (1 for an image
    /// classifier, T for a language model; docs/transformer.md).
    public var rowsPerSample: Int { outputShape.dropLast().reduce(1, *) }
    /// Classes per row: the output's last dimension.
    public var classCount: Int { outputShape.last ?? 1 }
    /// Whether tensor `t` is a model input (no gradient flows there).
    func isModelInput(_ t: Int) -> Bool { t < inputs.count }

    /// Sizes every workspace for batches of up to `maxBatch` samples (once per batch size).
    public func prepare(maxBatch: Int) {
        guard maxBatch != self.maxBatch else { return }
        self.maxBatch = maxBatch
        // The old workspaces go before the new ones are made.
        sharedScratch = nil
        gradientPool = GradientPool()
        for table in lendingTables { table?.deallocate() }
        let memory = sharesMemory ? MemoryPlan(layers: layers, layerInputs: layerInputs, inputCount: inputs.count,
                                               outputTensor: outputTensor, tensorSizes: tensorSizes, maxBatch: maxBatch) : nil
        memoryPlan = memory
        for (j, layer) in layers.enumerated() {
            if let r = layer as? any InputRecomputingLayer {
                r.inputRecomputedBy = memory?.recomputedInputProducer[j].map { layers[$0] as! any OutputRecomputable }
            }
        }
        let scratchCount = layers.compactMap { ($0 as? any SharedScratchLayer)?.backwardScratchCount(maxBatch: maxBatch) }.max() ?? 0
        let sharedCount = memory.map { max(scratchCount, $0.transientCount) } ?? 0
        sharedScratch = sharedCount > 0 ? FloatBuffer(count: sharedCount) : nil
        for (j, layer) in layers.enumerated() {
            if let s = layer as? any SharedScratchLayer { s.sharedScratch = sharedScratch?.pointer }
            if let b = layer as? any GradientBorrowingLayer {
                b.borrowsGradients = sharesMemory
                b.lentGradients = nil   // the old table is gone; a new one is set below
            }
            if let o = layer as? any TransientOutputLayer {
                o.transientOutput = memory?.transientOffsets[j].map { sharedScratch!.pointer + $0 }
            }
        }
        for (j, layer) in layers.enumerated() {
            let needs = layerInputs[j].map { !isModelInput($0) }
            if let m = merges[j] {
                m.allocate(maxBatch: maxBatch, needsInputGradients: needs)
            } else {
                layer.allocate(maxBatch: maxBatch, needsInputGradient: needs[0])
            }
        }
        lendingCounts = layers.map { sharesMemory ? ($0 as? any GradientBorrowingLayer)?.lentGradientCounts ?? [] : [] }
        lendingTables = layers.enumerated().map { j, layer in
            guard sharesMemory, let b = layer as? any GradientBorrowingLayer, !lendingCounts[j].isEmpty else { return nil }
            let table = UnsafeMutablePointer<UnsafeMutablePointer<Float>?>.allocate(capacity: lendingCounts[j].count)
            table.initialize(repeating: nil, count: lendingCounts[j].count)
            b.lentGradients = table
            return table
        }
        inputBuffers = inputs.map { FloatBuffer(count: maxBatch * $0.shape.reduce(1, *)) }
        batchLabels = Int32Buffer(count: maxBatch * rowsPerSample)
        probabilities = FloatBuffer(count: maxBatch * outputCount)
        outputGradient = nil
    }

    /// The forward pass over the `batch` samples in the input buffers; returns the output
    /// layer's output (logits when the softmax is fused).
    func forward(batch: Int, training: Bool) -> UnsafePointer<Float> {
        forward(batch: batch, training: training, observe: nil)
    }

    /// The forward pass; `observe(j, t, values)`, when given, sees layer j's first input
    /// tensor `t` before the layer runs.
    func forward(batch: Int, training: Bool,
                 observe: ((Int, Int, UnsafePointer<Float>) -> Void)?) -> UnsafePointer<Float> {
        let n = inputs.count
        for k in 0..<n { values[k] = UnsafePointer(inputBuffers[k].pointer) }
        for j in 0..<layers.count {
            let ins = layerInputs[j]
            if let observe { observe(j, ins[0], values[ins[0]]!) }
            if let m = merges[j], let gathered = mergeInputs[j] {
                for k in 0..<ins.count { gathered[k] = values[ins[k]]! }
                values[n + j] = m.forward(inputs: gathered, count: ins.count, batch: batch, training: training)
            } else {
                values[n + j] = layers[j].forward(values[ins[0]]!, batch: batch, training: training)
            }
        }
        return values[outputTensor]!
    }

    /// The backward pass from the loss's gradient `outputGradient` (overwritten): every layer's
    /// parameter gradients, buckets handed to the hook as they close. A tensor taken by several
    /// layers sums their gradients into the first one received (each such buffer belongs to
    /// this step alone: a layer's own input-gradient buffer, or the gradient it was given).
    func backward(batch: Int, outputGradient: UnsafeMutablePointer<Float>) {
        let n = inputs.count
        for t in 0..<(n + layers.count) { tensorGradients[t] = nil }
        tensorGradients[outputTensor] = outputGradient
        let hook = gradientHook
        for j in stride(from: layers.count - 1, through: 0, by: -1) {
            if let dout = tensorGradients[n + j] {
                let ins = layerInputs[j]
                if let table = lendingTables[j] {
                    // Busy: the gradients still to be consumed (tensors up to this layer's output).
                    gradientPool.release()
                    for t in 0...(n + j) { if let g = tensorGradients[t] { gradientPool.markBusy(g) } }
                    for (k, count) in lendingCounts[j].enumerated() { table[k] = gradientPool.take(count: maxBatch * count) }
                }
                if let m = merges[j], let received = mergeGradients[j] {
                    m.backward(dout, batch: batch, inputGradients: received, count: ins.count)
                    for k in 0..<ins.count { if let g = received[k] { accumulate(g, into: ins[k], batch: batch) } }
                } else if let g = layers[j].backward(dout, batch: batch) {
                    accumulate(g, into: ins[0], batch: batch)
                }
                if let table = lendingTables[j] { table.update(repeating: nil, count: lendingCounts[j].count) }
            }
            if let hook {
                let b = plan.bucketClosedAfterLayer[j]
                if b >= 0 { hook.gradientsReady(plan.buckets[b]) }
            }
        }
    }

    /// The pool's buffers (for the tests: how many, and their sizes).
    var gradientPoolCounts: [Int] { gradientPool.counts }

    private func accumulate(_ g: UnsafeMutablePointer<Float>, into t: Int, batch: Int) {
        guard !isModelInput(t) else { return }
        guard let sum = tensorGradients[t] else {
            tensorGradients[t] = g
            return
        }
        precondition(sum != g, "one gradient buffer handed to a tensor twice")
        for i in 0..<(batch * tensorSizes[t]) { sum[i] += g[i] }
    }

    /// One optimisation step on the batch already in the input and label buffers: forward,
    /// loss, backward (gradient hook buckets), the hook's `synchronize`, clipping, the
    /// optimiser update. The loss gradient is the mean over `divisor` rows (nil: the batch's
    /// counted rows) times `gradientScale` (a data-parallel process passes its counted rows
    /// over the group's, and nil; docs/architecture.md); an empty batch contributes zero
    /// gradients to the hook. Returns the batch's summed loss, correct count and counted rows.
    func trainStep(batch: Int, gradientScale: Float = 1, divisor: Int? = nil) -> (lossSum: Double, correct: Int, counted: Int) {
        guard batch > 0 else {
            precondition(plan.fusedUpdate == nil, "an empty batch needs stored gradients (a gradient hook)")
            gradients.pointer.update(repeating: 0, count: parameterCount)
            if let hook = gradientHook {
                for bucket in plan.buckets { hook.gradientsReady(bucket) }
                hook.synchronize()
            }
            clipAndUpdate()
            return (0, 0, 0)
        }
        let r = lossAndGradients(batch: batch, gradientScale: gradientScale, divisor: divisor, fused: plan.fusedUpdate)
        if let fused = plan.fusedUpdate {
            for range in fused.remainingRanges {
                fused.optimizer.update(parameters: parameters.pointer, gradients: gradients.pointer, range: range, alpha: fused.alpha)
            }
        } else {
            gradientHook?.synchronize()
            clipAndUpdate()
        }
        return r
    }

    /// Clips the stored gradients by their global norm when `clipNorm` is set, then runs the
    /// optimiser over the trainable segments.
    private func clipAndUpdate() {
        if let maxNorm = clipNorm {
            var squares = 0.0
            for segment in updateSegments {
                squares += sumOfSquares(gradients.pointer + segment.range.lowerBound, count: segment.range.count)
            }
            let norm = squares.squareRoot()
            lastGradientNorm = norm
            let coefficient = Double(maxNorm) / (norm + 1e-6)
            if coefficient < 1 {
                for segment in updateSegments {
                    scaleInPlace(gradients.pointer + segment.range.lowerBound, count: segment.range.count, by: Float(coefficient))
                }
            }
        }
        optimizer.step(parameters: parameters.pointer, gradients: gradients.pointer, segments: updateSegments)
    }

    /// Forward, loss and backward of the batch in the buffers, without the optimiser update
    /// (but for the part `fused` applies inside backward).
    private func lossAndGradients(batch: Int, gradientScale: Float = 1, divisor: Int? = nil,
                                  fused: FusedUpdate?) -> (lossSum: Double, correct: Int, counted: Int) {
        let out = forward(batch: batch, training: true)
        // softmaxCrossEntropyBackward writes each gradient value over the probability it reads.
        if !plan.softmaxFused, outputGradient == nil { outputGradient = FloatBuffer(count: maxBatch * outputCount) }
        let g = plan.softmaxFused ? probabilities.pointer : outputGradient!.pointer
        let r = loss.evaluate(outputs: out, labels: batchLabels.pointer, batch: batch * rowsPerSample, classes: classCount,
                              fused: plan.softmaxFused, probabilities: probabilities.pointer, gradient: g,
                              divisor: divisor)
        if gradientScale != 1 {
            for i in 0..<(batch * outputCount) { g[i] *= gradientScale }
        }
        if let fused {
            fused.begin()
            backward(batch: batch, outputGradient: g)
            fused.end()
        } else {
            backward(batch: batch, outputGradient: g)
        }
        return r
    }

    /// The labels of the first `batch` samples in the label buffer that count (>= 0).
    func countedLabels(batch: Int) -> Int {
        let l = batchLabels.pointer
        var n = 0
        for i in 0..<(batch * rowsPerSample) where l[i] >= 0 { n += 1 }
        return n
    }

    /// The gradients of the batch-mean loss for the batch in the buffers, in the flat
    /// gradient array, with no update (the plan's in-backward update is not used for this call).
    /// Returns the batch's summed loss.
    func computeGradients(batch: Int) -> Double {
        lossAndGradients(batch: batch, fused: nil).lossSum
    }

    /// Loss, correct count and counted rows of the batch in the buffers, forward only.
    func evaluateStep(batch: Int) -> (lossSum: Double, correct: Int, counted: Int) {
        let out = forward(batch: batch, training: false)
        return loss.evaluate(outputs: out, labels: batchLabels.pointer, batch: batch * rowsPerSample, classes: classCount,
                             fused: plan.softmaxFused, probabilities: probabilities.pointer, gradient: nil)
    }

    /// Probabilities of the batch in the input buffer, written to the probabilities buffer.
    func predictStep(batch: Int) -> UnsafePointer<Float> {
        let out = forward(batch: batch, training: false)
        guard plan.softmaxFused else { return out }
        softmaxForward(out, probabilities.pointer, rows: batch * rowsPerSample, columns: classCount)
        return UnsafePointer(probabilities.pointer)
    }

    /// Checks that `source` gives one label per classified row of a sample (its
    /// `labelsPerSample` is ``rowsPerSample``) and samples of the input's size.
    /// - Throws: ``ModelError`` saying what the model expects.
    public func checkLabels(of source: any LabeledBatchSource) throws(ModelError) {
        guard source.labelsPerSample == rowsPerSample else {
            throw ModelError("\(name): the data gives \(source.labelsPerSample) label(s) per sample, the model's output \(outputShape) needs \(rowsPerSample) (one per row of its last axis)")
        }
        guard source.sampleShape.reduce(1, *) == inputCount else {
            throw ModelError("\(name): data sample shape \(source.sampleShape) does not fit input \(inputShape)")
        }
    }

    /// Fills the first input's buffer and the labels from `source`.
    func fill(_ source: any LabeledBatchSource, indices: UnsafeBufferPointer<Int>) {
        precondition(inputs.count == 1, "\(name): batches from one data source fill a model with one input; this one has \(inputs.count)")
        source.fillBatch(indices: indices, inputs: inputBuffers[0].pointer, labels: batchLabels.pointer)
    }

    static func snakeCase(_ s: String) -> String {
        var out = ""
        for (i, c) in s.enumerated() {
            if c.isUppercase, i > 0, let prev = out.last, prev.isLowercase { out.append("_") }
            out.append(Character(c.lowercased()))
        }
        return out
    }
}

/// A stack of layers, each feeding the next (Keras's `Sequential`): the simplest ``Model``.
public final class Sequential: Model {
    /// Builds the chain from the input shape (per sample, e.g. `[28, 28, 1]`) and initialises
    /// the parameters from `seed` (Glorot uniform kernels, zero biases). Layers are named by
    /// type (`conv2d`, `dense`, `dense_1`).
    /// - Parameters:
    ///   - name: the model's name.
    ///   - inputShape: the shape of one sample.
    ///   - layers: the layers, first to last.
    ///   - seed: the initialisers' seed.
    ///   - fuseLayers: see ``Model/init(name:inputs:nodes:seed:fuseLayers:)``.
    /// - Throws: ``ModelError`` when shapes do not fit or sizes are beyond the limits.
    public init(name: String = "sequential", inputShape: [Int], layers: [any Layer], seed: UInt64 = 0,
                fuseLayers: Bool = true) throws {
        try super.init(name: name, inputs: [ModelInput(name: "input", shape: inputShape)],
                       nodes: layers.map { GraphNode($0) }, seed: seed, fuseLayers: fuseLayers)
    }
}

/// The graph's names resolved to tensor ids, and its structure checked.
struct GraphResolution {
    var names: [String] = []
    var layerInputs: [[Int]] = []
    var outputTensor = 0
    var consumerCounts: [Int] = []

    init(inputs: [ModelInput], nodes: [GraphNode]) throws {
        // Names appear in one-line errors, summaries and checkpoint tensor names.
        func printable(_ name: String) -> Bool { !name.isEmpty && !name.unicodeScalars.contains { $0.properties.generalCategory == .control } }
        var ids: [String: Int] = [:]
        for (k, input) in inputs.enumerated() {
            guard printable(input.name) else { throw ModelError("input \(k + 1): its name must be printable and not empty") }
            guard ids[input.name] == nil else { throw ModelError("input name '\(input.name)' is used twice") }
            ids[input.name] = k
        }
        var seen = Set<ObjectIdentifier>()
        for (j, node) in nodes.enumerated() where !seen.insert(ObjectIdentifier(node.layer)).inserted {
            throw ModelError("layer \(j + 1) (\(node.layer.typeName)): the same layer object is given twice; make a new layer for each use")
        }
        let explicit = Set(nodes.compactMap(\.name))
        var counters: [String: Int] = [:]
        for (j, node) in nodes.enumerated() {
            let label = "layer \(j + 1) (\(node.layer.typeName))"
            var name: String
            if let given = node.name {
                guard printable(given) else { throw ModelError("\(label): 'name' must be printable and not empty") }
                name = given
            } else {
                let base = Model.snakeCase(node.layer.typeName)
                repeat {
                    let n = counters[base, default: 0]
                    counters[base] = n + 1
                    name = n == 0 ? base : "\(base)_\(n)"
                } while explicit.contains(name) || ids[name] != nil
            }
            guard ids[name] == nil else { throw ModelError("\(label): the name '\(name)' is used twice") }
            let isMerge = node.layer is any MergeLayer
            let taken: [Int]
            if let given = node.inputs {
                taken = try given.map { input in
                    guard printable(input) else { throw ModelError("\(label): an input name must be printable and not empty") }
                    guard let t = ids[input] else {
                        throw ModelError("\(label): input '\(input)' is not a model input or an earlier layer")
                    }
                    return t
                }
            } else if j == 0 {
                guard inputs.count == 1 else {
                    throw ModelError("\(label): the model has \(inputs.count) inputs; say which this layer takes ('inputs')")
                }
                taken = [0]
            } else {
                taken = [inputs.count + j - 1]
            }
            if isMerge {
                guard taken.count >= 2 else { throw ModelError("\(label): takes at least two inputs, got \(taken.count)") }
            } else {
                guard taken.count == 1 else { throw ModelError("\(label): takes one input, got \(taken.count)") }
            }
            ids[name] = inputs.count + j
            names.append(name)
            layerInputs.append(taken)
        }
        outputTensor = inputs.count + nodes.count - 1
        consumerCounts = [Int](repeating: 0, count: inputs.count + nodes.count)
        for taken in layerInputs { for t in taken { consumerCounts[t] += 1 } }
        for (k, input) in inputs.enumerated() where consumerCounts[k] == 0 {
            throw ModelError("input '\(input.name)' is not used by any layer")
        }
        for j in nodes.indices where inputs.count + j != outputTensor && consumerCounts[inputs.count + j] == 0 {
            throw ModelError("layer \(j + 1) (\(names[j])): its output is not used (only the last layer's, the model's output, may be unused)")
        }
    }
}

// MARK: - Parameters by name

extension Model {
    /// A named view of one parameter tensor (`dense_1/kernel`), for checkpoints.
    public struct NamedParameter {
        public let name: String
        public let shape: [Int]
        public let pointer: UnsafeMutablePointer<Float>
        public var count: Int { shape.reduce(1, *) }
        public var values: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
    }

    /// Every parameter tensor, layer by layer in order.
    public var namedParameters: [NamedParameter] {
        var out: [NamedParameter] = []
        for (layer, offset) in zip(layers, parameterOffsets) {
            var o = offset
            for p in layer.parameters {
                out.append(NamedParameter(name: "\(layer.name)/\(p.name)", shape: p.shape, pointer: parameters.pointer + o))
                o += p.count
            }
        }
        return out
    }

    /// All parameters as one flat array (the order of `namedParameters`).
    public var flatParameters: [Float] { parameters.array }

    /// Whether this graph is a chain: one input, each layer taking the one before, the last
    /// layer the output (a `Sequential` description describes it).
    public var isChain: Bool {
        inputs.count == 1 && outputTensor == inputs.count + layers.count - 1
            && layerInputs.enumerated().allSatisfy { j, ins in ins == [j == 0 ? 0 : inputs.count + j - 1] }
    }

    /// The name of tensor `t` (a model input's or a layer's).
    func tensorName(_ t: Int) -> String { isModelInput(t) ? inputs[t].name : layers[t - inputs.count].name }
}

// MARK: - FLOPs and summary

extension Model {
    /// GEMM FLOPs per sample: forward, and a training step (forward, weight gradients, and
    /// the input gradients of every layer that does not take a model input).
    public var flopsPerSample: (forward: Int, training: Int) {
        var forward = 0, backward = 0
        for (j, layer) in layers.enumerated() {
            let f = layer.flopsPerSample
            forward += f.forward
            backward += f.weightGradient + (layerInputs[j].contains(where: isModelInput) ? 0 : f.inputGradient)
        }
        return (forward, forward + backward)
    }

    /// A table like Keras's `model.summary()`; a graph that is not a chain has Keras's
    /// functional form (input rows and a "Connected to" column).
    public func summary() -> String {
        func fmt(_ n: Int) -> String {
            let s = String(n)
            var out = ""
            for (i, c) in s.reversed().enumerated() {
                if i > 0 && i % 3 == 0 { out.append(",") }
                out.append(c)
            }
            return String(out.reversed())
        }
        func shape(_ s: [Int]) -> String { "(None, " + s.map(String.init).joined(separator: ", ") + ")" }
        let chain = isChain
        var rows: [[String]] = []
        if !chain {
            rows += inputs.map { ["\($0.name) (InputLayer)", shape($0.shape), "0", "-"] }
        }
        for (j, layer) in layers.enumerated() {
            var row = ["\(layer.name) (\(layer.typeName))", shape(layer.outputShape), fmt(layer.parameterCount)]
            if !chain { row.append(layerInputs[j].map { tensorName($0) + "[0][0]" }.joined(separator: ", ")) }
            rows.append(row)
        }
        let widths = [max(28, (rows.map { $0[0].count }.max() ?? 0) + 2), max(25, (rows.map { $0[1].count }.max() ?? 0) + 2), 15]
            + (chain ? [] : [max(14, rows.map { $0[3].count }.max() ?? 0)])
        func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s + " " : s + String(repeating: " ", count: w - s.count) }
        func line(_ cells: [String]) -> String {
            zip(cells, widths).enumerated().map { i, p in i == cells.count - 1 ? p.0 : pad(p.0, p.1) }.joined()
        }
        let ruleWidth = widths.reduce(0, +) + 1
        var out = "Model: \"\(name)\"\n"
        let rule = String(repeating: "━", count: ruleWidth)
        out += rule + "\n"
        out += line(["Layer (type)", "Output Shape", "Param #"] + (chain ? [] : ["Connected to"])) + "\n"
        out += rule + "\n"
        for (i, r) in rows.enumerated() {
            out += line(r) + "\n"
            out += (i == rows.count - 1 ? rule : String(repeating: "─", count: ruleWidth)) + "\n"
        }
        let bytes = parameterCount * 4
        let size = bytes >= 1 << 20 ? String(format: "%.2f MB", Double(bytes) / 1048576) : String(format: "%.2f KB", Double(bytes) / 1024)
        func sizeOf(_ n: Int) -> String {
            let b = n * 4
            return b == 0 ? "0.00 B" : b >= 1 << 20 ? String(format: "%.2f MB", Double(b) / 1048576)
                : String(format: "%.2f KB", Double(b) / 1024)
        }
        let trainable = trainableParameterCount
        out += " Total params: \(fmt(parameterCount)) (\(size))\n"
        out += " Trainable params: \(fmt(trainable)) (\(trainable == parameterCount ? size : sizeOf(trainable)))\n"
        out += " Non-trainable params: \(fmt(parameterCount - trainable)) (\(sizeOf(parameterCount - trainable)))\n"
        return out
    }
}
