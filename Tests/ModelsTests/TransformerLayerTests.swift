import Foundation
import Testing
import Tensor
@testable import Models

// The position-wise transformer layers (docs/transformer.md): against PyTorch float64 values
// (Tests/Fixtures/torch/layers.json, from scripts/torch-reference/layers.py), against central
// differences, one position at a time against a full forward, in model JSON, and on bad input.

/// One layer run by itself on arrays: parameters and gradients in flat buffers, the input
/// kept alive between forward and backward (layers read it again in backward).
final class LayerRun {
    let layer: any Layer
    let batch: Int
    let inputCount: Int
    let parameters: FloatBuffer, gradients: FloatBuffer
    private let input: FloatBuffer

    init(_ layer: any Layer, inputShape: [Int], batch: Int, needsInputGradient: Bool = true, seed: UInt64 = 1) throws {
        self.layer = layer
        self.batch = batch
        _ = try layer.build(inputShape: inputShape)
        inputCount = inputShape.reduce(1, *)
        parameters = FloatBuffer(count: max(1, layer.parameterCount))
        gradients = FloatBuffer(count: max(1, layer.parameterCount))
        input = FloatBuffer(count: batch * inputCount)
        layer.bind(parameters: parameters.pointer, gradients: gradients.pointer)
        var rng = Xoshiro256(seed: seed)
        layer.initializeParameters(rng: &rng)
        layer.allocate(maxBatch: batch, needsInputGradient: needsInputGradient)
    }

    var parameterValues: [Float] {
        get { Array(parameters.buffer.prefix(layer.parameterCount)) }
        set { parameters.pointer.update(from: newValue, count: layer.parameterCount) }
    }

    func forward(_ x: [Float], training: Bool = false) -> [Float] {
        precondition(x.count == batch * inputCount)
        input.pointer.update(from: x, count: x.count)
        let y = layer.forward(input.pointer, batch: batch, training: training)
        return Array(UnsafeBufferPointer(start: y, count: batch * layer.outputCount))
    }

    /// The input gradient (nil when the layer returns none) and the parameter gradients.
    func backward(_ dy: [Float]) -> (dx: [Float]?, dp: [Float]) {
        let d = FloatBuffer(count: dy.count)
        d.pointer.update(from: dy, count: dy.count)
        let dx = layer.backward(d.pointer, batch: batch).map { Array(UnsafeBufferPointer(start: $0, count: batch * inputCount)) }
        return (dx, Array(gradients.buffer.prefix(layer.parameterCount)))
    }
}

/// Central differences of `sum(dy * layer(x))` (in Double from Float outputs, eps 3e-3) in
/// every input value (unless `checkInput` is false) and every parameter, against the layer's
/// backward; tolerance 2e-3 absolute plus 1e-2 relative (Float rounding of ~100 outputs
/// divided by 2 eps is ~2e-4; GELU's curvature at this eps ~1e-5).
func checkLayerGradients(_ run: LayerRun, x: [Float], dy: [Float], checkInput: Bool = true,
                         sourceLocation: SourceLocation = #_sourceLocation) {
    _ = run.forward(x, training: true)
    let (dx, dp) = run.backward(dy)
    func loss(_ x: [Float]) -> Double {
        zip(run.forward(x, training: true), dy).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    }
    let eps: Float = 3e-3
    func expectClose(_ analytic: Float, _ numeric: Double, _ what: String) {
        #expect(abs(Double(analytic) - numeric) <= 2e-3 + 1e-2 * abs(numeric), "\(what): \(analytic) vs \(numeric)",
                sourceLocation: sourceLocation)
    }
    if checkInput {
        #expect(dx != nil, sourceLocation: sourceLocation)
        for i in x.indices {
            var up = x, down = x
            up[i] += eps; down[i] -= eps
            expectClose(dx?[i] ?? .nan, (loss(up) - loss(down)) / Double(up[i] - down[i]), "input \(i)")
        }
    }
    var p = run.parameterValues
    for i in p.indices {
        let saved = p[i]
        p[i] = saved + eps; run.parameterValues = p
        let up = loss(x)
        p[i] = saved - eps; run.parameterValues = p
        let down = loss(x)
        p[i] = saved; run.parameterValues = p
        expectClose(dp[i], (up - down) / Double((saved + eps) - (saved - eps)), "parameter \(i)")
    }
}

