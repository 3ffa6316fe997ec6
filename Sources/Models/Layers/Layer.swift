import Tensor

/// The activations a layer can apply to its output (Keras's `activation=` strings; `gelu` is
/// the exact erf form, `gelu_tanh` the tanh form, docs/transformer.md).
public enum Activation: String, Codable, Sendable, CaseIterable {
    case linear, relu, sigmoid, tanh, softmax, gelu
    case geluTanh = "gelu_tanh"

    /// True when the backward pass needs the activation's input (GELU) rather than its
    /// output: a layer applying it keeps its pre-activation values.
    public var backwardNeedsInput: Bool { self == .gelu || self == .geluTanh }
}

/// A named parameter tensor of a layer (Keras naming: `kernel`, `bias`).
public struct ParameterSpec: Sendable, Equatable {
    public let name: String
    public let shape: [Int]
    /// Whether weight decay (AdamW) applies: by default to names ending in `kernel` only, not
    /// to biases, normalisation scales or embeddings (docs/transformer.md).
    public let decays: Bool
    public var count: Int { shape.reduce(1, *) }

    /// - Parameters:
    ///   - name: the tensor's name within its layer.
    ///   - shape: its shape.
    ///   - decays: whether weight decay applies (nil: whether `name` ends in `kernel`).
    public init(name: String, shape: [Int], decays: Bool? = nil) {
        self.name = name
        self.shape = shape
        self.decays = decays ?? name.hasSuffix("kernel")
    }
}

/// Multiply-add work of one layer for one sample, in FLOPs (2 per multiply-add), counting
/// the GEMMs only, like the reference figure of 266.7 GFLOP per epoch: bias, activation and
/// pooling passes are memory-bound and left out.
public struct LayerFLOPs: Sendable, Equatable {
    public var forward: Int
    public var weightGradient: Int
    public var inputGradient: Int

    public static let zero = LayerFLOPs(forward: 0, weightGradient: 0, inputGradient: 0)
}

/// A layer of a ``Model``. Layers run on caller-owned buffers: `allocate` sizes every
/// workspace once for the largest batch, so `forward` and `backward` allocate nothing.
///
/// Shapes are per sample, without the batch dimension: images `[H, W, C]`, vectors `[F]`.
/// A layer with several inputs (``Add``, ``Concatenate``) conforms to ``MergeLayer``, which
/// adds the several-input forms of `build`, `allocate`, `forward` and `backward`.
public protocol Layer: AnyObject {
    /// Keras's class name (`Conv2D`, `Dense`, ...), the `type` of the layer in the model JSON.
    var typeName: String { get }
    /// The instance name (`conv2d`, `dense_1`), set by the model.
    var name: String { get set }
    /// The description of this layer in the model JSON format (its typed options).
    var configuration: LayerConfiguration { get }

    /// Checks the input shape and returns the output shape; called once by the model.
    func build(inputShape: [Int]) throws -> [Int]
    var outputShape: [Int] { get }
    var parameters: [ParameterSpec] { get }

    /// Points the layer at its slices of the model's flat parameter and gradient arrays.
    func bind(parameters: UnsafeMutablePointer<Float>, gradients: UnsafeMutablePointer<Float>)
    /// Writes initial values into the bound parameters (Keras's initialisers).
    func initializeParameters(rng: inout Xoshiro256)
    /// Sizes the workspaces for batches of up to `maxBatch`; `needsInputGradient` is false
    /// for the first layer, whose input gradient nobody reads.
    func allocate(maxBatch: Int, needsInputGradient: Bool)

    /// Computes the output for `batch` samples; the result stays valid until the next call.
    func forward(_ input: UnsafePointer<Float>, batch: Int, training: Bool) -> UnsafePointer<Float>
    /// Takes the gradient of the loss with respect to this layer's output (the layer may
    /// overwrite it), writes its parameter gradients, and returns the gradient with respect to
    /// its input (nil when allocated without one).
    func backward(_ outputGradient: UnsafeMutablePointer<Float>, batch: Int) -> UnsafeMutablePointer<Float>?

