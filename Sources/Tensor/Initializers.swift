/// Keras's weight initialisers.
public enum Initializer {
    /// Glorot (Xavier) uniform: U(-limit, limit) with `limit = sqrt(6 / (fanIn + fanOut))`,
    /// which keeps the variance of activations and of gradients about equal across layers.
    /// Keras's fans: Dense `(in, out)`; Conv2D `(kh*kw*cin, kh*kw*cout)`.
    ///
    /// - Parameters:
    ///   - fanIn: Inputs that feed one output unit.
    ///   - fanOut: Outputs that one input unit feeds.
    /// - Returns: `sqrt(6 / (fanIn + fanOut))`.
    public static func glorotUniformLimit(fanIn: Int, fanOut: Int) -> Float {
        (6.0 / Float(fanIn + fanOut)).squareRoot()
    }

    /// Fills `out` from U(-limit, limit), ``glorotUniformLimit(fanIn:fanOut:)``: Keras's
    /// `glorot_uniform` (the same distribution, drawn from fmctl's generator).
    ///
    /// - Parameters:
    ///   - out: The kernel to fill.
    ///   - fanIn: Inputs that feed one output unit.
    ///   - fanOut: Outputs that one input unit feeds.
    ///   - rng: The seeded generator; advanced by `out.count` draws.
    public static func glorotUniform(
        _ out: UnsafeMutableBufferPointer<Float>, fanIn: Int, fanOut: Int,
        rng: inout Xoshiro256
    ) {
        let limit = glorotUniformLimit(fanIn: fanIn, fanOut: fanOut)
        for i in out.indices { out[i] = rng.nextFloat(in: -limit, limit) }
    }

    /// Keras's `zeros` (biases).
    ///
    /// - Parameter out: The values to set to zero.
    public static func zeros(_ out: UnsafeMutableBufferPointer<Float>) {
        out.update(repeating: 0)
    }

    /// Normal with mean 0 and standard deviation `standardDeviation` (Keras's
    /// `RandomNormal(stddev=...)`; GPT-2's embeddings use 0.02).
    ///
    /// - Parameters:
    ///   - out: The values to fill.
    ///   - standardDeviation: The spread.
    ///   - rng: The seeded generator; advanced by `out.count` draws.
    public static func normal(_ out: UnsafeMutableBufferPointer<Float>, standardDeviation: Float, rng: inout Xoshiro256) {
        for i in out.indices { out[i] = rng.nextNormal() * standardDeviation }
    }
}
