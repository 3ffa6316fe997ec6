import Foundation
import Testing
import Tensor
@testable import Models

/// The memory a model shares between its layers (docs/architecture.md, "Memory of a training
/// step"): the plan of transient outputs and recomputed inputs, the gradient pool, and training
/// with all of it against the same model with every layer owning its buffers.
@Suite struct MemoryPlanTests {
    /// A small GPT or BERT of the built-in shape: 2 blocks, 2 heads, width 8, 6 positions.
    static func textModel(_ objective: TextObjective, seed: UInt64 = 7) throws -> Model {
        try TextModels.description(name: "tiny", objective: objective, context: 6, layers: 2, heads: 2, width: 8)
            .makeModel(seed: seed)
    }

    /// Token windows and next-token labels (some ignored, as masked-LM rows are).
    static func tokens(count: Int, seed: UInt64, vocabulary: Int) -> ArrayBatchSource {
        var g = SplitMix64(seed: seed)
        let x = (0..<(count * 6)).map { _ in Float(Int.random(in: 0..<vocabulary, using: &g)) }
        let y = (0..<(count * 6)).map { i in i % 5 == 4 ? Int32(-1) : Int32(Int.random(in: 0..<256, using: &g)) }
        return ArrayBatchSource(inputs: x, labels: y, sampleShape: [6], classCount: 256, labelsPerSample: 6)
    }

