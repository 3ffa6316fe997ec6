import Tensor

/// Receives a model's parameter gradients during each training step, between backward and
/// the optimiser update: the seam where data-parallel training averages gradients across
/// processes (docs/architecture.md).
///
/// Per step, ``gradientsReady(_:)`` is called once per bucket, in reverse layer order, as soon
/// as every gradient in the bucket is final (the layers below are still running backward), so
/// a hook may start asynchronous work on it and return at once; then ``synchronize()`` is
/// called once before the update and must return only when that work is done. The hook may
/// change the gradients in place (e.g. replace them by their average); the optimiser reads
/// them after `synchronize`.
public protocol GradientHook: AnyObject {
    /// A bucket of gradients is final for this step.
    /// - Parameter bucket: which parameters, and their gradients (valid until `synchronize` returns).
    func gradientsReady(_ bucket: GradientBucket)
    /// Called after backward, before the optimiser update: returns when every bucket's work is done.
    func synchronize()
}

/// A contiguous range of the flat gradient array that becomes final at one moment of backward:
/// the gradients of one or more consecutive layers.
public struct GradientBucket {
    /// 0 for the first bucket of a step (the last layers), counting up towards the first layer.
    public let index: Int
    /// The parameters it covers, as indices into the model's flat parameter array.
    public let parameterRange: Range<Int>
    /// The layers whose parameters it covers, last layer first.
    public let layerNames: [String]
    /// The gradients themselves (the model's flat gradient array over `parameterRange`).
    public let gradients: UnsafeMutableBufferPointer<Float>
}

/// What a model's training step runs fused, decided once from the capabilities that layers
/// and the optimiser declare (the capability protocols in Layer.swift, ``Adam``'s in-backward
/// update), when the model is compiled or its gradient hook changes; the step itself never
/// inspects layer types. The fusions give the same results as the layer-by-layer path (to
/// rounding) and are:
/// - a first-layer Conv2D(relu) and the 2x2 MaxPooling2D it alone feeds run as one kernel;
/// - a ReLU layer whose only consumer is a max-pool leaves its mask to the pool's backward;
/// - a softmax output with a cross-entropy loss: the layer emits logits, the loss owns the softmax;
/// - with Adam, no gradient hook and no clipping, Dense applies the update to its kernel inside
///   backward (its kernel gradient is never stored, so a hook or the gradient norm could not
///   see it: not planned with either; a frozen layer is never fused).
struct TrainingPlan {
    /// What is fused, in words, for `summary` and the tests (`conv2d + max_pooling2d: ...`).
    private(set) var fusions: [String] = []
    private(set) var softmaxFused = false
    private(set) var fusedUpdate: FusedUpdate?
    private(set) var buckets: [GradientBucket] = []
    /// For each layer, the bucket that closes after its backward (-1: none).
    private(set) var bucketClosedAfterLayer: [Int] = []
    /// The layers that draw random numbers in training, in order (seeded per batch by `fit`).
    private(set) var stochasticLayers: [any StochasticLayer] = []
    private var reluMasks: [(source: any ReLUMaskSource, sink: any ReLUMaskSink)] = []
    private var convPools: [(conv: any PoolFusingConvolution, pool: any ConvolutionFusablePool)] = []
    private var logitsLayer: (any SoftmaxFusable)?

    init() {}

