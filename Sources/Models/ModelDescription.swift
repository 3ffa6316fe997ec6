import Foundation
import Tensor

/// A `Sequential` stack in JSON: the input shape and the layers with Keras's option names.
///
/// ```json
/// {"name": "cnn", "input_shape": [28, 28, 1],
///  "layers": [{"type": "Conv2D", "filters": 32, "kernel_size": [3, 3], "activation": "relu"},
///             {"type": "MaxPooling2D", "pool_size": [2, 2]},
///             {"type": "Flatten"},
///             {"type": "Dense", "units": 128, "activation": "relu"},
///             {"type": "Dense", "units": 10, "activation": "softmax"}],
///  "loss": "sparse_categorical_crossentropy"}
/// ```
/// The built-in models (`cnn`, `mlp`) are defined in this format.
public struct ModelDescription: Codable, Equatable, Sendable {
    public var name: String
    public var inputShape: [Int]
    public var layers: [LayerConfiguration]
    public var loss: Loss

    public init(name: String, inputShape: [Int], layers: [LayerConfiguration], loss: Loss = .sparseCategoricalCrossentropy) {
        self.name = name
        self.inputShape = inputShape
        self.layers = layers
        self.loss = loss
    }

    enum CodingKeys: String, CodingKey {
        case name, layers, loss
        case inputShape = "input_shape"
    }

    /// The seed's CNN: Conv2D 32 3x3 relu, MaxPool 2, Flatten, Dense 128 relu, Dense 10 softmax.
    public static let cnn = ModelDescription(name: "cnn", inputShape: [28, 28, 1], layers: [
        LayerConfiguration(type: "Conv2D", filters: 32, kernelSize: [3, 3], activation: .relu),
        LayerConfiguration(type: "MaxPooling2D", poolSize: [2, 2]),
        LayerConfiguration(type: "Flatten"),
        LayerConfiguration(type: "Dense", units: 128, activation: .relu),
        LayerConfiguration(type: "Dense", units: 10, activation: .softmax),
    ])

    /// The seed's section 4.3 network: 784 inputs, 100 hidden units, 10 outputs.
    public static let mlp = ModelDescription(name: "mlp", inputShape: [28, 28, 1], layers: [
        LayerConfiguration(type: "Flatten"),
        LayerConfiguration(type: "Dense", units: 100, activation: .relu),
        LayerConfiguration(type: "Dense", units: 10, activation: .softmax),
    ])

    public static let builtIn: [String: ModelDescription] = ["cnn": cnn, "mlp": mlp]

    /// The same model for another input shape and class count (a `--dataset` with other
    /// image sizes or classes): the first dimensions follow the data and the last Dense
    /// layer's units follow the classes, when that layer is the classifier.
    public func adapted(inputShape newShape: [Int], classes: Int) -> ModelDescription {
        var d = self
        d.inputShape = newShape
        if let i = d.layers.lastIndex(where: { $0.type == "Dense" }), i == d.layers.count - 1 || d.layers[(i + 1)...].allSatisfy({ $0.type == "Activation" }) {
            d.layers[i].units = classes
        }
        return d
    }

    /// Builds the layers (Glorot-uniform kernels from `seed`).
    ///
    /// Errors: a layer option missing or out of range, shapes that do not fit, or sizes beyond
    /// ``maximumSize``, ``maximumParameters`` or ``maximumValuesPerSample``.
    public func makeModel(seed: UInt64 = 0, fuseLayers: Bool = true) throws -> Sequential {
        let built = try layers.enumerated().map { i, c in try Self.layer(c, index: i) }
        try Self.checkSizes(inputShape: inputShape, layers: built)
        let model = try Sequential(name: name, inputShape: inputShape, layers: built, seed: seed, fuseLayers: fuseLayers)
        model.compile(loss: loss)
        return model
    }

    /// Largest input dimension and layer option (units, filters, kernel, stride, pool). With
    /// 2^15 a Conv2D kernel (kh * kw * cin * filters) stays below 2^63 for any input a
    /// description can give, so the layers' size arithmetic cannot overflow.
    public static let maximumSize = 1 << 15
    /// Largest parameter count: 2^26 float32 is 256 MiB of weights (1 GiB with gradients and
    /// Adam's two moments), a hundred times the built-in CNN.
    public static let maximumParameters = 1 << 26
    /// Largest number of values one sample gives any layer (its input, output or Conv2D patch
    /// matrix): 2^24 float32 is 64 MiB per sample, before a batch multiplies it.
    public static let maximumValuesPerSample = 1 << 24