    /// GEMM work per sample.
    var flopsPerSample: LayerFLOPs { get }
}

/// A layer whose output activation may be softmax, which the model can hand to a
/// cross-entropy loss to fuse (the layer then emits logits; gradient `(p - onehot) / B`).
public protocol SoftmaxFusable: Layer {
    var activation: Activation { get }
    var emitsLogits: Bool { get set }
}

extension SoftmaxFusable {
    /// The activation this layer applies itself: none when its softmax is left to the loss.
    var appliedActivation: Activation { activation == .softmax && emitsLogits ? .linear : activation }
}

extension Layer {
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }
    public var outputCount: Int { outputShape.reduce(1, *) }
}

/// A layer that can run one position of one sequence at a time, for generation
/// (docs/transformer.md): position-wise layers apply themselves to one row, attention keeps
/// the keys and values of the positions before (a key/value cache).
public protocol IncrementalLayer: Layer {
    /// Prepares to decode one sequence of up to `maxLength` positions: sizes what a step
    /// needs and clears any cache.
    func beginDecoding(maxLength: Int)
    /// The output row of position `position` (0-based, one more than the previous call's or 0
    /// after `beginDecoding`) from its input rows: `inputs[k]` is input k's row at that
    /// position (one token id for `Embedding`). The result stays valid until the next call.
    func decodeStep(_ inputs: UnsafePointer<UnsafePointer<Float>>, count: Int, position: Int) -> UnsafePointer<Float>
    /// Whether one position's output depends only on it and the positions before (false for
    /// bidirectional attention, which a left-to-right generator cannot run).
    var decodesLeftToRight: Bool { get }
}

extension IncrementalLayer {
    public var decodesLeftToRight: Bool { true }
}

/// A layer over several inputs of the same batch (``Add``, ``Concatenate``). The model calls
/// only these forms; the single-input requirements of ``Layer`` come from the extension below
/// and refuse a single input at `build`.
public protocol MergeLayer: Layer {
    /// Checks the input shapes (at least two) and returns the output shape.
    /// - Throws: ``ModelError`` when the shapes cannot be merged.
    func build(inputShapes: [[Int]]) throws -> [Int]
    /// Sizes the workspaces; `needsInputGradients[k]` is false for an input nobody differentiates.
    func allocate(maxBatch: Int, needsInputGradients: [Bool])
    /// Computes the output from `inputs[0..<count]` (one pointer per input, in order).
    func forward(inputs: UnsafePointer<UnsafePointer<Float>>, count: Int, batch: Int, training: Bool) -> UnsafePointer<Float>
    /// Takes the gradient of the loss with respect to the output (the layer may overwrite it)
    /// and writes into `inputGradients[k]` the gradient with respect to input `k`: a buffer
    /// that no other input's entry shares (the model may add into it), or nil when not needed.
    func backward(_ outputGradient: UnsafeMutablePointer<Float>, batch: Int,
                  inputGradients: UnsafeMutablePointer<UnsafeMutablePointer<Float>?>, count: Int)
}

extension MergeLayer {
    public func build(inputShape: [Int]) throws -> [Int] { try build(inputShapes: [inputShape]) }
    public func allocate(maxBatch: Int, needsInputGradient: Bool) {
        allocate(maxBatch: maxBatch, needsInputGradients: [needsInputGradient])
    }
    public func forward(_ input: UnsafePointer<Float>, batch: Int, training: Bool) -> UnsafePointer<Float> {
        preconditionFailure("\(typeName) merges several inputs; the model calls forward(inputs:count:batch:training:)")
    }
    public func backward(_ outputGradient: UnsafeMutablePointer<Float>, batch: Int) -> UnsafeMutablePointer<Float>? {
        preconditionFailure("\(typeName) merges several inputs; the model calls backward(_:batch:inputGradients:count:)")
    }
}

