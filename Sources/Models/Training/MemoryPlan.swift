/// Where a model puts the outputs that live only during the forward pass, and which layers
/// recompute their input in backward instead of keeping it (docs/architecture.md, "Memory of
/// a training step"). Made by `Model.prepare(maxBatch:)` from the graph and the layers'
/// capabilities alone.
///
/// A layer's output is transient when it is not the model's output, its own backward does not
/// read it (``TransientOutputLayer``), and every layer taking it either keeps no input
/// (``InputFreeBackward``) or takes it as its only input and has it recomputed by the
/// producer (``InputRecomputingLayer`` over an ``OutputRecomputable``). A transient output
/// lives from its producer's forward pass to its last consumer's; outputs whose lives overlap
/// get disjoint places in one buffer (first fit, in layer order), which the model shares with
/// the backward scratch: no forward output is read in backward.
struct MemoryPlan {
    /// For each layer, the offset in floats of its output in the shared buffer (nil: its own buffer).
    private(set) var transientOffsets: [Int?]
    /// For each layer, the layer that recomputes its input in backward (nil: it keeps the input).
    private(set) var recomputedInputProducer: [Int?]
    /// Floats of the shared buffer the transient outputs need.
    private(set) var transientCount = 0

    /// - Parameters:
    ///   - layers: the model's layers in execution order.
    ///   - layerInputs: for each layer, the tensors it takes (ids: model inputs first, then
    ///     layer j's output at `inputCount + j`).
    ///   - inputCount: the model's inputs.
    ///   - outputTensor: the model's output tensor.
    ///   - tensorSizes: values per sample of each tensor.
    ///   - maxBatch: samples per batch at most.
    init(layers: [any Layer], layerInputs: [[Int]], inputCount n: Int, outputTensor: Int,
         tensorSizes: [Int], maxBatch: Int) {
        transientOffsets = Array(repeating: nil, count: layers.count)
        recomputedInputProducer = Array(repeating: nil, count: layers.count)
        var consumers = Array(repeating: [Int](), count: n + layers.count)
        for (j, ins) in layerInputs.enumerated() { for t in Set(ins) { consumers[t].append(j) } }

        // Places in use: (offset, count, last layer that reads it).
        var live: [(offset: Int, count: Int, until: Int)] = []
        for (p, layer) in layers.enumerated() {
            live.removeAll { $0.until < p }
            let t = n + p
            guard t != outputTensor, !consumers[t].isEmpty,
                  let producer = layer as? any TransientOutputLayer, !producer.backwardReadsOutput else { continue }
            let recomputable = (layer as? any OutputRecomputable)?.canRecomputeOutput ?? false
            var recomputing: [Int] = []
            let fits = consumers[t].allSatisfy { c in
                if layers[c] is any InputFreeBackward { return true }
                if recomputable, layers[c] is any InputRecomputingLayer, layerInputs[c] == [t] {
                    recomputing.append(c)
                    return true
                }
                return false
            }
            guard fits else { continue }
            // 16 floats (64 bytes) apart, as FloatBuffer aligns.
            let count = (maxBatch * tensorSizes[t] + 15) / 16 * 16
            var offset = 0
            for place in live.sorted(by: { $0.offset < $1.offset }) {
                if offset + count <= place.offset { break }
                offset = max(offset, place.offset + place.count)
            }
            live.append((offset, count, consumers[t].max()!))
            transientOffsets[p] = offset
            transientCount = max(transientCount, offset + count)
            for c in recomputing { recomputedInputProducer[c] = p }
        }
    }
}