/// The PyTorch float64 cases of Tests/Fixtures/torch/layers.json, found from this file's path.
enum TorchLayerFixture {
    /// Case name -> key -> values (a number as a one-value list).
    static let cases: [String: [String: [Float]]] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../Fixtures/torch/layers.json").standardizedFileURL
        guard let data = try? Data(contentsOf: url),
              let top = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let cases = top["cases"] as? [String: [String: Any]] else { return [:] }
        return cases.mapValues { c in
            c.compactMapValues { v in
                if let n = v as? NSNumber { return [n.floatValue] }
                return (v as? [NSNumber])?.map(\.floatValue)
            }
        }
    }()

    static func floats(_ c: [String: [Float]], _ key: String) -> [Float] { c[key] ?? [] }
}

private func values(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
    var g = SplitMix64(seed: seed)
    return (0..<n).map { _ in Float.random(in: -1...1, using: &g) * scale }
}

@Suite struct TransformerLayerTests {
    // MARK: PyTorch float64

    /// Float32 against float64: |ours - torch| <= 1e-5 + 1e-4 |torch| in every value.
    func expectTorch(_ ours: [Float]?, _ c: [String: [Float]], _ key: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let torch = TorchLayerFixture.floats(c, key)
        #expect(!torch.isEmpty, "fixture key \(key)", sourceLocation: sourceLocation)
        guard let ours else { Issue.record("no values for \(key)", sourceLocation: sourceLocation); return }
        #expect(ours.count == torch.count, "\(key) count", sourceLocation: sourceLocation)
        let worst = zip(ours, torch).map { abs($0 - $1) - 1e-4 * abs($1) }.max() ?? .infinity
        #expect(worst <= 1e-5, "\(key): off by \(worst)", sourceLocation: sourceLocation)
    }

    /// Runs `layer` on the case's input and upstream gradient with its parameters (by name, in
    /// the layer's parameter order) and checks the output and every gradient against PyTorch.
    func checkAgainstTorch(_ layer: any Layer, case name: String, inputKey: String = "x", inputShape: [Int],
                           sourceLocation: SourceLocation = #_sourceLocation) throws {
        let c = try #require(TorchLayerFixture.cases[name], "fixture case \(name)", sourceLocation: sourceLocation)
        let run = try LayerRun(layer, inputShape: inputShape, batch: 2)
        run.parameterValues = layer.parameters.flatMap { TorchLayerFixture.floats(c, $0.name) }
        let y = run.forward(TorchLayerFixture.floats(c, inputKey))
        expectTorch(y, c, "y", sourceLocation: sourceLocation)
        let (dx, dp) = run.backward(TorchLayerFixture.floats(c, "dy"))
        if inputKey == "x" { expectTorch(dx, c, "d_x", sourceLocation: sourceLocation) }
        var offset = 0
        for p in layer.parameters {
            expectTorch(Array(dp[offset..<offset + p.count]), c, "d_" + p.name, sourceLocation: sourceLocation)
            offset += p.count
        }
    }

    @Test func layerNormalizationMatchesPyTorch() throws {
        try checkAgainstTorch(LayerNormalization(epsilon: 1e-3), case: "layer_normalization", inputShape: [5, 8])
    }

    @Test func geluMatchesPyTorch() throws {
        try checkAgainstTorch(GELU(approximate: false), case: "gelu", inputShape: [5, 8])
        try checkAgainstTorch(GELU(approximate: true), case: "gelu_tanh", inputShape: [5, 8])
        try checkAgainstTorch(ActivationLayer(.gelu), case: "gelu", inputShape: [5, 8])
        try checkAgainstTorch(ActivationLayer(.geluTanh), case: "gelu_tanh", inputShape: [5, 8])
    }

    @Test func denseOverTheLastAxisMatchesPyTorch() throws {
        try checkAgainstTorch(Dense(units: 6, activation: .gelu), case: "dense_gelu", inputShape: [5, 8])
        try checkAgainstTorch(Dense(units: 6, activation: .geluTanh), case: "dense_gelu_tanh", inputShape: [5, 8])
        try checkAgainstTorch(Dense(units: 6), case: "dense_linear", inputShape: [5, 8])
    }