// MARK: - Capabilities the training plan fuses on (see docs/architecture.md)

/// A layer whose output may end in a ReLU that the layer consuming it applies as a mask in
/// its own backward pass (one pass over the gradient instead of two).
protocol ReLUMaskSource: Layer {
    /// True when the output is ReLU'd (the mask can be taken from the consumer's output).
    var outputIsReLU: Bool { get }
    /// Set by the plan: the consumer applies the mask, so this layer's backward skips it.
    var reluMaskAppliedDownstream: Bool { get set }
}

/// A layer that can apply the ReLU mask of the layer below in its backward pass.
protocol ReLUMaskSink: Layer {
    var appliesReLUMask: Bool { get set }
}

/// A 2x2 max-pool that a convolution below may compute inside its own fused kernel.
protocol ConvolutionFusablePool: Layer {
    var poolGeometry: PoolGeometry { get }
    var outputPointer: UnsafeMutablePointer<Float> { get }
    var argmaxPointer: UnsafeMutablePointer<Int32> { get }
    /// Set by the plan: forward returns what the convolution wrote, backward passes through.
    var fusedWithConvolutionBelow: Bool { get set }
}

/// A first-layer convolution that can run fused with the pool above it (no input gradient).
protocol PoolFusingConvolution: Layer {
    func canFuse(with pool: any ConvolutionFusablePool) -> Bool
    /// Set by the plan; nil runs the layer by itself.
    var fusedPool: (any ConvolutionFusablePool)? { get set }
}

// MARK: - Memory the model shares between layers (docs/architecture.md, "Memory of a training step")

/// A layer whose backward pass needs scratch memory only while it runs (a transposed gradient, the
/// attention's gradients of its heads and projections). Backward passes run one at a time, so
/// the model hands every such layer one buffer sized for the largest need instead of one each.
protocol SharedScratchLayer: Layer {
    /// Floats of scratch one backward pass needs for batches of up to `maxBatch` (after `build`).
    func backwardScratchCount(maxBatch: Int) -> Int
    /// Set by the model before `allocate`: the shared scratch, at least
    /// `backwardScratchCount(maxBatch:)` floats. Nil: the layer allocates its own.
    var sharedScratch: UnsafeMutablePointer<Float>? { get set }
}

/// A layer that writes its input gradients into buffers the model lends it for each backward
/// pass, from a pool whose buffers are reused once the gradient they held has been consumed,
/// instead of owning one buffer per input for the whole step.
protocol GradientBorrowingLayer: Layer {
    /// Set by the model before `allocate`: the layer then allocates no input-gradient buffers
    /// and its backward writes into `lentGradients`. Run by itself (its backward called with
    /// no buffers lent), the layer makes its own at the first call.
    var borrowsGradients: Bool { get set }
    /// After `allocate`: values per sample of each buffer backward writes, in the order of
    /// `lentGradients` (empty: none).
    var lentGradientCounts: [Int] { get }
    /// Set by the model once per `allocate`: a table of `lentGradientCounts.count` pointers
    /// that the model fills right before each backward call and empties (nil) after it.
    var lentGradients: UnsafeMutablePointer<UnsafeMutablePointer<Float>?>? { get set }
}

/// A layer whose output the model may place in memory shared with other layers' short-lived
/// outputs, when nothing reads it after the forward passes of the layers that take it: its
/// own backward does not, and each consumer keeps no input (``InputFreeBackward``) or
/// recomputes it (``InputRecomputingLayer``).
protocol TransientOutputLayer: Layer {
    /// Whether backward reads the output (a ReLU's mask, a sigmoid's derivative).
    var backwardReadsOutput: Bool { get }
    /// Set by the model before `allocate`: where forward writes the output (room for the
    /// allocated batch). Nil: the layer's own buffer.
    var transientOutput: UnsafeMutablePointer<Float>? { get set }
}

