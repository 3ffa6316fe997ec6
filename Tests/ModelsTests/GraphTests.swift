import Foundation
import Testing
import Tensor
@testable import Models

/// A residual MLP in the graph form: `h1` feeds both `h2` and the Add, so its gradient is the
/// sum of two paths (or, with `["h2", "h2"]`, the Add takes one tensor twice).
func residualMLP(addInputs: String) -> String {
    #"""
    {"name": "resmlp", "inputs": [{"name": "image", "shape": [6, 6, 1]}],
     "layers": [
       {"type": "Flatten", "name": "flat", "inputs": ["image"]},
       {"type": "Dense", "name": "h1", "units": 8, "activation": "tanh"},
       {"type": "Dense", "name": "h2", "units": 8, "activation": "tanh"},
       {"type": "Add", "name": "res", "inputs": \#(addInputs)},
       {"type": "Dense", "units": 3, "activation": "softmax"}]}
    """#
}

/// Two convolution branches over the image, joined along the channels.
let twoBranchCNN = #"""
{"name": "branches", "inputs": [{"name": "image", "shape": [6, 6, 1]}],
 "layers": [
   {"type": "Conv2D", "name": "wide", "inputs": ["image"], "filters": 2, "kernel_size": 3, "padding": "same", "activation": "tanh"},
   {"type": "Conv2D", "name": "point", "inputs": ["image"], "filters": 3, "kernel_size": 1, "activation": "tanh"},
   {"type": "Concatenate", "name": "joined", "inputs": ["wide", "point"]},
   {"type": "Conv2D", "filters": 2, "kernel_size": 3, "activation": "tanh"},
   {"type": "MaxPooling2D", "pool_size": 2},
   {"type": "Flatten"},
   {"type": "Dense", "units": 4, "activation": "sigmoid"},
   {"type": "Dense", "units": 3, "activation": "softmax"}]}
"""#

@Suite struct GraphTests {
    func model(_ json: String, seed: UInt64 = 5) throws -> Model {
        let m = try ModelDescription.parse(Data(json.utf8)).makeModel(seed: seed)
        m.compile(optimizer: SGD(learningRate: 0))
        return m
    }

    @Test(arguments: [#"["h1", "h2"]"#, #"["h2", "h1"]"#, #"["h2", "h2"]"#])
    func residualMLP_gradientsMatchFiniteDifferences(addInputs: String) throws {
        let m = try model(residualMLP(addInputs: addInputs))
        #expect(m.layers.map(\.name) == ["flat", "h1", "h2", "res", "dense"])
        #expect(m.layerInputs[3].count == 2)
        #expect(!m.isChain)
        #expect(checkModelGradients(m, syntheticImages(count: 4, height: 6, width: 6), batch: 4) == m.parameterCount)
    }

    @Test func twoBranchCNN_gradientsMatchFiniteDifferences() throws {
        let m = try model(twoBranchCNN)
        #expect(m.layers[2].outputShape == [6, 6, 5])
        #expect(m.layers[3].outputShape == [4, 4, 2])
        #expect(checkModelGradients(m, syntheticImages(count: 4, height: 6, width: 6), batch: 4) == m.parameterCount)
    }

    /// The residual path really is summed: the same weights without the skip connection give
    /// other gradients for h1 (so a graph that dropped one path would fail the check above).
    @Test func residualPath_changesTheGradient() throws {
        let data = syntheticImages(count: 4, height: 6, width: 6)
        let residual = try model(residualMLP(addInputs: #"["h1", "h2"]"#))
        let chain = try model(#"""
        {"name": "chain", "inputs": [{"name": "image", "shape": [6, 6, 1]}],
         "layers": [{"type": "Flatten", "name": "flat"}, {"type": "Dense", "name": "h1", "units": 8, "activation": "tanh"},
                    {"type": "Dense", "name": "h2", "units": 8, "activation": "tanh"},
                    {"type": "Dense", "units": 3, "activation": "softmax"}]}
        """#)
        var gradients: [[Float]] = []
        for m in [residual, chain] {
            m.prepare(maxBatch: 4)
            Array(0..<4).withUnsafeBufferPointer { m.fill(data, indices: $0) }
            _ = m.computeGradients(batch: 4)
            gradients.append(Array(m.gradients.array[0..<(36 * 8)]))
        }
        #expect(residual.flatParameters == chain.flatParameters)
        #expect(maxAbsDiff(gradients[0], gradients[1]) > 1e-3)
    }

    @Test func graph_trainsAndRoundTripsThroughItsDescription() throws {
        let d = try ModelDescription.parse(Data(twoBranchCNN.utf8))
        let m = try d.makeModel(seed: 3)
        m.compile(optimizer: Adam(learningRate: 0.01))
        let data = syntheticImages(count: 200, height: 6, width: 6)
        let r = m.fit(data, epochs: 4, batchSize: 16, seed: 1)
        #expect(r.history.last!.loss < r.history.first!.loss)
        #expect(m.evaluate(data).accuracy > 0.8)
        // The description a model writes (checkpoints) parses back to itself.
        let written = m.modelDescription
        #expect(written.layers[2].inputs == ["wide", "point"])
        #expect(written.layers[4].inputs == nil)
        #expect(try ModelDescription.parse(Data(written.jsonString().utf8)) == written)
        let rebuilt = try written.makeModel(seed: 3)
        #expect(try d.makeModel(seed: 3).flatParameters == rebuilt.flatParameters)
        #expect(rebuilt.layers.map(\.name) == m.layers.map(\.name))
    }

    @Test func checkpoint_keepsTheGraph() throws {
        let m = try model(residualMLP(addInputs: #"["h1", "h2"]"#), seed: 8)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fmctl-graph-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("model.safetensors").path
        try ModelCheckpoint.save(m, to: path)
        let loaded = try ModelCheckpoint.load(path: path).model
        #expect(loaded.flatParameters == m.flatParameters)
        #expect(loaded.layerInputs == m.layerInputs)
        let data = syntheticImages(count: 20, height: 6, width: 6)
        #expect(loaded.evaluate(data).loss == m.evaluate(data).loss)
    }

    @Test(arguments: [
        (#"{"inputs": [{"name": "x", "shape": [4]}], "layers": [{"type": "Dense", "units": 2, "inputs": ["y"]}]}"#,
         "input 'y' is not a model input or an earlier layer"),
        (#"{"inputs": [{"name": "x", "shape": [4]}], "layers": [{"type": "Dense", "name": "a", "units": 2}, {"type": "Dense", "name": "a", "units": 2}]}"#,
         "the name 'a' is used twice"),
        (#"{"inputs": [{"name": "x", "shape": [4]}], "layers": [{"type": "Dense", "name": "a", "units": 2}, {"type": "Dense", "units": 2, "inputs": ["x"]}]}"#,
         "layer 1 (a): its output is not used"),
        (#"{"inputs": [{"name": "x", "shape": [4]}], "layers": [{"type": "Add", "inputs": ["x"]}]}"#,
         "takes at least two inputs"),
        (#"{"inputs": [{"name": "x", "shape": [4]}, {"name": "z", "shape": [4]}], "layers": [{"type": "Dense", "units": 2, "inputs": ["x", "z"]}]}"#,
         "takes one input, got 2"),
        (#"{"inputs": [{"name": "x", "shape": [4]}, {"name": "z", "shape": [4]}], "layers": [{"type": "Dense", "units": 2}]}"#,
         "say which this layer takes"),
        (#"{"inputs": [{"name": "x", "shape": [4]}, {"name": "z", "shape": [4]}], "layers": [{"type": "Dense", "units": 2, "inputs": ["x"]}]}"#,
         "input 'z' is not used"),
        (#"{"inputs": [{"name": "x", "shape": [4]}, {"name": "z", "shape": [3]}], "layers": [{"type": "Add", "inputs": ["x", "z"]}]}"#,
         "Add needs inputs of one shape"),
        (#"{"inputs": [{"name": "x", "shape": [4]}], "layers": [{"type": "Dense", "name": "a", "units": 2}], "outputs": ["a"]}"#,
         "unknown key 'outputs'"),
        (#"{"inputs": [{"name": "x", "shape": [4]}], "layers": [{"type": "Dense", "name": "a\nb", "units": 2}]}"#,
         "layer 1 (Dense): 'name' must be printable"),
        (#"{"inputs": [{"name": "x", "shape": [4]}], "layers": [{"type": "Dense", "units": 2, "inputs": ["x\ny"]}]}"#,
         "layer 1 (Dense): an input name must be printable"),
        (#"{"inputs": [{"shape": [4]}], "layers": [{"type": "Dense", "units": 2}]}"#,
         "input 1: missing 'name'"),
    ])
    func badGraphs_areOneLineErrors(json: String, message: String) throws {
        #expect { try ModelDescription.parse(Data(json.utf8)).makeModel() } throws: { error in
            let text = "\(error)"
            return text.contains(message) && !text.contains("\n")
        }
    }

    @Test func oneLayerObjectTwice_isRefused() {
        let shared = Dense(units: 4, activation: .tanh)
        #expect { try Model(inputs: [ModelInput(name: "x", shape: [4])], nodes: [GraphNode(shared), GraphNode(shared)]) } throws: {
            "\($0)".contains("the same layer object is given twice")
        }
    }

    @Test func inputShapeAndInputs_areExclusive() {
        let json = #"{"input_shape": [4], "inputs": [{"name": "x", "shape": [4]}], "layers": [{"type": "Dense", "units": 2}]}"#
        #expect { try ModelDescription.parse(Data(json.utf8)) } throws: { "\($0)".contains("not both") }
    }

    @Test func summary_ofAGraphNamesWhatEachLayerTakes() throws {
        let m = try model(residualMLP(addInputs: #"["h1", "h2"]"#))
        let text = m.summary()
        #expect(text.contains("image (InputLayer)"))
        #expect(text.contains("Connected to"))
        let row = try #require(text.split(separator: "\n").first { $0.hasPrefix("res (Add)") })
        #expect(row.hasSuffix("h1[0][0], h2[0][0]"))
    }
}

@Suite struct LayerRegistryTests {
    @Test func unknownType_listsTheRegisteredTypes() {
        let json = #"{"input_shape": [4], "layers": [{"type": "Dense2", "units": 3}]}"#
        #expect { try ModelDescription.parse(Data(json.utf8)) } throws: { error in
            "\(error)".contains("known types: \(LayerRegistry.knownTypeNames.joined(separator: ", "))")
                && LayerRegistry.knownTypeNames.contains("Concatenate")
        }
    }

    @Test func everyBuiltInType_parsesFromItsNameAndEncodesBack() throws {
        for type in LayerRegistry.builtIn {
            for name in [type.typeName] + type.aliases {
                let options: String
                switch type.typeName {
                case "Dense", "QuantizedDense": options = #", "units": 3"#
                case "Conv2D", "QuantizedConv2D": options = #", "filters": 2, "kernel_size": 1"#
                case "LowRankDense": options = #", "units": 3, "rank": 1"#
                case "Dropout": options = #", "rate": 0.5"#
                case "Activation": options = #", "activation": "tanh""#
                case "Embedding": options = #", "input_dim": 4, "output_dim": 2"#
                case "MultiHeadAttention": options = #", "num_heads": 2"#
                default: options = ""
                }
                let data = Data(#"{"type": "\#(name)"\#(options)}"#.utf8)
                let c = try JSONDecoder().decode(LayerConfiguration.self, from: data)
                #expect(c.type == type.typeName)
                let again = try JSONDecoder().decode(LayerConfiguration.self, from: JSONEncoder().encode(c))
                #expect(again == c)
                #expect(try c.options.makeLayer().typeName == (type.typeName == "ReLU" || type.typeName == "Softmax" ? "Activation" : type.typeName))
            }
        }
    }

    /// A layer type of a program's own: one file's worth (its options and layer), registered
    /// once; the model JSON then takes it like a built-in one.
    final class Scale: ParameterFreeLayer {
        struct Options: LayerOptions {
            static let typeName = "TestScale"
            static let keys = ["factor"]
            var factor: Float
            func makeLayer() throws -> any Layer {
                guard factor != 0 else { throw ModelError("'factor' must not be 0") }
                return Scale(factor)
            }
        }
        let factor: Float
        var name = "scale"
        var typeName: String { Options.typeName }
        var configuration: LayerConfiguration { LayerConfiguration(Options(factor: factor), name: name) }
        private var shape: [Int] = []
        private var output: FloatBuffer!
        init(_ factor: Float) { self.factor = factor }
        func build(inputShape: [Int]) throws -> [Int] { shape = inputShape; return shape }
        var outputShape: [Int] { shape }
        func allocate(maxBatch: Int, needsInputGradient: Bool) { output = FloatBuffer(count: maxBatch * outputCount) }
        func forward(_ input: UnsafePointer<Float>, batch: Int, training: Bool) -> UnsafePointer<Float> {
            for i in 0..<(batch * outputCount) { output.pointer[i] = input[i] * factor }
            return UnsafePointer(output.pointer)
        }
        func backward(_ dout: UnsafeMutablePointer<Float>, batch: Int) -> UnsafeMutablePointer<Float>? {
            for i in 0..<(batch * outputCount) { dout[i] *= factor }
            return dout
        }
    }

    @Test func programTypes_registerOnceAndParse() throws {
        try LayerRegistry.register(Scale.Options.self)
        #expect(throws: ModelError.self) { try LayerRegistry.register(Scale.Options.self) }
        struct Clashing: LayerOptions {
            static let typeName = "TestClashing"
            static let keys = ["inputs"]
            func makeLayer() throws -> any Layer { Flatten() }
        }
        #expect { try LayerRegistry.register(Clashing.self) } throws: { "\($0)".contains("option 'inputs' is a key every layer has") }
        #expect(!LayerRegistry.knownTypeNames.contains("TestClashing"))
        #expect(LayerRegistry.knownTypeNames.contains("TestScale"))
        let json = #"{"input_shape": [6, 6, 1], "layers": [{"type": "Flatten"}, {"type": "TestScale", "factor": 0.5}, {"type": "Dense", "units": 3, "activation": "softmax"}]}"#
        let m = try ModelDescription.parse(Data(json.utf8)).makeModel(seed: 1)
        #expect(m.summary().contains("test_scale (TestScale)"))
        m.compile(optimizer: SGD(learningRate: 0))
        #expect(checkModelGradients(m, syntheticImages(count: 4, height: 6, width: 6), batch: 4, stride: 5) > 20)
        let zero = #"{"input_shape": [4], "layers": [{"type": "TestScale", "factor": 0}]}"#
        #expect { try ModelDescription.parse(Data(zero.utf8)).makeModel() } throws: {
            "\($0)" == "layer 1 (TestScale): 'factor' must not be 0"
        }
    }

    @Test func summary_columnFitsTheLongestLayerName() throws {
        let text = try ModelDescription.cnn.makeModel().summary()
        let row = try #require(text.split(separator: "\n").first { $0.hasPrefix("max_pooling2d (MaxPooling2D)") })
        #expect(row.hasPrefix("max_pooling2d (MaxPooling2D)  (None, 13, 13, 32)"))
    }
}
