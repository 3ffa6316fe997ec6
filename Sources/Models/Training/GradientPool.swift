import Tensor

/// The buffers a model lends its layers for their input gradients during backward
/// (docs/architecture.md, "Memory of a training step"). Before each borrowing layer's
/// backward, the model marks busy every buffer that still holds a gradient not yet consumed;
/// `take` then lends the smallest free buffer that is large enough, or makes a new one. The
/// choices depend only on the graph, so the first training step sizes the pool and every later
/// step reuses the same buffers in the same order.
struct GradientPool {
    private var buffers: [FloatBuffer] = []
    private var busy: [Bool] = []

    /// The buffers' sizes, in the order they were made.
    var counts: [Int] { buffers.map(\.count) }

    /// Marks every buffer free (before the busy ones are marked again).
    mutating func release() {
        for i in busy.indices { busy[i] = false }
    }

    /// Marks busy the buffer that holds `pointer`, if any.
    mutating func markBusy(_ pointer: UnsafeMutablePointer<Float>) {
        for (i, b) in buffers.enumerated() where pointer >= b.pointer && pointer < b.pointer + b.count {
            busy[i] = true
        }
    }

    /// A free buffer of at least `count` floats, marked busy: the smallest that fits, or a new one.
    mutating func take(count: Int) -> UnsafeMutablePointer<Float> {
        var best: Int?
        for i in buffers.indices where !busy[i] && buffers[i].count >= count {
            if best == nil || buffers[i].count < buffers[best!].count { best = i }
        }
        if let best {
            busy[best] = true
            return buffers[best].pointer
        }
        buffers.append(FloatBuffer(count: count))
        busy.append(true)
        return buffers[buffers.count - 1].pointer
    }
}
