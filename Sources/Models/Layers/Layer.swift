import Tensor

/// The activations a layer can apply to its output (Keras's `activation=` strings).
public enum Activation: String, Codable, Sendable, CaseIterable {
    case linear, relu, sigmoid, tanh, softmax
}

/// A named parameter tensor of a layer (Keras naming: `kernel`, `bias`).
public struct ParameterSpec: Sendable, Equatable {
    public let name: String
    public let shape: [Int]
    public var count: Int { shape.reduce(1, *) }
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

/// A layer of a `Sequential` model. Layers run on caller-owned buffers: `allocate` sizes
/// every workspace once for the largest batch, so `forward` and `backward` allocate nothing.
///
/// Shapes are per sample, without the batch dimension: images `[H, W, C]`, vectors `[F]`.
public protocol Layer: AnyObject {
    /// Keras's class name (`Conv2D`, `Dense`, ...).
    var typeName: String { get }
    /// The instance name (`conv2d`, `dense_1`), set by the model.
    var name: String { get set }
    /// The description of this layer in the model JSON format.
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
func activationForward(_ a: Activation, _ x: UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
    let n = rows * columns
    switch a {
    case .linear: break
    case .relu: reluForward(x, x, count: n)
    case .sigmoid: sigmoidForward(x, x, count: n)
    case .tanh: tanhForward(x, x, count: n)
    case .softmax: softmaxForward(x, x, rows: rows, columns: columns)
    }
}

/// Turns the gradient with respect to an activation's output into the gradient with respect
/// to its input, in place, from the activation's output y.
func activationBackward(_ a: Activation, _ dy: UnsafeMutablePointer<Float>, output y: UnsafePointer<Float>, rows: Int, columns: Int) {
    let n = rows * columns
    switch a {
    case .linear: break
    case .relu: reluBackward(dy, output: y, dy, count: n)
    case .sigmoid: sigmoidBackward(dy, output: y, dy, count: n)
    case .tanh: tanhBackward(dy, output: y, dy, count: n)
    case .softmax: softmaxBackward(dy, output: y, dy, rows: rows, columns: columns)
    }
}