    /// Walks the shapes as `Sequential` will, checking every size before it is used, so a
    /// description with absurd sizes is an error rather than an overflow trap or a failed
    /// allocation inside a layer. `build` only computes shapes; nothing is allocated here.
    static func checkSizes(inputShape: [Int], layers: [any Layer]) throws {
        let product = Safetensors.elementCount   // nil on overflow
        if let d = inputShape.first(where: { $0 > maximumSize }) {
            throw ModelError("'input_shape' \(inputShape): dimension \(d) is larger than \(maximumSize)")
        }
        var shape = inputShape
        var parameters = 0
        for (i, layer) in layers.enumerated() {
            guard let values = product(shape), values <= maximumValuesPerSample else {
                throw ModelError("layer \(i + 1) (\(layer.typeName)): input \(shape) is more than \(maximumValuesPerSample) values per sample")
            }
            shape = try layer.build(inputShape: shape)
            if let conv = layer as? Conv2D {
                let g = conv.geometry!
                guard let patches = product([g.outHeight, g.outWidth, g.patchSize]), patches <= maximumValuesPerSample else {
                    throw ModelError("layer \(i + 1) (Conv2D): a \(g.outHeight)x\(g.outWidth) output of \(g.patchSize)-value patches is more than \(maximumValuesPerSample) values per sample")
                }
            }
            for spec in layer.parameters {
                guard let count = product(spec.shape), count <= maximumParameters - parameters else {
                    throw ModelError("layer \(i + 1) (\(layer.typeName)): more than \(maximumParameters) parameters in the model")
                }
                parameters += count
            }
        }
        guard let values = product(shape), values <= maximumValuesPerSample else {
            throw ModelError("output \(shape) is more than \(maximumValuesPerSample) values per sample")
        }
    }

    static func pair(_ v: [Int]?, _ what: String, index: Int, default d: (Int, Int)? = nil) throws -> (Int, Int) {
        guard let v else {
            if let d { return d }
            throw ModelError("layer \(index + 1): missing '\(what)'")
        }
        switch v.count {
        case 1: return (v[0], v[0])
        case 2: return (v[0], v[1])
        default: throw ModelError("layer \(index + 1): '\(what)' must be one or two integers, got \(v)")
        }
    }

    static func layer(_ c: LayerConfiguration, index i: Int) throws -> any Layer {
        let sizes: [(String, [Int]?)] = [("filters", c.filters.map { [$0] }), ("kernel_size", c.kernelSize),
                                         ("strides", c.strides), ("pool_size", c.poolSize), ("units", c.units.map { [$0] })]
        for (option, values) in sizes {
            if let v = values?.first(where: { $0 > maximumSize }) {
                throw ModelError("layer \(i + 1) (\(c.type)): '\(option)' \(v) is larger than \(maximumSize)")
            }
        }
        switch c.type {
        case "Conv2D":
            guard let filters = c.filters else { throw ModelError("layer \(i + 1) (Conv2D): missing 'filters'") }
            return Conv2D(filters: filters, kernelSize: try pair(c.kernelSize, "kernel_size", index: i),
                          strides: try pair(c.strides, "strides", index: i, default: (1, 1)),
                          padding: c.padding ?? .valid, activation: c.activation ?? .linear)
        case "MaxPooling2D", "MaxPool2D":
            let pool = try pair(c.poolSize, "pool_size", index: i, default: (2, 2))
            return MaxPool2D(poolSize: pool, strides: try pair(c.strides, "strides", index: i, default: pool),
                             padding: c.padding ?? .valid)
        case "Flatten":
            return Flatten()
        case "Dense":
            guard let units = c.units else { throw ModelError("layer \(i + 1) (Dense): missing 'units'") }
            return Dense(units: units, activation: c.activation ?? .linear)
        case "Dropout":
            guard let rate = c.rate else { throw ModelError("layer \(i + 1) (Dropout): missing 'rate'") }
            return Dropout(rate: Float(rate))
        case "Activation":
            guard let a = c.activation else { throw ModelError("layer \(i + 1) (Activation): missing 'activation'") }
            return ActivationLayer(a)
        case "ReLU": return ActivationLayer(.relu)
        case "Softmax": return ActivationLayer(.softmax)
        default:
            throw ModelError("layer \(i + 1): unknown layer type '\(c.type)' (expected Conv2D, MaxPooling2D, Flatten, Dense, Dropout, Activation, ReLU, Softmax)")
        }
    }

