// Reductions along one axis, or over all elements.

extension Tensor {
    /// Splits the shape around `axis` into (outer, size, inner) for strided reductions.
    private func around(_ axis: Int) -> (outer: Int, size: Int, inner: Int, rest: [Int]) {
        let a = axis < 0 ? axis + rank : axis
        precondition(a >= 0 && a < rank, "axis \(axis) out of range for shape \(shape)")
        var rest = shape
        rest.remove(at: a)
        return (shape[..<a].reduce(1, *), shape[a], shape[(a + 1)...].reduce(1, *), rest)
    }

    private func reduce(axis: Int, _ body: (_ values: (Int) -> Float, _ size: Int) -> Float) -> Tensor {
        let (outer, size, inner, rest) = around(axis)
        var out = [Float](repeating: 0, count: outer * inner)
        scalars.withUnsafeBufferPointer { s in
            for o in 0..<outer {
                for i in 0..<inner {
                    out[o * inner + i] = body({ s[(o * size + $0) * inner + i] }, size)
                }
            }
        }
        return Tensor(shape: rest, scalars: out)
    }

    /// Sum of all elements, accumulated in Double.
    ///
    /// - Returns: The sum, rounded to Float once.
    public func sum() -> Float { Float(scalars.reduce(0.0) { $0 + Double($1) }) }
    /// Mean of all elements, accumulated in Double.
    ///
    /// - Returns: The mean; NaN for an empty tensor.
    public func mean() -> Float { count == 0 ? .nan : Float(scalars.reduce(0.0) { $0 + Double($1) } / Double(count)) }

    /// Sums along one axis, accumulated in Double.
    ///
    /// - Parameter axis: The dimension to sum over; negative counts from the end (-1 is the last).
    /// - Returns: A tensor of the shape without `axis`.
    public func sum(axis: Int) -> Tensor {
        reduce(axis: axis) { v, n in
            var acc = 0.0
            for j in 0..<n { acc += Double(v(j)) }
            return Float(acc)
        }
    }

    /// Means along one axis, accumulated in Double.
    ///
    /// - Parameter axis: The dimension to average over; negative counts from the end.
    /// - Returns: A tensor of the shape without `axis`; NaN where the axis is empty.
    public func mean(axis: Int) -> Tensor {
        reduce(axis: axis) { v, n in
            var acc = 0.0
            for j in 0..<n { acc += Double(v(j)) }
            return n == 0 ? .nan : Float(acc / Double(n))
        }
    }

    /// Index of the largest element along `axis` (the first one on ties), as Ints.
    ///
    /// - Parameter axis: The dimension to search; negative counts from the end.
    /// - Returns: One index per position of the remaining dimensions, in row-major order
    ///   (for a (batch, classes) tensor and axis 1: the predicted class of each row).
    public func argmaxIndices(axis: Int) -> [Int] {
        let (outer, size, inner, _) = around(axis)
        var out = [Int](repeating: 0, count: outer * inner)
        for o in 0..<outer {
            for i in 0..<inner {
                var best = 0
                var bestValue = -Float.infinity
                for j in 0..<size {
                    let v = scalars[(o * size + j) * inner + i]
                    if v > bestValue { bestValue = v; best = j }
                }
                out[o * inner + i] = best
            }
        }
        return out
    }

    /// Index of the largest element along `axis` (the first one on ties), as Floats in a
    /// tensor of the remaining shape; see ``argmaxIndices(axis:)`` for Ints.
    ///
    /// - Parameter axis: The dimension to search; negative counts from the end.
    /// - Returns: A tensor of the shape without `axis`.
    public func argmax(axis: Int) -> Tensor {
        let idx = argmaxIndices(axis: axis)
        return Tensor(shape: around(axis).rest, scalars: idx.map(Float.init))
    }
}