    @Test func gptPlan_placesTheShortLivedOutputsAndRecomputesTheirReaders() throws {
        let m = try Self.textModel(.causal)
        m.prepare(maxBatch: 3)
        let plan = try #require(m.memoryPlan)
        let transient = Set(m.layers.indices.filter { plan.transientOffsets[$0] != nil }.map { m.layers[$0].name })
        #expect(transient == ["token_embedding", "h0_ln_1", "h0_attention", "h0_ln_2", "h0_mlp_fc", "h0_mlp_proj",
                              "h1_ln_1", "h1_attention", "h1_ln_2", "h1_mlp_fc", "h1_mlp_proj", "ln_f"])
        var recomputed: [String: String] = [:]
        for (j, p) in plan.recomputedInputProducer.enumerated() { if let p { recomputed[m.layers[j].name] = m.layers[p].name } }
        #expect(recomputed == ["h0_attention": "h0_ln_1", "h0_mlp_fc": "h0_ln_2", "h0_mlp_proj": "h0_mlp_fc",
                               "h1_attention": "h1_ln_1", "h1_mlp_fc": "h1_ln_2", "h1_mlp_proj": "h1_mlp_fc", "head": "ln_f"])

        // Outputs alive at the same time (producer to last reader) never share memory.
        let n = m.inputs.count
        var lives: [(range: ClosedRange<Int>, place: Range<Int>)] = []
        for (p, offset) in plan.transientOffsets.enumerated() {
            guard let offset else { continue }
            let readers = m.layerInputs.indices.filter { m.layerInputs[$0].contains(n + p) }
            lives.append((p...readers.max()!, offset..<(offset + 3 * m.tensorSizes[n + p])))
        }
        for a in lives.indices {
            for b in lives.indices where a < b && lives[a].range.overlaps(lives[b].range) {
                #expect(!lives[a].place.overlaps(lives[b].place), "\(lives[a]) and \(lives[b])")
            }
        }
        // The largest output (the MLP's 4 D) and the attention's or projection's D at once.
        #expect(plan.transientCount == 3 * 6 * (32 + 8))
    }

    /// Adam with weight decay and clipping, three steps on the same batches: the model sharing
    /// memory ends with exactly the parameters of the model whose layers own their buffers.
    @Test(arguments: [TextObjective.causal, .masked])
    func sharedMemory_trainsExactlyLikeOwnedBuffers(objective: TextObjective) throws {
        let data = Self.tokens(count: 12, seed: 3, vocabulary: objective == .causal ? 256 : 257)
        var results: [[Float]] = []
        var losses: [[Double]] = []
        for shares in [true, false] {
            let m = try Self.textModel(objective)
            m.sharesMemory = shares
            m.compile(optimizer: AdamW(learningRate: 0.01, weightDecay: 0.1))
            m.clipNorm = 0.5
            m.prepare(maxBatch: 4)
            var stepLosses: [Double] = []
            for step in 0..<3 {
                let idx = Array((4 * step)..<(4 * step + 4))
                idx.withUnsafeBufferPointer { m.fill(data, indices: $0) }
                stepLosses.append(m.trainStep(batch: 4).lossSum)
            }
            results.append(m.flatParameters)
            losses.append(stepLosses)
            #expect(shares == (m.memoryPlan != nil))
        }
        #expect(results[0] == results[1])
        #expect(losses[0] == losses[1])
    }

    /// The model's backward with every sharing in place, against central differences.
    @Test func sharedMemory_gradientsMatchFiniteDifferences() throws {
        let m = try Self.textModel(.causal, seed: 4)
        m.compile(optimizer: SGD(learningRate: 0))
        // Tables of sd 1 (as the sequence graph's check): rows of sd 0.02 sit near LayerNorm's epsilon.
        let tables = m.layers[0].parameterCount + m.layers[1].parameterCount
        var g = SplitMix64(seed: 9)
        for i in 0..<tables { m.parameters.pointer[i] = Float.random(in: -1.7...1.7, using: &g) }
        #expect(checkModelGradients(m, Self.tokens(count: 3, seed: 5, vocabulary: 256), batch: 3, stride: 7) > 300)
        #expect(m.memoryPlan != nil)
    }

    /// The pool is sized by the first step and reused as is by the next ones, with fewer
    /// buffers than the layers that borrow from it.
    @Test func gradientPool_isSizedByTheFirstStep() throws {
        let m = try Self.textModel(.causal)
        m.compile(optimizer: AdamW())
        m.prepare(maxBatch: 4)
        let data = Self.tokens(count: 4, seed: 1, vocabulary: 256)
        Array(0..<4).withUnsafeBufferPointer { m.fill(data, indices: $0) }
        _ = m.trainStep(batch: 4)
        let first = m.gradientPoolCounts
        _ = m.trainStep(batch: 4)
        _ = m.trainStep(batch: 2)
        #expect(m.gradientPoolCounts == first)
        let borrowers = m.layers.filter { ($0 as? any GradientBorrowingLayer).map { !$0.lentGradientCounts.isEmpty } ?? false }
        #expect(!first.isEmpty && first.count < borrowers.count)
        // Turned off, the next batch size gives every layer its own buffers again.
        m.sharesMemory = false
        m.prepare(maxBatch: 3)
        Array(0..<3).withUnsafeBufferPointer { m.fill(data, indices: $0) }
        #expect(m.trainStep(batch: 3).lossSum.isFinite)
        #expect(m.memoryPlan == nil && m.gradientPoolCounts.isEmpty)
    }

    /// A model's layer called by itself after the model's forward pass (as a benchmark does
    /// layer by layer): with no buffer lent, it makes its own and gives the same gradients.
    @Test func borrowingLayer_runByItself_makesItsOwnBuffer() throws {
        let data = Self.tokens(count: 2, seed: 8, vocabulary: 256)
        var inputGradients: [[Float]] = []
        for shares in [true, false] {
            let m = try Self.textModel(.causal)
            m.sharesMemory = shares
            m.prepare(maxBatch: 2)
            Array(0..<2).withUnsafeBufferPointer { m.fill(data, indices: $0) }
            _ = m.forward(batch: 2, training: true)
            var got: [Float] = []
            for name in ["h1_mlp_proj", "h1_attention"] {
                let layer = try #require(m.layers.first { $0.name == name })
                var dy = (0..<(2 * layer.outputCount)).map { Float($0 % 13) / 13 - 0.5 }
                let dx = try #require(dy.withUnsafeMutableBufferPointer { layer.backward($0.baseAddress!, batch: 2) })
                got += Array(UnsafeBufferPointer(start: dx, count: 2 * 6 * 32 / (name == "h1_attention" ? 4 : 1)))
            }
            inputGradients.append(got)
        }
        #expect(inputGradients[0] == inputGradients[1])
        #expect(inputGradients[0].contains { $0 != 0 })
    }

    @Test func gradientPool_lendsTheSmallestFreeBufferThatFits() {
        var pool = GradientPool()
        let a = pool.take(count: 8), b = pool.take(count: 32)
        #expect(pool.counts == [8, 32])
        pool.release()
        pool.markBusy(a + 3)   // a pointer inside a buffer marks it busy
        #expect(pool.take(count: 4) == b)
        #expect(pool.counts == [8, 32])
        pool.release()
        #expect(pool.take(count: 4) == a)
        #expect(pool.take(count: 4) == b)
        _ = pool.take(count: 4)   // none free: a third buffer
        #expect(pool.counts == [8, 32, 4])
    }
}