    static let allowedKeys: [String: Set<String>] = [
        "Conv2D": ["type", "name", "filters", "kernel_size", "strides", "padding", "activation"],
        "MaxPooling2D": ["type", "name", "pool_size", "strides", "padding"],
        "MaxPool2D": ["type", "name", "pool_size", "strides", "padding"],
        "Flatten": ["type", "name"],
        "Dense": ["type", "name", "units", "activation"],
        "Dropout": ["type", "name", "rate"],
        "Activation": ["type", "name", "activation"],
        "ReLU": ["type", "name"], "Softmax": ["type", "name"],
    ]

    /// Parses and checks a description; errors say which layer and option is wrong.
    public static func parse(_ data: Data) throws -> ModelDescription {
        guard let object = try? JSONSerialization.jsonObject(with: data), let top = object as? [String: Any] else {
            throw ModelError("not a JSON object")
        }
        let unknownTop = Set(top.keys).subtracting(["name", "input_shape", "layers", "loss"])
        if let k = unknownTop.sorted().first { throw ModelError("unknown key '\(k)' (expected name, input_shape, layers, loss)") }
        guard top["input_shape"] != nil else { throw ModelError("missing 'input_shape' (e.g. [28, 28, 1])") }
        guard let layers = top["layers"] as? [[String: Any]], !layers.isEmpty else {
            throw ModelError("'layers' must be a non-empty list of objects")
        }
        for (i, l) in layers.enumerated() {
            guard let type = l["type"] as? String else { throw ModelError("layer \(i + 1): missing 'type'") }
            guard let allowed = allowedKeys[type] else {
                throw ModelError("layer \(i + 1): unknown layer type '\(type)' (expected \(allowedKeys.keys.sorted().joined(separator: ", ")))")
            }
            if let k = Set(l.keys).subtracting(allowed).sorted().first {
                throw ModelError("layer \(i + 1) (\(type)): unknown option '\(k)' (expected \(allowed.subtracting(["type"]).sorted().joined(separator: ", ")))")
            }
        }
        // Keras accepts an integer for kernel_size, strides and pool_size.
        var normalised = top
        normalised["layers"] = layers.map { l -> [String: Any] in
            var l = l
            for k in ["kernel_size", "strides", "pool_size"] { if let n = l[k] as? Int { l[k] = [n, n] } }
            return l
        }
        if normalised["name"] == nil { normalised["name"] = "custom" }
        if normalised["loss"] == nil { normalised["loss"] = Loss.sparseCategoricalCrossentropy.rawValue }
        do {
            let d = try JSONDecoder().decode(ModelDescription.self, from: JSONSerialization.data(withJSONObject: normalised))
            guard d.inputShape.allSatisfy({ $0 > 0 }), (1...3).contains(d.inputShape.count) else {
                throw ModelError("'input_shape' must be 1 to 3 positive integers, got \(d.inputShape)")
            }
            for (i, c) in d.layers.enumerated() { _ = try layer(c, index: i) }  // required options
            return d
        } catch let e as ModelError {
            throw e
        } catch let DecodingError.dataCorrupted(c), let DecodingError.typeMismatch(_, c), let DecodingError.valueNotFound(_, c) {
            throw ModelError("\(Self.path(c.codingPath)): \(c.debugDescription)")
        } catch let DecodingError.keyNotFound(k, c) {
            throw ModelError("\(Self.path(c.codingPath)): missing '\(k.stringValue)'")
        }
    }

    static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "layer \($0 + 1)" } ?? $0.stringValue }.joined(separator: ".")
    }

    /// Pretty, key-sorted JSON (stable bytes for the checkpoint metadata).
    public func jsonString(pretty: Bool = false) -> String {
        let e = JSONEncoder()
        e.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? e.encode(self)) ?? Data(), as: UTF8.self)
    }
}