    @Test func embeddingsMatchPyTorch() throws {
        try checkAgainstTorch(Embedding(inputDim: 11, outputDim: 8), case: "embedding", inputKey: "ids", inputShape: [5])
        try checkAgainstTorch(PositionEmbedding(sequenceLength: 7), case: "position_embedding", inputShape: [5, 8])
    }

    // MARK: Central differences

    @Test func layerNormalizationGradients() throws {
        let run = try LayerRun(LayerNormalization(epsilon: 1e-3), inputShape: [3, 7], batch: 2)
        run.parameterValues = values(14, seed: 1, scale: 0.5).enumerated().map { $0 < 7 ? 1 + $1 : $1 }
        checkLayerGradients(run, x: values(42, seed: 2, scale: 2), dy: values(42, seed: 3))
    }

    @Test(arguments: [false, true])
    func geluGradients(approximate: Bool) throws {
        let run = try LayerRun(GELU(approximate: approximate), inputShape: [4, 5], batch: 2)
        checkLayerGradients(run, x: values(40, seed: 4, scale: 3), dy: values(40, seed: 5))
        let activation = try LayerRun(ActivationLayer(approximate ? .geluTanh : .gelu), inputShape: [4, 5], batch: 2)
        checkLayerGradients(activation, x: values(40, seed: 4, scale: 3), dy: values(40, seed: 5))
    }

    @Test(arguments: [Activation.linear, .relu, .tanh, .gelu, .geluTanh, .softmax])
    func denseGradientsOverTheLastAxis(activation: Activation) throws {
        let run = try LayerRun(Dense(units: 5, activation: activation), inputShape: [3, 4], batch: 2)
        checkLayerGradients(run, x: values(24, seed: 6, scale: 1.5), dy: values(30, seed: 7))
        #expect(run.layer.outputShape == [3, 5])
    }

    @Test func embeddingGradients() throws {
        let run = try LayerRun(Embedding(inputDim: 6, outputDim: 4), inputShape: [5], batch: 2, needsInputGradient: false)
        let ids: [Float] = [1, 5, 1, 0, 3, 2, 2, 2, 4, 1]
        checkLayerGradients(run, x: ids, dy: values(40, seed: 8), checkInput: false)
        #expect(run.backward(values(40, seed: 8)).dx == nil)
    }

    @Test func positionEmbeddingGradients() throws {
        let run = try LayerRun(PositionEmbedding(sequenceLength: 6), inputShape: [4, 3], batch: 2)
        checkLayerGradients(run, x: values(24, seed: 9), dy: values(24, seed: 10))
        // Rows past the input's positions take no gradient.
        #expect(run.backward(values(24, seed: 10)).dp[12...].allSatisfy { $0 == 0 })
    }

    /// The layers in one graph: the model's backward through Embedding, PositionEmbedding,
    /// LayerNormalization, Dense(gelu), a residual Add, GELU, an Activation and Dropout on
    /// sequences, then a classifier, against central differences of its loss.
    @Test func sequenceModelGradients() throws {
        let m = try ModelDescription.parse(Data(Self.sequenceModelJSON.utf8)).makeModel(seed: 3)
        m.compile(optimizer: SGD(learningRate: 0))
        // Tables of sd 1 instead of 0.02: rows of sd 0.02 have a variance near LayerNormalization's
        // epsilon, where a step of 3e-3 is far outside the linear range of central differences.
        let tables = m.layers[0].parameterCount + m.layers[1].parameterCount
        m.parameters.pointer.update(from: values(tables, seed: 24), count: tables)
        var g = SplitMix64(seed: 11)
        let tokens = (0..<(4 * 5)).map { _ in Float(Int.random(in: 0..<11, using: &g)) }
        let data = ArrayBatchSource(inputs: tokens, labels: [0, 2, 1, 2], sampleShape: [5], classCount: 3)
        #expect(checkModelGradients(m, data, batch: 4) == m.parameterCount)
    }

