/// A dense, contiguous, row-major Float32 array with a shape. Images are NHWC.
///
/// `Tensor` is a value: copies share storage until one of them is written (the standard
/// library's copy-on-write `Array`). It is the convenient face of the engine; the training
/// step itself runs on caller-owned buffers through the kernels in `Kernels/`.
public struct Tensor: Equatable, Sendable, CustomStringConvertible {
    /// The dimensions, outermost first; `[]` is a scalar.
    public private(set) var shape: [Int]
    /// The elements in row-major order; `scalars.count` is the product of `shape`.
    public var scalars: [Float]

    /// A tensor from its shape and row-major elements.
    ///
    /// - Parameters:
    ///   - shape: Non-negative dimensions.
    ///   - scalars: Exactly `shape`'s product of elements, row-major (a mismatch traps).
    public init(shape: [Int], scalars: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        precondition(shape.reduce(1, *) == scalars.count,
                     "shape \(shape) needs \(shape.reduce(1, *)) scalars, got \(scalars.count)")
        self.shape = shape
        self.scalars = scalars
    }

    /// A rank-1 tensor.
    ///
    /// - Parameter scalars: The elements; the shape is `[scalars.count]`.
    public init(_ scalars: [Float]) { self.init(shape: [scalars.count], scalars: scalars) }

    /// A rank-2 tensor from rows of equal length.
    ///
    /// - Parameter rows: The rows, all of one length (unequal rows trap); the shape is
    ///   `[rows.count, rows[0].count]`.
    public init(_ rows: [[Float]]) {
        let cols = rows.first?.count ?? 0
        precondition(rows.allSatisfy { $0.count == cols }, "rows of unequal length")
        self.init(shape: [rows.count, cols], scalars: rows.flatMap { $0 })
    }

    /// A tensor with every element equal to `value`.
    ///
    /// - Parameters:
    ///   - value: The element.
    ///   - shape: The dimensions.
    public init(repeating value: Float, shape: [Int]) {
        self.init(shape: shape, scalars: [Float](repeating: value, count: shape.reduce(1, *)))
    }

    /// A tensor of zeros.
    ///
    /// - Parameter shape: The dimensions.
    /// - Returns: `shape`'s product of zeros.
    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(repeating: 0, shape: shape) }
    /// A tensor of ones.
    ///
    /// - Parameter shape: The dimensions.
    /// - Returns: `shape`'s product of ones.
    public static func ones(_ shape: [Int]) -> Tensor { Tensor(repeating: 1, shape: shape) }

    /// Uniform in [low, high) from a seeded generator.
    ///
    /// - Parameters:
    ///   - shape: The dimensions.
    ///   - low: The smallest value drawn.
    ///   - high: The bound no value reaches.
    ///   - rng: The generator; advanced by one draw per element, in row-major order.
    /// - Returns: A tensor of `shape` with independent uniform elements.
    public static func randomUniform(
        _ shape: [Int], low: Float = 0, high: Float = 1, rng: inout Xoshiro256
    ) -> Tensor {
        let n = shape.reduce(1, *)
        var s = [Float](repeating: 0, count: n)
        for i in 0..<n { s[i] = rng.nextFloat(in: low, high) }
        return Tensor(shape: shape, scalars: s)
    }

    /// Uniform in [low, high) from a fresh generator seeded with `seed`.
    ///
    /// - Parameters:
    ///   - shape: The dimensions.
    ///   - low: The smallest value drawn.
    ///   - high: The bound no value reaches.
    ///   - seed: The seed of a new ``Xoshiro256``: the same seed gives the same tensor everywhere.
    /// - Returns: A tensor of `shape` with independent uniform elements.
    public static func randomUniform(_ shape: [Int], low: Float = 0, high: Float = 1, seed: UInt64) -> Tensor {
        var rng = Xoshiro256(seed: seed)
        return randomUniform(shape, low: low, high: high, rng: &rng)
    }

    /// Normal with the given mean and standard deviation from a seeded generator.
    ///
    /// - Parameters:
    ///   - shape: The dimensions.
    ///   - mean: The distribution's mean.
    ///   - standardDeviation: The distribution's standard deviation.
    ///   - rng: The generator; advanced by two draws per element (``Xoshiro256/nextNormal()``).
    /// - Returns: A tensor of `shape` with independent normal elements.
    public static func randomNormal(
        _ shape: [Int], mean: Float = 0, standardDeviation: Float = 1, rng: inout Xoshiro256
    ) -> Tensor {
        let n = shape.reduce(1, *)
        var s = [Float](repeating: 0, count: n)
        for i in 0..<n { s[i] = mean + standardDeviation * rng.nextNormal() }
        return Tensor(shape: shape, scalars: s)
    }

    /// Normal with the given mean and standard deviation from a fresh generator seeded with `seed`.
    ///
    /// - Parameters:
    ///   - shape: The dimensions.
    ///   - mean: The distribution's mean.
    ///   - standardDeviation: The distribution's standard deviation.
    ///   - seed: The seed of a new ``Xoshiro256``.
    /// - Returns: A tensor of `shape` with independent normal elements.
    public static func randomNormal(_ shape: [Int], mean: Float = 0, standardDeviation: Float = 1, seed: UInt64) -> Tensor {
        var rng = Xoshiro256(seed: seed)
        return randomNormal(shape, mean: mean, standardDeviation: standardDeviation, rng: &rng)
    }

    /// Number of dimensions.
    public var rank: Int { shape.count }
    /// Number of elements.
    public var count: Int { scalars.count }

    /// The same scalars under another shape; one dimension may be -1 (inferred).
    ///
    /// - Parameter newShape: Dimensions whose product is ``count``, or with one `-1` that
    ///   takes whatever the others leave (a shape that cannot fit traps).
    /// - Returns: A tensor sharing these scalars in the same row-major order.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var dims = newShape
        if let i = dims.firstIndex(of: -1) {
            let known = dims.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
            precondition(known > 0 && count % known == 0, "cannot reshape \(shape) to \(newShape)")
            dims[i] = count / known
        }
        return Tensor(shape: dims, scalars: scalars)
    }

    /// Element at a multi-index.
    ///
    /// - Parameter index: One index per dimension, each in range (otherwise a trap).
    public subscript(_ index: Int...) -> Float {
        get { scalars[offset(index)] }
        set { scalars[offset(index)] = newValue }
    }

    private func offset(_ index: [Int]) -> Int {
        precondition(index.count == shape.count, "index rank \(index.count) for shape \(shape)")
        var o = 0
        for (i, d) in zip(index, shape) {
            precondition(i >= 0 && i < d, "index \(index) out of range for shape \(shape)")
            o = o * d + i
        }
        return o
    }

    /// The shape and the first eight scalars.
    public var description: String { "Tensor(shape: \(shape), scalars: \(scalars.prefix(8))\(count > 8 ? "..." : ""))" }
}
