import Foundation
import Synchronization

/// The typed options of one layer type, as they stand in the model JSON beside `type`,
/// `name` and `inputs` (`{"type": "Dense", "units": 128, "activation": "relu"}`).
///
/// Each layer type declares its options in its own file: the JSON type name, the option keys
/// with their types and defaults (its `Codable` conformance), and how the layer is built. The
/// ``LayerRegistry`` lists the types; model JSON parsing, validation, the "known types" of an
/// error message and `summary` all come from it (docs/model-json.md).
public protocol LayerOptions: Codable, Sendable {
    /// The layer's JSON type name (Keras's class name), e.g. `Dense`.
    static var typeName: String { get }
    /// Other type names accepted when parsing (Keras's aliases, e.g. `MaxPool2D`).
    static var aliases: [String] { get }
    /// The option keys this type accepts; any other key is an error naming them.
    static var keys: [String] { get }
    /// The integer sizes among the options (units, filters, kernel, strides), by key, which
    /// ``ModelDescription`` holds to ``ModelDescription/maximumSize``.
    var sizes: [(key: String, value: Int)] { get }
    /// A new layer with these options.
    /// - Throws: ``ModelError`` when an option is out of range.
    func makeLayer() throws -> any Layer
}

extension LayerOptions {
    public static var aliases: [String] { [] }
    public var sizes: [(key: String, value: Int)] { [] }
}

/// One layer in the model JSON: its typed options, its name, and (in the graph form) the
/// tensors it takes. `inputs` nil means "the previous layer's output" (or the model's only
/// input for the first layer), which is all a `Sequential` description needs.
public struct LayerConfiguration: Codable, Equatable, Sendable {
    public var options: any LayerOptions
    public var name: String?
    public var inputs: [String]?

    /// - Parameters:
    ///   - options: the layer type and its options, e.g. `Dense.Options(units: 10)`.
    ///   - name: the instance name; nil lets the model name it (`dense`, `dense_1`, ...).
    ///   - inputs: the names of the tensors it takes (model inputs or earlier layers).
    public init(_ options: some LayerOptions, name: String? = nil, inputs: [String]? = nil) {
        self.options = options
        self.name = name
        self.inputs = inputs
    }

    /// The JSON type name.
    public var type: String { Swift.type(of: options).typeName }

    /// Keys every layer object may carry besides its options.
    static let commonKeys = ["type", "name", "inputs"]