    init(model: Model) {
        let n = model.inputs.count
        /// The layer producing tensor `t` when no other layer takes it.
        func soleProducer(_ t: Int) -> (any Layer)? {
            model.isModelInput(t) || model.consumerCounts[t] != 1 ? nil : model.layers[t - n]
        }
        for (j, layer) in model.layers.enumerated() where model.merges[j] == nil {
            let t = model.layerInputs[j][0]
            guard let below = soleProducer(t) else { continue }
            if let sink = layer as? any ReLUMaskSink, let source = below as? any ReLUMaskSource, source.outputIsReLU {
                reluMasks.append((source, sink))
                fusions.append("\(below.name) -> \(layer.name): the ReLU mask applied in the pool's backward")
            }
            if model.fuseLayers, let pool = layer as? any ConvolutionFusablePool, let conv = below as? any PoolFusingConvolution,
               model.layerInputs[t - n].allSatisfy(model.isModelInput), conv.canFuse(with: pool) {
                convPools.append((conv, pool))
                fusions.append("\(below.name) + \(layer.name): one conv+ReLU+pool kernel")
            }
        }
        let output = model.layers[model.outputTensor - n]
        if let last = output as? any SoftmaxFusable, last.activation == .softmax, model.loss.fusesWithSoftmax {
            softmaxFused = true
            logitsLayer = last
            fusions.append("\(output.name): softmax with the \(model.loss.rawValue) loss")
        }
        // Not with a hook or clipping: both must see every gradient before any update.
        if model.fuseLayers, model.gradientHook == nil, model.clipNorm == nil,
           let optimizer = model.optimizer as? any BackwardFusableOptimizer {
            var fused: [(layer: any AdamFusedLayer, offset: Int)] = []
            var fusedRanges: [Range<Int>] = []
            for (j, (layer, offset)) in zip(model.layers, model.parameterOffsets).enumerated() where !model.frozen[j] {
                guard let f = layer as? any AdamFusedLayer, f.fusedParameterCount > 0 else { continue }
                fused.append((f, offset))
                fusedRanges.append(offset..<(offset + f.fusedParameterCount))
                fusions.append("\(layer.name): \(model.optimizer.name) update inside backward")
            }
            // The trainable segments less the fused ranges (both in ascending order).
            var remaining: [Range<Int>] = []
            for segment in model.updateSegments {
                var lo = segment.range.lowerBound
                for r in fusedRanges where r.overlaps(segment.range) {
                    if r.lowerBound > lo { remaining.append(lo..<r.lowerBound) }
                    lo = max(lo, r.upperBound)
                }
                if lo < segment.range.upperBound { remaining.append(lo..<segment.range.upperBound) }
            }
            if !fused.isEmpty { fusedUpdate = FusedUpdate(optimizer: optimizer, layers: fused, remainingRanges: remaining) }
        }
        stochasticLayers = model.layers.compactMap { $0 as? any StochasticLayer }

        // Buckets: walking backward, a bucket closes after the layer whose parameters bring it
        // to the capacity, and the last one after the first layer with parameters.
        bucketClosedAfterLayer = [Int](repeating: -1, count: model.layers.count)
        var upper = model.parameterCount, names: [String] = []
        let lastWithParameters = model.layers.firstIndex { $0.parameterCount > 0 }
        for j in stride(from: model.layers.count - 1, through: 0, by: -1) where model.layers[j].parameterCount > 0 {
            names.append(model.layers[j].name)
            let lower = model.parameterOffsets[j]
            if upper - lower >= model.gradientBucketCapacity || j == lastWithParameters {
                let g = UnsafeMutableBufferPointer(start: model.gradients.pointer + lower, count: upper - lower)
                bucketClosedAfterLayer[j] = buckets.count
                buckets.append(GradientBucket(index: buckets.count, parameterRange: lower..<upper, layerNames: names, gradients: g))
                upper = lower
                names = []
            }
        }
    }

    /// Sets the layers' fusion flags to this plan (clearing any an earlier plan set).
    func apply(to model: Model) {
        for layer in model.layers {
            (layer as? any ReLUMaskSource)?.reluMaskAppliedDownstream = false
            (layer as? any ReLUMaskSink)?.appliesReLUMask = false
            (layer as? any PoolFusingConvolution)?.fusedPool = nil
            (layer as? any ConvolutionFusablePool)?.fusedWithConvolutionBelow = false
            (layer as? any SoftmaxFusable)?.emitsLogits = false
            (layer as? any AdamFusedLayer)?.fusedAdam = nil
        }
        for (source, sink) in reluMasks {
            source.reluMaskAppliedDownstream = true
            sink.appliesReLUMask = true
        }
        for (conv, pool) in convPools {
            conv.fusedPool = pool
            pool.fusedWithConvolutionBelow = true
        }
        logitsLayer?.emitsLogits = true
    }
}

/// An optimiser whose update a layer can apply to its own weights inside backward.
protocol BackwardFusableOptimizer: Optimizer {
    /// Counts a step and returns the constant the update uses (Adam's alpha).
    func beginStep() -> Float
    /// What a layer needs to update the weights at `offset` in the flat arrays itself.
    func fusedUpdate(offset: Int, alpha: Float) -> FusedAdamUpdate
    /// The update of parameters `range` for the step begun by `beginStep`.
    func update(parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>, range: Range<Int>, alpha: Float)
}

extension Adam: BackwardFusableOptimizer {}

/// The planned in-backward update: the layers that apply it and the ranges left to the optimiser.
final class FusedUpdate {
    let optimizer: any BackwardFusableOptimizer
    let layers: [(layer: any AdamFusedLayer, offset: Int)]
    let remainingRanges: [Range<Int>]
    private(set) var alpha: Float = 0

    init(optimizer: any BackwardFusableOptimizer, layers: [(layer: any AdamFusedLayer, offset: Int)], remainingRanges: [Range<Int>]) {
        self.optimizer = optimizer
        self.layers = layers
        self.remainingRanges = remainingRanges
    }

    /// Begins the optimiser's step and hands the layers their part of it, before backward.
    func begin() {
        alpha = optimizer.beginStep()
        for (layer, offset) in layers { layer.fusedAdam = optimizer.fusedUpdate(offset: offset, alpha: alpha) }
    }

    /// After backward: the layers go back to computing gradients only.
    func end() {
        for (layer, _) in layers { layer.fusedAdam = nil }
    }
}

extension Model {
    /// The fusions the training step runs, in words (empty with `fuseLayers: false` and no
    /// softmax output).
    public var plannedFusions: [String] { plan.fusions }

    /// The gradient buckets of a step, in the order the hook receives them.
    public var gradientBuckets: [GradientBucket] { plan.buckets }
}
