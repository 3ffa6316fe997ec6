import Tensor

/// Adds its inputs elementwise (Keras's `Add`): the residual connection. Every input has
/// the same shape; the gradient of each input is the output's gradient.
public final class Add: ParameterFreeLayer, MergeLayer, IncrementalLayer, GradientBorrowingLayer, InputFreeBackward {
    public var typeName: String { Options.typeName }
    public var name = "add"
    private var shape: [Int] = []
    private var output: FloatBuffer!
    /// One buffer per input after the first that needs a gradient: the model adds into the
    /// gradient it receives, so two inputs may not share one buffer.
    private var gradientCopies: [FloatBuffer?] = []
    /// For each input, whether it takes a copy of the output's gradient.
    private var takesCopy: [Bool] = []
    var borrowsGradients = false
    var lentGradients: UnsafeMutablePointer<UnsafeMutablePointer<Float>?>?
    private var maxBatch = 0
    var lentGradientCounts: [Int] { takesCopy.filter { $0 }.map { _ in outputCount } }

    public init() {}

    public var configuration: LayerConfiguration { LayerConfiguration(Options(), name: name) }

    public func build(inputShapes: [[Int]]) throws -> [Int] {
        guard inputShapes.count >= 2 else { throw ModelError("\(name): Add needs at least two inputs, got \(inputShapes.count)") }
        guard inputShapes.allSatisfy({ $0 == inputShapes[0] }) else {
            throw ModelError("\(name): Add needs inputs of one shape, got \(inputShapes.map { "\($0)" }.joined(separator: ", "))")
        }
        shape = inputShapes[0]
        return shape
    }

    public var outputShape: [Int] { shape }

    public func allocate(maxBatch: Int, needsInputGradients: [Bool]) {
        output = FloatBuffer(count: maxBatch * outputCount)
        let first = needsInputGradients.firstIndex(of: true)
        self.maxBatch = maxBatch
        takesCopy = needsInputGradients.indices.map { k in needsInputGradients[k] && k != first }
        gradientCopies = takesCopy.map { $0 && !borrowsGradients ? FloatBuffer(count: maxBatch * outputCount) : nil }
        firstNeedingGradient = first
    }

    // inputs k (B, ...) -> output (B, ...) = sum over k
    public func forward(inputs: UnsafePointer<UnsafePointer<Float>>, count: Int, batch: Int, training: Bool) -> UnsafePointer<Float> {
        let n = batch * outputCount, y = output.pointer
        y.update(from: inputs[0], count: n)
        for k in 1..<count {
            let x = inputs[k]
            for i in 0..<n { y[i] += x[i] }
        }
        return UnsafePointer(y)
    }

    // The first input that needs a gradient takes `dout` itself; the others get copies.
    public func backward(_ dout: UnsafeMutablePointer<Float>, batch: Int,
                         inputGradients: UnsafeMutablePointer<UnsafeMutablePointer<Float>?>, count: Int) {
        var lent = 0
        for k in 0..<count {
            if takesCopy[k] {
                var copy = lentGradients?[lent]
                lent += 1
                if copy == nil {
                    if gradientCopies[k] == nil { gradientCopies[k] = FloatBuffer(count: maxBatch * outputCount) }
                    copy = gradientCopies[k]!.pointer
                }
                copy!.update(from: dout, count: batch * outputCount)
                inputGradients[k] = copy
            } else {
                inputGradients[k] = k == firstNeedingGradient ? dout : nil
            }
        }
    }
    private var firstNeedingGradient: Int?
    private var stepOutput: FloatBuffer?

    public func beginDecoding(maxLength: Int) { stepOutput = FloatBuffer(count: shape.last ?? 1) }

    /// The sum of the inputs' rows at this position.
    public func decodeStep(_ inputs: UnsafePointer<UnsafePointer<Float>>, count: Int, position: Int) -> UnsafePointer<Float> {
        if stepOutput == nil { beginDecoding(maxLength: position + 1) }
        let n = shape.last ?? 1, y = stepOutput!.pointer
        y.update(from: inputs[0], count: n)
        for k in 1..<count {
            let x = inputs[k]
            for i in 0..<n { y[i] += x[i] }
        }
        return UnsafePointer(y)
    }
}