    struct Key: CodingKey {
        let stringValue: String
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: any Decoder) throws {
        let label = ModelDescription.layerLabel(decoder.codingPath)
        let c = try decoder.container(keyedBy: Key.self)
        guard let type = try? c.decode(String.self, forKey: Key("type")) else {
            throw ModelError("\(label): missing 'type' (a string such as \"Dense\")")
        }
        guard let optionsType = LayerRegistry.type(named: type) else {
            throw ModelError("\(label): unknown layer type '\(type)' (known types: \(LayerRegistry.knownTypeNames.joined(separator: ", ")))")
        }
        let allowed = Set(Self.commonKeys + optionsType.keys)
        if let unknown = c.allKeys.map(\.stringValue).filter({ !allowed.contains($0) }).sorted().first {
            let expected = allowed.subtracting(["type"]).sorted().joined(separator: ", ")
            throw ModelError("\(label) (\(type)): unknown option '\(unknown)' (expected \(expected))")
        }
        do {
            name = try c.decodeIfPresent(String.self, forKey: Key("name"))
            inputs = try c.decodeIfPresent([String].self, forKey: Key("inputs"))
            options = try optionsType.init(from: decoder)
        } catch let DecodingError.keyNotFound(key, _) {
            throw ModelError("\(label) (\(type)): missing '\(key.stringValue)'")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context),
                let DecodingError.dataCorrupted(context) {
            let key = context.codingPath.last.map { "'\($0.stringValue)'" } ?? "a value"
            throw ModelError("\(label) (\(type)): \(key) has the wrong type (\(context.debugDescription))")
        } catch let error as ModelError {
            throw ModelError("\(label) (\(type)): \(error.message)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        try options.encode(to: encoder)
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(type, forKey: Key("type"))
        try c.encodeIfPresent(name, forKey: Key("name"))
        try c.encodeIfPresent(inputs, forKey: Key("inputs"))
    }

    /// Options compare by their JSON (they are plain values; two encodings of equal options
    /// are the same bytes with sorted keys).
    public static func == (a: LayerConfiguration, b: LayerConfiguration) -> Bool {
        a.type == b.type && a.name == b.name && a.inputs == b.inputs && a.optionsJSON == b.optionsJSON
    }

    var optionsJSON: Data {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return (try? e.encode(options)) ?? Data()
    }
}

/// The layer types the model JSON knows: the built-in ones, and any a program registers
/// before parsing (Keras's `custom_objects`).
public enum LayerRegistry {
    /// The built-in layer types.
    public static let builtIn: [any LayerOptions.Type] = [
        Conv2D.Options.self, MaxPool2D.Options.self, Flatten.Options.self, Dense.Options.self,
        Dropout.Options.self, ActivationLayer.Options.self, ActivationLayer.ReLUOptions.self,
        ActivationLayer.SoftmaxOptions.self, Add.Options.self, Concatenate.Options.self,
        // The position-wise transformer layers (docs/transformer.md).
        Embedding.Options.self, PositionEmbedding.Options.self, LayerNormalization.Options.self, GELU.Options.self,
        MultiHeadAttention.Options.self,
        QuantizedDense.Options.self, QuantizedConv2D.Options.self, LowRankDense.Options.self,
    ]

    private static let registered = Mutex<[any LayerOptions.Type]>([])

    /// Adds a layer type for model JSON parsing.
    /// - Parameter type: its options type; its ``LayerOptions/typeName`` must not be taken.
    /// - Throws: ``ModelError`` when the name (or an alias) is already known, or an option key
    ///   is one every layer object has (`type`, `name`, `inputs`).
    public static func register(_ type: any LayerOptions.Type) throws {
        if let common = type.keys.first(where: LayerConfiguration.commonKeys.contains) {
            throw ModelError("layer type '\(type.typeName)': option '\(common)' is a key every layer has; name it otherwise")
        }
        try registered.withLock { list in
            let taken = Set((builtIn + list).flatMap { [$0.typeName] + $0.aliases })
            if let clash = ([type.typeName] + type.aliases).first(where: taken.contains) {
                throw ModelError("layer type '\(clash)' is already registered")
            }
            list.append(type)
        }
    }

    /// Every known layer type, built-in first.
    public static var types: [any LayerOptions.Type] { builtIn + registered.withLock { $0 } }

    /// The options type for a JSON type name or alias.
    public static func type(named name: String) -> (any LayerOptions.Type)? {
        types.first { $0.typeName == name || $0.aliases.contains(name) }
    }

    /// Type names and aliases, sorted, for error messages.
    public static var knownTypeNames: [String] { types.flatMap { [$0.typeName] + $0.aliases }.sorted() }
}

// MARK: - Option decoding helpers

extension KeyedDecodingContainer {
    /// Keras's size pairs: one integer (`3`, both dimensions), or a list of one or two.
    /// - Returns: the two values, or `default` when the key is absent.
    func decodePair(_ key: Key, default d: [Int]? = nil) throws -> [Int] {
        if !contains(key) {
            guard let d else { throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "")) }
            return d
        }
        if let n = try? decode(Int.self, forKey: key) { return [n, n] }
        let v = try decode([Int].self, forKey: key)
        switch v.count {
        case 1: return [v[0], v[0]]
        case 2: return v
        default: throw ModelError("'\(key.stringValue)' must be one or two integers, got \(v)")
        }
    }
}
