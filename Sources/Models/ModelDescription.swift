import Foundation
import Tensor

/// A model in JSON: its inputs, its layers with Keras's option names, and its loss
/// (docs/model-json.md). The `Sequential` form names one input shape and a list of layers,
/// each taking the one before:
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
/// The graph form (Keras's functional API) names its inputs and lets a layer say which
/// tensors it takes (`"inputs": ["dense", "dense_2"]`, model inputs or earlier layers); a layer
/// without `inputs` takes the previous layer's output; the last layer's output is the model's.
/// The layer types and their options come from ``LayerRegistry``.
/// The built-in models (`cnn`, `mlp`) are defined in this format.
public struct ModelDescription: Codable, Equatable, Sendable {
    public var name: String
    public var inputs: [ModelInput]
    public var layers: [LayerConfiguration]
    public var loss: Loss

    /// A `Sequential` description: one input (named `input`), each layer taking the one before.
    public init(name: String, inputShape: [Int], layers: [LayerConfiguration], loss: Loss = .sparseCategoricalCrossentropy) {
        self.init(name: name, inputs: [ModelInput(name: Self.defaultInputName, shape: inputShape)], layers: layers, loss: loss)
    }

    /// A graph description.
    /// - Parameters:
    ///   - name: the model's name.
    ///   - inputs: the named inputs.
    ///   - layers: the layers in topological order (each with its `inputs`, or taking the previous
    ///     one); the last one is the output.
    ///   - loss: the loss.
    public init(name: String, inputs: [ModelInput], layers: [LayerConfiguration],
                loss: Loss = .sparseCategoricalCrossentropy) {
        self.name = name
        self.inputs = inputs
        self.layers = layers
        self.loss = loss
    }

    /// The name of the one input of the `Sequential` form.
    public static let defaultInputName = "input"