extension Add {
    /// `{"type": "Add", "inputs": ["a", "b"]}`: no options; two or more inputs of one shape.
    public struct Options: LayerOptions {
        public static let typeName = "Add"
        public static let keys: [String] = []
        public init() {}
        public func makeLayer() -> any Layer { Add() }
    }
}

/// Joins its inputs along the last axis (Keras's `Concatenate`, `axis=-1`): inputs agree in
/// every other dimension; the output's last dimension is the sum of theirs.
public final class Concatenate: ParameterFreeLayer, MergeLayer, InputFreeBackward {
    public var typeName: String { Options.typeName }
    public var name = "concatenate"
    private var shape: [Int] = []
    /// Each input's last dimension, and the number of rows (all dimensions but the last) per sample.
    private var widths: [Int] = []
    private var rowsPerSample = 0
    private var output: FloatBuffer!
    private var inputGradientBuffers: [FloatBuffer?] = []

    public init() {}

    public var configuration: LayerConfiguration { LayerConfiguration(Options(), name: name) }

    public func build(inputShapes: [[Int]]) throws -> [Int] {
        guard inputShapes.count >= 2 else {
            throw ModelError("\(name): Concatenate needs at least two inputs, got \(inputShapes.count)")
        }
        let leading = inputShapes[0].dropLast()
        guard inputShapes.allSatisfy({ !$0.isEmpty && $0.dropLast() == leading }) else {
            throw ModelError("\(name): Concatenate needs inputs that differ only in the last dimension, got \(inputShapes.map { "\($0)" }.joined(separator: ", "))")
        }
        widths = inputShapes.map { $0.last! }
        rowsPerSample = leading.reduce(1, *)
        shape = Array(leading) + [widths.reduce(0, +)]
        return shape
    }

    public var outputShape: [Int] { shape }

    public func allocate(maxBatch: Int, needsInputGradients: [Bool]) {
        output = FloatBuffer(count: maxBatch * outputCount)
        inputGradientBuffers = zip(needsInputGradients, widths).map { needed, w in
            needed ? FloatBuffer(count: maxBatch * rowsPerSample * w) : nil
        }
    }

    // inputs k (B, ..., Wk) -> output (B, ..., sum Wk)
    public func forward(inputs: UnsafePointer<UnsafePointer<Float>>, count: Int, batch: Int, training: Bool) -> UnsafePointer<Float> {
        let rows = batch * rowsPerSample, total = shape.last!, y = output.pointer
        var column = 0
        for k in 0..<count {
            let w = widths[k], x = inputs[k]
            for r in 0..<rows { (y + r * total + column).update(from: x + r * w, count: w) }
            column += w
        }
        return UnsafePointer(y)
    }

    public func backward(_ dout: UnsafeMutablePointer<Float>, batch: Int,
                         inputGradients: UnsafeMutablePointer<UnsafeMutablePointer<Float>?>, count: Int) {
        let rows = batch * rowsPerSample, total = shape.last!
        var column = 0
        for k in 0..<count {
            let w = widths[k]
            if let g = inputGradientBuffers[k]?.pointer {
                for r in 0..<rows { (g + r * w).update(from: dout + r * total + column, count: w) }
                inputGradients[k] = g
            } else {
                inputGradients[k] = nil
            }
            column += w
        }
    }
}

extension Concatenate {
    /// `{"type": "Concatenate", "inputs": ["a", "b"]}`: joins along the last axis (`axis` -1,
    /// the only one supported).
    public struct Options: LayerOptions {
        public static let typeName = "Concatenate"
        public static var keys: [String] { CodingKeys.allCases.map(\.rawValue) }
        public var axis: Int

        public init(axis: Int = -1) { self.axis = axis }

        enum CodingKeys: String, CodingKey, CaseIterable { case axis }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            axis = try c.decodeIfPresent(Int.self, forKey: .axis) ?? -1
            guard axis == -1 else { throw ModelError("'axis' must be -1 (the last axis), got \(axis)") }
        }

        public func makeLayer() -> any Layer { Concatenate() }
    }
}
