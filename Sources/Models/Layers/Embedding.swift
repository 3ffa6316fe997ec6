import Tensor

/// A token embedding (Keras's `Embedding`): input `[T]` token ids stored as Floats, output
/// `[T, output_dim]`, row t being row `id_t` of `embeddings` `[input_dim, output_dim]`
/// (normal, sd 0.02; docs/transformer.md). An id that is not a whole number in
/// `0..<input_dim` (negative, too large, fractional, NaN) reads nothing: its output row is
/// zeros and it takes no gradient, so bad data can never read outside the table. The ids
/// have no gradient (the layer returns none).
public final class Embedding: Layer, IncrementalLayer, TransientOutputLayer {
    public var typeName: String { Options.typeName }
    public var name = "embedding"
    public let inputDim: Int, outputDim: Int
    public private(set) var sequenceLength = 0
    private var table: UnsafeMutablePointer<Float>!, dTable: UnsafeMutablePointer<Float>!
    private var output: FloatBuffer?, stepOutput: FloatBuffer?
    var transientOutput: UnsafeMutablePointer<Float>?
    /// Backward reads the ids only.
    var backwardReadsOutput: Bool { false }
    private var ids: UnsafePointer<Float>!

    /// - Parameters:
    ///   - inputDim: the vocabulary size (rows of the table).
    ///   - outputDim: features per token.
    public init(inputDim: Int, outputDim: Int) {
        self.inputDim = inputDim
        self.outputDim = outputDim
    }

    public var configuration: LayerConfiguration {
        LayerConfiguration(Options(inputDim: inputDim, outputDim: outputDim), name: name)
    }

    public func build(inputShape: [Int]) throws -> [Int] {
        guard inputDim > 0, outputDim > 0 else {
            throw ModelError("\(name): Embedding needs positive input_dim and output_dim, got \(inputDim) and \(outputDim)")
        }
        guard inputShape.count == 1, inputShape[0] > 0 else {
            throw ModelError("\(name): Embedding needs token ids of shape [T], got shape \(inputShape)")
        }
        sequenceLength = inputShape[0]
        return outputShape
    }

    public var outputShape: [Int] { [sequenceLength, outputDim] }
    public var parameters: [ParameterSpec] { [ParameterSpec(name: "embeddings", shape: [inputDim, outputDim])] }

    public func bind(parameters: UnsafeMutablePointer<Float>, gradients: UnsafeMutablePointer<Float>) {
        table = parameters; dTable = gradients
    }

    public func initializeParameters(rng: inout Xoshiro256) {
        Initializer.normal(.init(start: table, count: inputDim * outputDim), standardDeviation: 0.02, rng: &rng)
    }

    public func allocate(maxBatch: Int, needsInputGradient: Bool) {
        output = transientOutput == nil ? FloatBuffer(count: maxBatch * sequenceLength * outputDim) : nil
    }

    // ids (B, T) -> output (B, T, D)
    public func forward(_ input: UnsafePointer<Float>, batch: Int, training: Bool) -> UnsafePointer<Float> {
        ids = input
        let y = transientOutput ?? output!.pointer
        embeddingForward(input, table: table, y, count: batch * sequenceLength, tableRows: inputDim, columns: outputDim)
        return UnsafePointer(y)
    }

    /// Zeroes the table's gradient and adds each token's output-gradient row to its id's row.
    public func backward(_ dout: UnsafeMutablePointer<Float>, batch: Int) -> UnsafeMutablePointer<Float>? {
        embeddingBackward(dout, ids: ids, dtable: dTable, count: batch * sequenceLength, tableRows: inputDim, columns: outputDim)
        return nil
    }

    /// A gather: no multiply-adds.
    public var flopsPerSample: LayerFLOPs { .zero }

    public func beginDecoding(maxLength: Int) { stepOutput = FloatBuffer(count: outputDim) }

    /// The row of the token id `inputs[0][0]`.
    public func decodeStep(_ inputs: UnsafePointer<UnsafePointer<Float>>, count: Int, position: Int) -> UnsafePointer<Float> {
        if stepOutput == nil { beginDecoding(maxLength: position + 1) }
        embeddingForward(inputs[0], table: table, stepOutput!.pointer, count: 1, tableRows: inputDim, columns: outputDim)
        return UnsafePointer(stepOutput!.pointer)
    }
}

extension Embedding {
    /// `{"type": "Embedding", "input_dim": 256, "output_dim": 128}`: both required.
    public struct Options: LayerOptions {
        public static let typeName = "Embedding"
        public static var keys: [String] { CodingKeys.allCases.map(\.rawValue) }
        public var inputDim: Int
        public var outputDim: Int

        public init(inputDim: Int, outputDim: Int) {
            self.inputDim = inputDim
            self.outputDim = outputDim
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case inputDim = "input_dim", outputDim = "output_dim"
        }

