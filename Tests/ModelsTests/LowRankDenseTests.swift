import Foundation
import Testing
@testable import Models

@Suite struct LowRankDenseTests {
    /// The fixture of scripts/torch-reference/low_rank_dense.py (PyTorch, float64).
    struct Fixture: Decodable {
        let labels: [Int32]
        let probabilities: [Double]
        let loss: Double
        let grad_kernel_u: [Double]
        let grad_kernel_v: [Double]
        let grad_bias: [Double]
    }

    static func fixture() throws -> Fixture {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/torch/low_rank_dense.json")
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }

    @Test func matchesPyTorch() throws {
        let f = try Self.fixture()
        let (b, input, r, units) = (3, 5, 2, 4)
        let m = try Sequential(inputShape: [input], layers: [LowRankDense(units: units, rank: r, activation: .softmax)])
        let params = Dictionary(uniqueKeysWithValues: m.namedParameters.map { ($0.name, $0) })
        let u = params["low_rank_dense/kernel_u"]!, v = params["low_rank_dense/kernel_v"]!, bias = params["low_rank_dense/bias"]!
        for i in 0..<input { for j in 0..<r { u.pointer[i * r + j] = Float(0.4 * cos(0.5 * Double(i) - 0.2 * Double(j))) } }
        for i in 0..<r { for j in 0..<units { v.pointer[i * units + j] = Float(0.3 * sin(0.9 * Double(i) + 0.4 * Double(j) + 0.2)) } }
        for j in 0..<units { bias.pointer[j] = Float(0.1 * (Double(j) - 1.5)) }
        var x: [Float] = []
        for i in 0..<b { for j in 0..<input { x.append(Float(sin(0.7 * Double(i) + 0.3 * Double(j) + 0.1))) } }
        let data = ArrayBatchSource(inputs: x, labels: f.labels, sampleShape: [input], classCount: units)
        let p = m.predict(data, batchSize: b)
        for i in 0..<(b * units) { #expect(abs(Double(p.scalars[i]) - f.probabilities[i]) < 1e-6, "probability \(i)") }
        m.prepare(maxBatch: b)
        Array(0..<b).withUnsafeBufferPointer { m.fill(data, indices: $0) }
        let loss = m.computeGradients(batch: b) / Double(b)
        #expect(abs(loss - f.loss) < 1e-6)
        let g = m.gradients.array
        let expected = f.grad_kernel_u + f.grad_kernel_v + f.grad_bias
        #expect(g.count == expected.count)
        for i in 0..<g.count { #expect(abs(Double(g[i]) - expected[i]) < 1e-6, "gradient \(i)") }
    }

    @Test func gradientsMatchFiniteDifferences() throws {
        let m = try Sequential(inputShape: [6], layers: [
            LowRankDense(units: 5, rank: 3, activation: .tanh), LowRankDense(units: 4, rank: 2, activation: .softmax),
        ], seed: 3)
        var x: [Float] = []
        for i in 0..<(4 * 6) { x.append(Float(sin(Double(i) * 0.37))) }
        let data = ArrayBatchSource(inputs: x, labels: [0, 1, 2, 3], sampleShape: [6], classCount: 4)
        #expect(checkModelGradients(m, data, batch: 4) == m.parameterCount)
    }

    @Test func refusesARankAboveTheKernel() {
        #expect(throws: ModelError.self) { try Sequential(inputShape: [6], layers: [LowRankDense(units: 4, rank: 5)]) }
    }

    @Test func roundTripsThroughModelJSONAndCheckpoints() throws {
        let json = #"{"name": "m", "input_shape": [6], "layers": [{"type": "LowRankDense", "units": 4, "rank": 2, "activation": "softmax"}]}"#
        let m = try ModelDescription.parse(Data(json.utf8)).makeModel(seed: 1)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lowrank-\(getpid())-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("model.safetensors").path
        try ModelCheckpoint.save(m, to: path)
        let loaded = try ModelCheckpoint.load(path: path).model
        #expect(loaded.layers.first is LowRankDense)
        #expect(loaded.flatParameters == m.flatParameters)
    }
}