    /// Adam trains the sequence graph: the head Dense runs Adam inside its backward, the
    /// sequence Dense layers store their gradients for the optimiser; on a task the tokens
    /// decide (the class is the first token mod 3) the loss falls well below chance (ln 3).
    @Test func adamTrainsTheSequenceGraph() throws {
        let m = try ModelDescription.parse(Data(Self.sequenceModelJSON.utf8)).makeModel(seed: 5)
        m.compile(optimizer: Adam(learningRate: 0.01))
        #expect(m.plannedFusions.filter { $0.hasSuffix("update inside backward") }.map { $0.prefix { $0 != ":" } } == ["head"])
        var g = SplitMix64(seed: 12)
        let tokens = (0..<(32 * 5)).map { _ in Float(Int.random(in: 0..<11, using: &g)) }
        let labels = (0..<32).map { Int32(Int(tokens[$0 * 5]) % 3) }
        let data = ArrayBatchSource(inputs: tokens, labels: labels, sampleShape: [5], classCount: 3)
        m.prepare(maxBatch: 32)
        Array(0..<32).withUnsafeBufferPointer { m.fill(data, indices: $0) }
        var losses: [Double] = []
        for _ in 0..<60 { losses.append(m.trainStep(batch: 32).lossSum / 32) }
        #expect(abs(losses[0] - log(3)) < 0.3)
        #expect(losses.last! < 0.3, "losses \(losses.first!) -> \(losses.last!)")
    }

