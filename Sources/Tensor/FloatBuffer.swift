/// A fixed-size, 64-byte aligned block of Float32s that a layer owns for the life of a
/// model: activations, gradients, im2col workspaces. Allocated once per (model, batch
/// size) so that the training step allocates nothing.
public final class FloatBuffer: @unchecked Sendable {
    /// The first element, 64-byte aligned; valid for the buffer's life.
    public let pointer: UnsafeMutablePointer<Float>
    /// Number of elements.
    public let count: Int

    /// Allocates `count` zeroed floats (at least one, so `pointer` is never dangling).
    ///
    /// - Parameter count: Number of elements.
    public init(count: Int) {
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: max(1, count) * MemoryLayout<Float>.stride, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(1, count))
        pointer.initialize(repeating: 0, count: max(1, count))
    }

    deinit { pointer.deallocate() }

    /// The elements as a buffer pointer, for initialisers and loops.
    public var buffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: pointer, count: count)
    }

    /// Sets every element to zero.
    public func zero() { pointer.update(repeating: 0, count: count) }

    /// A copy of the elements (allocates: for tests and checkpoints, not the training step).
    public var array: [Float] { Array(buffer) }
}

/// A fixed-size block of Int32s (max-pool argmax indices, batch labels).
public final class Int32Buffer: @unchecked Sendable {
    /// The first element; valid for the buffer's life.
    public let pointer: UnsafeMutablePointer<Int32>
    /// Number of elements.
    public let count: Int

    /// Allocates `count` zeroed integers (at least one).
    ///
    /// - Parameter count: Number of elements.
    public init(count: Int) {
        self.count = count
        pointer = UnsafeMutablePointer<Int32>.allocate(capacity: max(1, count))
        pointer.initialize(repeating: 0, count: max(1, count))
    }

    deinit { pointer.deallocate() }

    /// The elements as a buffer pointer.
    public var buffer: UnsafeMutableBufferPointer<Int32> {
        UnsafeMutableBufferPointer(start: pointer, count: count)
    }
}