/// A layer whose backward reads none of its inputs (``Add``, ``Concatenate``).
protocol InputFreeBackward: Layer {}

/// A layer that can compute its last forward output again, into a given buffer, from what it
/// keeps for its own backward (Dense with GELU, from its pre-activation).
protocol OutputRecomputable: Layer {
    /// Whether the last output can be recomputed (the layer keeps what it needs).
    var canRecomputeOutput: Bool { get }
    /// Writes the last forward pass's output for `batch` samples into `destination`.
    func recomputeOutput(into destination: UnsafeMutablePointer<Float>, batch: Int)
}

/// A layer whose backward can take its input from the layer below recomputing it
/// (``OutputRecomputable``) instead of keeping the forward pass's pointer to it.
protocol InputRecomputingLayer: Layer {
    /// Set by the model before `backwardScratchCount` and `allocate`: the producer of the
    /// input, to be asked for it again in backward. Nil: the input is kept.
    var inputRecomputedBy: (any OutputRecomputable)? { get set }
}

/// A layer that draws random numbers in training (dropout masks); `fit` seeds it per batch.
protocol StochasticLayer: Layer {
    var rng: Xoshiro256 { get set }
}

/// A layer with no parameters (pooling, flatten, dropout, activation).
public protocol ParameterFreeLayer: Layer {}

extension ParameterFreeLayer {
    public var parameters: [ParameterSpec] { [] }
    public func bind(parameters: UnsafeMutablePointer<Float>, gradients: UnsafeMutablePointer<Float>) {}
    public func initializeParameters(rng: inout Xoshiro256) {}
    public var flopsPerSample: LayerFLOPs { .zero }
}

/// Errors in a model's structure: an impossible shape, an unknown layer or option.
public struct ModelError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Applies a non-fused activation in place over `count` elements laid out as (rows, columns).
/// For an activation whose backward needs its input (``Activation/backwardNeedsInput``) the
/// caller keeps a copy of x first, or uses ``activationForward(_:_:into:rows:columns:)``.
func activationForward(_ a: Activation, _ x: UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
    activationForward(a, UnsafePointer(x), into: x, rows: rows, columns: columns)
}

/// Applies an activation from x into y (which may alias x), both (rows, columns).
func activationForward(_ a: Activation, _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
    let n = rows * columns
    if x != UnsafePointer(y), !a.backwardNeedsInput { y.update(from: x, count: n) }
    switch a {
    case .linear: break
    case .relu: reluForward(y, y, count: n)
    case .sigmoid: sigmoidForward(y, y, count: n)
    case .tanh: tanhForward(y, y, count: n)
    case .softmax: softmaxForward(y, y, rows: rows, columns: columns)
    case .gelu: geluForward(x, y, count: n, approximate: false)
    case .geluTanh: geluForward(x, y, count: n, approximate: true)
    }
}

/// Turns the gradient with respect to an activation's output into the gradient with respect
/// to its input, in place, from the activation's output y (and, for GELU, its input x, which
/// such a caller must pass: ``Activation/backwardNeedsInput``).
func activationBackward(_ a: Activation, _ dy: UnsafeMutablePointer<Float>, output y: UnsafePointer<Float>,
                        input x: UnsafePointer<Float>? = nil, rows: Int, columns: Int) {
    let n = rows * columns
    switch a {
    case .linear: break
    case .relu: reluBackward(dy, output: y, dy, count: n)
    case .sigmoid: sigmoidBackward(dy, output: y, dy, count: n)
    case .tanh: tanhBackward(dy, output: y, dy, count: n)
    case .softmax: softmaxBackward(dy, output: y, dy, rows: rows, columns: columns)
    case .gelu: geluBackward(dy, input: x!, dy, count: n, approximate: false)
    case .geluTanh: geluBackward(dy, input: x!, dy, count: n, approximate: true)
    }
}
