import Compression
import Foundation
import Models
import Testing
import Tensor
import TestSupport

/// int8 on sequences (docs/compress.md, "Text models"): QuantizedDense over the last axis of
/// `[T, F]`, its one-row decoding, and quantisation of a graph model (gpt-mini).
@Suite struct QuantizedSequenceTests {
    /// A built QuantizedDense with its parameters bound to `params`.
    final class Bound {
        let layer: QuantizedDense
        let params: FloatBuffer, grads: FloatBuffer
        init(units: Int, activation: Activation, inputShape: [Int], maxBatch: Int) throws {
            layer = QuantizedDense(units: units, activation: activation)
            _ = try layer.build(inputShape: inputShape)
            let count = layer.parameters.reduce(0) { $0 + $1.count }
            params = FloatBuffer(count: count); grads = FloatBuffer(count: count)
            layer.bind(parameters: params.pointer, gradients: grads.pointer)
            layer.allocate(maxBatch: maxBatch, needsInputGradient: false)
        }
    }

    /// Every row of a `[3, 5]` input against the formula computed with plain loops.
    @Test func quantizedDenseOnSequencesMatchesItsFormula() throws {
        let b = try Bound(units: 3, activation: .relu, inputShape: [3, 5], maxBatch: 2)
        #expect(b.layer.outputShape == [3, 3] && b.layer.rowsPerSample == 3)
        let kq: [Float] = [3, -127, 5, 60, 0, -1, 127, 2, -7, -50, 9, 11, 1, 1, -100]
        let scales: [Float] = [0.01, 0.02, 0.005], bias: [Float] = [0.1, -0.2, 0.05]
        let p = b.params.pointer
        p.update(from: kq, count: 15)
        (p + 15).update(from: scales, count: 3)
        (p + 18).update(from: bias, count: 3)
        p[21] = 0.02; p[22] = 50   // input scale, zero point
        b.layer.parametersChanged()
        var rng = Xoshiro256(seed: 4)
        let x = (0..<30).map { _ in rng.nextUnitFloat() * 6 - 2 }   // 2 samples x 3 rows x 5, some beyond the range
        let y = x.withUnsafeBufferPointer { b.layer.forward($0.baseAddress!, batch: 2, training: false) }
        for row in 0..<6 {
            for j in 0..<3 {
                var acc = 0
                for i in 0..<5 {
                    let q = Int(max(0, min(255, (x[row * 5 + i] * (1 / Float(0.02))).rounded(.toNearestOrEven) + 50)))
                    acc += (q - 50) * Int(kq[i * 3 + j])
                }
                let expected = max(0, Float(0.02) * scales[j] * Float(acc) + bias[j])
                #expect(abs(y[row * 3 + j] - expected) < 1e-5, "row \(row) unit \(j)")
            }
        }
    }

    /// Decoding one row at a time gives the full forward's rows.
    @Test func decodingOneRowEqualsTheFullForwardsRows() throws {
        for activation in [Activation.linear, .relu, .gelu] {
            let b = try Bound(units: 7, activation: activation, inputShape: [4, 9], maxBatch: 1)
            var rng = Xoshiro256(seed: 9)
            let p = b.params.pointer
            for i in 0..<(9 * 7) { p[i] = Float(Int(rng.nextInt(below: 255)) - 127) }
            for j in 0..<7 { p[63 + j] = 0.001 * Float(j + 1); p[70 + j] = Float(j) * 0.1 - 0.3 }
            p[77] = 0.01; p[78] = 100
            b.layer.parametersChanged()
            let x = (0..<36).map { _ in rng.nextUnitFloat() * 2 - 1 }
            let full = x.withUnsafeBufferPointer { Array(UnsafeBufferPointer(start: b.layer.forward($0.baseAddress!, batch: 1, training: false), count: 28)) }
            b.layer.beginDecoding(maxLength: 4)
            for t in 0..<4 {
                let row: [Float] = x.withUnsafeBufferPointer { xs in
                    var input = xs.baseAddress! + t * 9
                    return withUnsafePointer(to: &input) { Array(UnsafeBufferPointer(start: b.layer.decodeStep($0, count: 1, position: t), count: 7)) }
                }
                #expect(maxAbsDiff(row, Array(full[(t * 7)..<(t * 7 + 7)])) < 1e-5, "\(activation) row \(t)")
            }
        }
    }

    /// Token windows of a tiny gpt-mini: `count` windows of `context` bytes of a repeating text.
    static func windows(count: Int, context: Int) -> ArrayBatchSource {
        let text = Array("the quick brown fox jumps over the lazy dog. ".utf8)
        var x: [Float] = [], y: [Int32] = []
        for w in 0..<count {
            for t in 0..<context {
                x.append(Float(text[(w * 3 + t) % text.count]))
                y.append(Int32(text[(w * 3 + t + 1) % text.count]))
            }
        }
        return ArrayBatchSource(inputs: x, labels: y, sampleShape: [context], classCount: 256, labelsPerSample: context)
    }

    /// gpt-mini quantised: every Dense (and only those) becomes QuantizedDense with its name
    /// and inputs, the graph is kept, and the outputs stay within quantisation error.
    @Test func gptMiniQuantisesItsDenseLayersAndKeepsTheGraph() throws {
        let description = try #require(TextModels.builtIn("gpt-mini", context: 8))
        let model = try description.makeModel(seed: 3)
        let data = Self.windows(count: 24, context: 8)
        let q = try Quantization.quantize(model, calibration: data, range: 0..<24, batchSize: 8)
        let dense = model.layers.filter { $0 is Dense }.map(\.name)
        #expect(!dense.isEmpty)
        #expect(q.layers.filter { $0 is QuantizedDense }.map(\.name) == dense)
        #expect(!q.layers.contains { $0 is Dense })
        #expect(q.layers.filter { $0 is MultiHeadAttention }.count == model.layers.filter { $0 is MultiHeadAttention }.count)
        let qd = q.modelDescription, fd = model.modelDescription
        #expect(qd.inputs == fd.inputs && qd.layers.map(\.name) == fd.layers.map(\.name))
        #expect(qd.layers.map(\.inputs) == fd.layers.map(\.inputs))
        let pf = model.predict(data, batchSize: 8).scalars, pq = q.predict(data, batchSize: 8).scalars
        #expect(maxAbsDiff(pf, pq) < 0.02, "largest probability difference \(maxAbsDiff(pf, pq))")
        let rf = model.evaluate(data, batchSize: 8), rq = q.evaluate(data, batchSize: 8)
        #expect(abs(rq.loss - rf.loss) < 0.02 * rf.loss, "loss \(rq.loss) against \(rf.loss)")
    }

    /// The int8 gpt-mini decodes byte by byte (fmctl generate) to the full forward's rows.
    @Test func int8GptMiniDecodesLikeItsFullForward() throws {
        let model = try #require(TextModels.builtIn("gpt-mini", context: 8)).makeModel(seed: 5)
        let data = Self.windows(count: 16, context: 8)
        let q = try Quantization.quantize(model, calibration: data, range: 0..<16, batchSize: 8)
        let probabilities = q.predict(data, range: 0..<1, batchSize: 1).scalars   // (8 rows x 256)
        let generator = try TextGenerator(model: q)
        generator.reset()
        for t in 0..<8 {
            let logits = generator.feed(UInt8(data.inputs[t]))
            let top = logits.max()!
            let e = logits.map { expf($0 - top) }, sum = e.reduce(0, +)
            #expect(maxAbsDiff(e.map { $0 / sum }, Array(probabilities[(t * 256)..<((t + 1) * 256)])) < 1e-4, "position \(t)")
        }
    }
}