    /// The shape of the first input (the only one in the `Sequential` form).
    public var inputShape: [Int] {
        get { inputs[0].shape }
        set { inputs[0].shape = newValue }
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, layers, loss, inputs
        case inputShape = "input_shape"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        layers = try c.decode([LayerConfiguration].self, forKey: .layers)
        loss = try c.decode(Loss.self, forKey: .loss)
        if let shape = try c.decodeIfPresent([Int].self, forKey: .inputShape) {
            guard !c.contains(.inputs) else { throw ModelError("give 'input_shape' or 'inputs', not both") }
            inputs = [ModelInput(name: Self.defaultInputName, shape: shape)]
        } else {
            inputs = try c.decode([ModelInput].self, forKey: .inputs)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(layers, forKey: .layers)
        try c.encode(loss, forKey: .loss)
        if inputs.count == 1 && inputs[0].name == Self.defaultInputName {
            try c.encode(inputs[0].shape, forKey: .inputShape)
        } else {
            try c.encode(inputs, forKey: .inputs)
        }
    }

    /// The seed's CNN: Conv2D 32 3x3 relu, MaxPool 2, Flatten, Dense 128 relu, Dense 10 softmax.
    public static let cnn = ModelDescription(name: "cnn", inputShape: [28, 28, 1], layers: [
        LayerConfiguration(Conv2D.Options(filters: 32, kernelSize: [3, 3], activation: .relu)),
        LayerConfiguration(MaxPool2D.Options(poolSize: [2, 2])),
        LayerConfiguration(Flatten.Options()),
        LayerConfiguration(Dense.Options(units: 128, activation: .relu)),
        LayerConfiguration(Dense.Options(units: 10, activation: .softmax)),
    ])

    /// The seed's section 4.3 network: 784 inputs, 100 hidden units, 10 outputs.
    public static let mlp = ModelDescription(name: "mlp", inputShape: [28, 28, 1], layers: [
        LayerConfiguration(Flatten.Options()),
        LayerConfiguration(Dense.Options(units: 100, activation: .relu)),
        LayerConfiguration(Dense.Options(units: 10, activation: .softmax)),
    ])

    public static let builtIn: [String: ModelDescription] = ["cnn": cnn, "mlp": mlp]

    /// The same model for another input shape and class count (a `--dataset` with other
    /// image sizes or classes): the first input follows the data, and the last Dense layer's
    /// units follow the classes when that layer is the classifier (the output, or followed
    /// only by activations).
    public func adapted(inputShape newShape: [Int], classes: Int) -> ModelDescription {
        var d = self
        d.inputs[0].shape = newShape
        guard let i = d.layers.lastIndex(where: { $0.options is Dense.Options }),
              d.layers[(i + 1)...].allSatisfy({ $0.options is ActivationLayer.Options }),
              var dense = d.layers[i].options as? Dense.Options else { return d }
        dense.units = classes
        d.layers[i].options = dense
        return d
    }

    /// Builds the model (Keras's initialisers from `seed`) and compiles it with the loss.
    /// - Parameters:
    ///   - seed: the initialisers' seed.
    ///   - fuseLayers: see ``Model/init(name:inputs:nodes:seed:fuseLayers:)``.
    /// - Returns: the model, compiled with Adam and this description's loss.
    /// - Throws: ``ModelError``: a layer option out of range, an unknown tensor name, shapes
    ///   that do not fit, or sizes beyond ``maximumSize``, ``maximumParameters`` or
    ///   ``maximumValuesPerSample``.
    public func makeModel(seed: UInt64 = 0, fuseLayers: Bool = true) throws -> Model {
        try checkOptionSizes()
        let nodes = try layers.enumerated().map { i, c in
            do {
                return GraphNode(try c.options.makeLayer(), name: c.name, inputs: c.inputs)
            } catch let e as ModelError {
                throw ModelError("layer \(i + 1) (\(c.type)): \(e.message)")
            }
        }
        let model = try Model(name: name, inputs: inputs, nodes: nodes, seed: seed, fuseLayers: fuseLayers)
        model.compile(loss: loss)
        return model
    }

    /// Every size option within ``maximumSize``, so that no layer's arithmetic can overflow.
    func checkOptionSizes() throws {
        for (i, c) in layers.enumerated() {
            if let (option, v) = c.options.sizes.first(where: { $0.value > Self.maximumSize }) {
                throw ModelError("layer \(i + 1) (\(c.type)): '\(option)' \(v) is larger than \(Self.maximumSize)")
            }
        }
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

    /// The label of a layer in error messages, from a decoding path (`layer 2`).
    static func layerLabel(_ keys: [any CodingKey]) -> String {
        keys.last(where: { $0.intValue != nil }).map { "layer \($0.intValue! + 1)" } ?? "layer"
    }

    /// Parses and checks a description (either form); errors say which layer and option is
    /// wrong and list what is expected.
    /// - Throws: ``ModelError``.
    public static func parse(_ data: Data) throws -> ModelDescription {
        guard let object = try? JSONSerialization.jsonObject(with: data), let top = object as? [String: Any] else {
            throw ModelError("not a JSON object")
        }
        let known = CodingKeys.allCases.map(\.rawValue)
        if let k = Set(top.keys).subtracting(known).sorted().first {
            throw ModelError("unknown key '\(k)' (expected \(known.sorted().joined(separator: ", ")))")
        }
        guard top["input_shape"] != nil || top["inputs"] != nil else {
            throw ModelError("missing 'input_shape' (e.g. [28, 28, 1]) or 'inputs' (e.g. [{\"name\": \"image\", \"shape\": [28, 28, 1]}])")
        }
        guard let layers = top["layers"] as? [[String: Any]], !layers.isEmpty else {
            throw ModelError("'layers' must be a non-empty list of objects")
        }
        var normalised = top
        if normalised["name"] == nil { normalised["name"] = "custom" }
        if normalised["loss"] == nil { normalised["loss"] = Loss.sparseCategoricalCrossentropy.rawValue }
        do {
            let d = try JSONDecoder().decode(ModelDescription.self, from: JSONSerialization.data(withJSONObject: normalised))
            for input in d.inputs {
                guard input.shape.allSatisfy({ $0 > 0 }), (1...3).contains(input.shape.count) else {
                    let key = d.inputs.count == 1 && top["input_shape"] != nil ? "'input_shape'" : "input '\(input.name)' shape"
                    throw ModelError("\(key) must be 1 to 3 positive integers, got \(input.shape)")
                }
            }
            try d.checkOptionSizes()
            return d
        } catch let e as ModelError {
            throw e
        } catch let DecodingError.dataCorrupted(c), let DecodingError.typeMismatch(_, c), let DecodingError.valueNotFound(_, c) {
            throw ModelError("\(Self.path(c.codingPath)): \(c.debugDescription)")
        } catch let DecodingError.keyNotFound(k, c) {
            throw ModelError("\(Self.path(c.codingPath)): missing '\(k.stringValue)'")
        }
    }

    /// A decoding path as the messages say it: `layer 2.units`, `input 1.shape`.
    static func path(_ keys: [any CodingKey]) -> String {
        var parts: [String] = []
        for (k, key) in keys.enumerated() {
            guard let n = key.intValue else {
                parts.append(key.stringValue)
                continue
            }
            switch k > 0 ? keys[k - 1].stringValue : "" {
            case CodingKeys.layers.rawValue: parts[parts.count - 1] = "layer \(n + 1)"
            case CodingKeys.inputs.rawValue: parts[parts.count - 1] = "input \(n + 1)"
            default: parts.append("item \(n + 1)")
            }
        }
        return parts.joined(separator: ".")
    }

    /// Pretty, key-sorted JSON (stable bytes for the checkpoint metadata).
    public func jsonString(pretty: Bool = false) -> String {
        let e = JSONEncoder()
        e.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? e.encode(self)) ?? Data(), as: UTF8.self)
    }
}