        public var sizes: [(key: String, value: Int)] { [("input_dim", inputDim), ("output_dim", outputDim)] }
        public func makeLayer() -> any Layer { Embedding(inputDim: inputDim, outputDim: outputDim) }
    }
}

/// Learned absolute positions (GPT-2's `wpe`): `[T, D]` -> `[T, D]`, adding row t of
/// `embeddings` `[sequence_length, D]` (normal, sd 0.02) to position t. `sequence_length`
/// defaults to the input's T and must be at least T (docs/transformer.md). The input
/// gradient is the output gradient itself.
public final class PositionEmbedding: Layer, IncrementalLayer, InputFreeBackward {
    public var typeName: String { Options.typeName }
    public var name = "position_embedding"
    /// The option as given (nil: the input's T).
    public let requestedLength: Int?
    /// Rows of the table, after `build`: the most positions a sequence may have.
    public private(set) var sequenceLength = 0
    private var positions = 0, features = 0
    private var table: UnsafeMutablePointer<Float>!, dTable: UnsafeMutablePointer<Float>!
    private var output: FloatBuffer!, stepOutput: FloatBuffer?

    /// - Parameter sequenceLength: rows of the table; nil for the input's T.
    public init(sequenceLength: Int? = nil) { requestedLength = sequenceLength }

    public var configuration: LayerConfiguration {
        LayerConfiguration(Options(sequenceLength: requestedLength), name: name)
    }

    public func build(inputShape: [Int]) throws -> [Int] {
        guard inputShape.count == 2, inputShape.allSatisfy({ $0 > 0 }) else {
            throw ModelError("\(name): PositionEmbedding needs a sequence input [T, D], got shape \(inputShape)")
        }
        positions = inputShape[0]; features = inputShape[1]
        let length = requestedLength ?? positions
        guard length >= positions else {
            throw ModelError("\(name): sequence_length must be at least the input's \(positions) positions, got \(length)")
        }
        sequenceLength = length
        return outputShape
    }

    public var outputShape: [Int] { [positions, features] }
    public var parameters: [ParameterSpec] { [ParameterSpec(name: "embeddings", shape: [sequenceLength, features])] }

    public func bind(parameters: UnsafeMutablePointer<Float>, gradients: UnsafeMutablePointer<Float>) {
        table = parameters; dTable = gradients
    }

    public func initializeParameters(rng: inout Xoshiro256) {
        Initializer.normal(.init(start: table, count: sequenceLength * features), standardDeviation: 0.02, rng: &rng)
    }

    public func allocate(maxBatch: Int, needsInputGradient: Bool) {
        output = FloatBuffer(count: maxBatch * positions * features)
    }

    // input (B, T, D) -> output (B, T, D)
    public func forward(_ input: UnsafePointer<Float>, batch: Int, training: Bool) -> UnsafePointer<Float> {
        positionEmbeddingForward(input, table: table, output.pointer, batch: batch, positions: positions, columns: features)
        return UnsafePointer(output.pointer)
    }

    public func backward(_ dout: UnsafeMutablePointer<Float>, batch: Int) -> UnsafeMutablePointer<Float>? {
        positionEmbeddingBackward(dout, dtable: dTable, batch: batch, positions: positions, tableRows: sequenceLength, columns: features)
        return dout
    }

    public var flopsPerSample: LayerFLOPs { .zero }

    public func beginDecoding(maxLength: Int) {
        precondition(maxLength <= sequenceLength, "\(name): decoding \(maxLength) positions, the table has \(sequenceLength)")
        stepOutput = FloatBuffer(count: features)
    }

    /// The input row plus position `position`'s row (`position < sequenceLength`: the caller
    /// decodes at most ``sequenceLength`` positions).
    public func decodeStep(_ inputs: UnsafePointer<UnsafePointer<Float>>, count: Int, position: Int) -> UnsafePointer<Float> {
        precondition(position < sequenceLength, "\(name): position \(position) is past the table's \(sequenceLength) rows")
        if stepOutput == nil { beginDecoding(maxLength: position + 1) }
        positionEmbeddingForward(inputs[0], table: table + position * features, stepOutput!.pointer,
                                 batch: 1, positions: 1, columns: features)
        return UnsafePointer(stepOutput!.pointer)
    }
}

extension PositionEmbedding {
    /// `{"type": "PositionEmbedding", "sequence_length": 128}`: `sequence_length` optional
    /// (the input's T), at least T.
    public struct Options: LayerOptions {
        public static let typeName = "PositionEmbedding"
        public static var keys: [String] { CodingKeys.allCases.map(\.rawValue) }
        public var sequenceLength: Int?

        public init(sequenceLength: Int? = nil) { self.sequenceLength = sequenceLength }

        enum CodingKeys: String, CodingKey, CaseIterable { case sequenceLength = "sequence_length" }

        public var sizes: [(key: String, value: Int)] { sequenceLength.map { [("sequence_length", $0)] } ?? [] }
        public func makeLayer() -> any Layer { PositionEmbedding(sequenceLength: sequenceLength) }
    }
}