    static let sequenceModelJSON = #"""
    {"name": "tiny-text", "inputs": [{"name": "tokens", "shape": [5]}],
     "layers": [
       {"type": "Embedding", "name": "tok", "inputs": ["tokens"], "input_dim": 11, "output_dim": 8},
       {"type": "PositionEmbedding", "name": "pos", "sequence_length": 6},
       {"type": "LayerNormalization", "name": "ln1"},
       {"type": "Dense", "name": "up", "units": 12, "activation": "gelu"},
       {"type": "Dense", "name": "down", "units": 8},
       {"type": "Dropout", "name": "drop", "rate": 0},
       {"type": "Add", "name": "res", "inputs": ["pos", "drop"]},
       {"type": "LayerNormalization", "name": "ln2", "epsilon": 1e-5},
       {"type": "GELU", "name": "act", "approximate": true},
       {"type": "Activation", "name": "squash", "activation": "tanh"},
       {"type": "Flatten", "name": "flat"},
       {"type": "Dense", "name": "head", "units": 3, "activation": "softmax"}]}
    """#

    // MARK: Sequences through the elementwise layers

    @Test func elementwiseLayersKeepSequenceShapes() throws {
        let x = values(2 * 4 * 6, seed: 12, scale: 2)
        // Softmax acts on each row of the last axis.
        let softmax = try LayerRun(ActivationLayer(.softmax), inputShape: [4, 6], batch: 2)
        let p = softmax.forward(x)
        #expect(softmax.layer.outputShape == [4, 6])
        for r in 0..<8 { #expect(abs(p[r * 6..<(r + 1) * 6].reduce(0, +) - 1) < 1e-5) }
        checkLayerGradients(softmax, x: x, dy: values(48, seed: 13))

        // Dropout: identity in inference; in training every value is 0 or 2x, and the
        // gradient takes the same mask.
        let dropout = try LayerRun(Dropout(rate: 0.5), inputShape: [4, 6], batch: 2)
        #expect(dropout.forward(x) == x)
        let y = dropout.forward(x, training: true)
        #expect(zip(y, x).allSatisfy { $0 == 0 || $0 == 2 * $1 })
        #expect(y.contains(0) && y.contains { $0 != 0 })
        let dy = values(48, seed: 14)
        let dx = try #require(dropout.backward(dy).dx)
        for i in x.indices { #expect(dx[i] == (y[i] == 0 ? 0 : 2 * dy[i])) }

        // Add: elementwise over [T, D]; each input's gradient is the output's.
        let add = Add()
        #expect(try add.build(inputShapes: [[4, 6], [4, 6], [4, 6]]) == [4, 6])
        #expect(throws: ModelError.self) { try Add().build(inputShapes: [[4, 6], [6, 4]]) }
        add.allocate(maxBatch: 2, needsInputGradients: [true, false, true])
        let a = values(48, seed: 15), b = values(48, seed: 16), c = values(48, seed: 17)
        let sum: [Float] = a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeBufferPointer { cp in
            let ins = [ap.baseAddress!, bp.baseAddress!, cp.baseAddress!]
            return ins.withUnsafeBufferPointer { Array(UnsafeBufferPointer(start: add.forward(inputs: $0.baseAddress!, count: 3, batch: 2, training: false), count: 48)) }
        } } }
        for i in 0..<48 { #expect(sum[i] == a[i] + b[i] + c[i]) }
        var d = dy
        let grads = UnsafeMutablePointer<UnsafeMutablePointer<Float>?>.allocate(capacity: 3)
        defer { grads.deallocate() }
        d.withUnsafeMutableBufferPointer { add.backward($0.baseAddress!, batch: 2, inputGradients: grads, count: 3) }
        #expect(grads[1] == nil)
        #expect(Array(UnsafeBufferPointer(start: grads[2]!, count: 48)) == dy)
    }

    // MARK: Incremental decoding

    /// Decoding positions 0..<T one at a time through `layer` equals the rows of one forward.
    func expectDecodingMatchesForward(_ layer: any IncrementalLayer, inputShape: [Int], input x: [Float],
                                      sourceLocation: SourceLocation = #_sourceLocation) throws {
        let run = try LayerRun(layer, inputShape: inputShape, batch: 1, seed: 21)
        if layer is LayerNormalization {
            run.parameterValues = values(layer.parameterCount, seed: 22, scale: 0.5).map { $0 + 0.5 }
        }
        let full = run.forward(x)
        let t = inputShape[0], inRow = x.count / t, outRow = full.count / t
        layer.beginDecoding(maxLength: t)
        for position in 0..<t {
            let row: [Float] = x.withUnsafeBufferPointer { xp in
                var p = UnsafePointer(xp.baseAddress! + position * inRow)
                return withUnsafePointer(to: &p) { Array(UnsafeBufferPointer(start: layer.decodeStep($0, count: 1, position: position), count: outRow)) }
            }
            #expect(row == Array(full[position * outRow..<(position + 1) * outRow]), "position \(position)", sourceLocation: sourceLocation)
        }
    }

    @Test func positionWiseLayersDecodeOnePositionAtATime() throws {
        let x = values(5 * 8, seed: 23, scale: 2)
        try expectDecodingMatchesForward(Embedding(inputDim: 11, outputDim: 8), inputShape: [5], input: [3, 0, 10, 3, 7])
        try expectDecodingMatchesForward(PositionEmbedding(sequenceLength: 9), inputShape: [5, 8], input: x)
        try expectDecodingMatchesForward(LayerNormalization(), inputShape: [5, 8], input: x)
        try expectDecodingMatchesForward(GELU(), inputShape: [5, 8], input: x)
        try expectDecodingMatchesForward(GELU(approximate: true), inputShape: [5, 8], input: x)
        for a in Activation.allCases {
            try expectDecodingMatchesForward(Dense(units: 6, activation: a), inputShape: [5, 8], input: x)
            try expectDecodingMatchesForward(ActivationLayer(a), inputShape: [5, 8], input: x)
        }
        try expectDecodingMatchesForward(Dropout(rate: 0.3), inputShape: [5, 8], input: x)
    }

    /// A whole graph decoded position by position (Add taking two rows) equals the model's
    /// own forward pass, row for row.
    @Test func aSequenceGraphDecodesOnePositionAtATime() throws {
        let json = #"""
        {"name": "rows", "inputs": [{"name": "tokens", "shape": [6]}],
         "layers": [
           {"type": "Embedding", "name": "tok", "inputs": ["tokens"], "input_dim": 11, "output_dim": 8},
           {"type": "PositionEmbedding", "name": "pos", "sequence_length": 8},
           {"type": "LayerNormalization", "name": "ln"},
           {"type": "Dense", "name": "up", "units": 16, "activation": "gelu_tanh"},
           {"type": "GELU", "name": "act"},
           {"type": "Dense", "name": "down", "units": 8},
           {"type": "Dropout", "name": "drop", "rate": 0.1},
           {"type": "Add", "name": "res", "inputs": ["pos", "drop"]},
           {"type": "Activation", "name": "sq", "activation": "sigmoid"},
           {"type": "Dense", "name": "logits", "units": 11}]}
        """#
        let m = try ModelDescription.parse(Data(json.utf8)).makeModel(seed: 4)
        m.compile(optimizer: SGD(learningRate: 0))
        #expect(m.outputShape == [6, 11])
        let tokens: [Float] = [1, 4, 4, 10, 0, 7]
        m.prepare(maxBatch: 1)
        let source = ArrayBatchSource(inputs: tokens, labels: [0], sampleShape: [6], classCount: 66)
        [0].withUnsafeBufferPointer { m.fill(source, indices: $0) }
        let full = Array(UnsafeBufferPointer(start: m.predictStep(batch: 1), count: 66))

        let layers = try m.layers.map { try #require($0 as? any IncrementalLayer, "\($0.typeName) decodes") }
        for l in layers { l.beginDecoding(maxLength: 6) }
        let n = m.inputs.count
        let rows = UnsafeMutablePointer<UnsafePointer<Float>?>.allocate(capacity: n + layers.count)
        let gathered = UnsafeMutablePointer<UnsafePointer<Float>>.allocate(capacity: 4)
        defer { rows.deallocate(); gathered.deallocate() }
        try tokens.withUnsafeBufferPointer { tp in
            for position in 0..<6 {
                rows[0] = tp.baseAddress! + position
                for (j, l) in layers.enumerated() {
                    let ins = m.layerInputs[j]
                    for (k, t) in ins.enumerated() { gathered[k] = rows[t]! }
                    rows[n + j] = l.decodeStep(gathered, count: ins.count, position: position)
                }
                let out = Array(UnsafeBufferPointer(start: try #require(rows[n + layers.count - 1]), count: 11))
                let expected = Array(full[position * 11..<(position + 1) * 11])
                #expect(zip(out, expected).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($1)) }, "position \(position)")
            }
        }
    }

    // MARK: Model JSON

    @Test func modelJSONRoundTrips() throws {
        let d = try ModelDescription.parse(Data(Self.sequenceModelJSON.utf8))
        let again = try ModelDescription.parse(Data(d.jsonString().utf8))
        #expect(again == d)
        let a = try d.makeModel(seed: 9), b = try again.makeModel(seed: 9)
        #expect(a.parameters.array == b.parameters.array)
        #expect(a.layers.map(\.typeName) == ["Embedding", "PositionEmbedding", "LayerNormalization", "Dense", "Dense", "Dropout",
                                             "Add", "LayerNormalization", "GELU", "Activation", "Flatten", "Dense"])
        // Parameters by their contract names and shapes.
        #expect(a.layers[0].parameters == [ParameterSpec(name: "embeddings", shape: [11, 8])])
        #expect(a.layers[1].parameters == [ParameterSpec(name: "embeddings", shape: [6, 8])])
        #expect(a.layers[2].parameters == [ParameterSpec(name: "gamma", shape: [8]), ParameterSpec(name: "beta", shape: [8])])
        #expect(a.layers[3].parameters.map(\.name) == ["kernel", "bias"])
        // Defaults written back: epsilon 0.001, approximate false, the layer's own configuration.
        let ln = try #require(a.layers[2].configuration.options as? LayerNormalization.Options)
        #expect(ln.epsilon == 0.001)
        let gelu = try JSONDecoder().decode(LayerConfiguration.self, from: Data(#"{"type": "GELU"}"#.utf8))
        #expect((gelu.options as? GELU.Options)?.approximate == false)
        #expect(a.layers.map(\.configuration.optionsJSON) == d.layers.map(\.optionsJSON))
        #expect(a.layers.map(\.name) == d.layers.map(\.name))
        // Initial values: ones and zeros for the normalisation, small normal embeddings.
        let p = a.parameters.array
        let offset = a.parameterOffsets[2]
        #expect(p[offset..<offset + 8].allSatisfy { $0 == 1 } && p[offset + 8..<offset + 16].allSatisfy { $0 == 0 })
        let table = p[0..<88]
        let sd = (table.map { Double($0 * $0) }.reduce(0, +) / 88).squareRoot()
        #expect(sd > 0.01 && sd < 0.03)
        // A PositionEmbedding without sequence_length takes the input's T, and writes nothing back.
        let pos = try JSONDecoder().decode(LayerConfiguration.self, from: Data(#"{"type": "PositionEmbedding"}"#.utf8))
        let layer = try pos.options.makeLayer()
        #expect(try layer.build(inputShape: [5, 8]) == [5, 8])
        #expect(layer.parameters == [ParameterSpec(name: "embeddings", shape: [5, 8])])
        #expect(String(decoding: try JSONEncoder().encode(layer.configuration), as: UTF8.self).contains("sequence_length") == false)
    }

    /// flopsPerSample of Dense counts every row of a sequence.
    @Test func denseCountsTheFLOPsOfEveryRow() throws {
        let dense = Dense(units: 6)
        _ = try dense.build(inputShape: [5, 8])
        #expect(dense.flopsPerSample == LayerFLOPs(forward: 2 * 8 * 6 * 5, weightGradient: 2 * 8 * 6 * 5, inputGradient: 2 * 8 * 6 * 5))
        #expect(dense.parameters == [ParameterSpec(name: "kernel", shape: [8, 6]), ParameterSpec(name: "bias", shape: [6])])
        // Adam is fused into backward for a flat input only (the many-rows backward stores the gradient).
        #expect(dense.fusedParameterCount == 0)
        let flat = Dense(units: 6)
        _ = try flat.build(inputShape: [8])
        #expect(flat.fusedParameterCount == 48)
    }

    // MARK: Bad input

    @Test(arguments: [
        (#"{"inputs": [{"name": "x", "shape": [5, 8]}], "layers": [{"type": "Embedding", "input_dim": 10, "output_dim": 4}]}"#,
         "Embedding needs token ids of shape [T], got shape [5, 8]"),
        (#"{"input_shape": [5], "layers": [{"type": "Embedding", "input_dim": -3, "output_dim": 4}]}"#,
         "positive input_dim and output_dim"),
        (#"{"input_shape": [5], "layers": [{"type": "Embedding", "input_dim": 10}]}"#, "missing 'output_dim'"),
        (#"{"input_shape": [5], "layers": [{"type": "Embedding", "input_dim": 100000, "output_dim": 4}]}"#,
         "'input_dim' 100000 is larger than"),
        (#"{"input_shape": [5, 8], "layers": [{"type": "LayerNormalization", "epsilon": 0}]}"#,
         "LayerNormalization epsilon must be a positive number, got 0.0"),
        (#"{"input_shape": [5, 8], "layers": [{"type": "LayerNormalization", "epsilon": -1}]}"#,
         "epsilon must be a positive number"),
        (#"{"input_shape": [5, 8], "layers": [{"type": "LayerNormalization", "axis": 1}]}"#,
         "unknown option 'axis' (expected epsilon, inputs, name)"),
        (#"{"input_shape": [5, 8], "layers": [{"type": "PositionEmbedding", "sequence_length": 4}]}"#,
         "sequence_length must be at least the input's 5 positions, got 4"),
        (#"{"input_shape": [5], "layers": [{"type": "PositionEmbedding"}]}"#,
         "PositionEmbedding needs a sequence input [T, D], got shape [5]"),
        (#"{"input_shape": [5, 8], "layers": [{"type": "GELU", "approximate": "yes"}]}"#, "'approximate' has the wrong type"),
        (#"{"input_shape": [5, 8], "layers": [{"type": "Dense", "units": 3, "activation": "swish"}]}"#, "'activation'"),
        (#"{"input_shape": [6, 6, 1], "layers": [{"type": "Conv2D", "filters": 2, "kernel_size": 3, "activation": "gelu"}]}"#,
         "Conv2D does not take activation 'gelu'; add a GELU layer after it"),
    ])
    func badOptionsGiveOneLineErrors(json: String, message: String) {
        #expect { try ModelDescription.parse(Data(json.utf8)).makeModel() } throws: { error in
            let text = "\(error)"
            return error is ModelError && text.contains(message) && !text.contains("\n")
        }
    }
}
