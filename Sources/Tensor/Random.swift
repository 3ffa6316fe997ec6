import Foundation

/// SplitMix64 (Steele, Lea and Flood): one word of state, each output a mix of the state after
/// adding the golden ratio. It seeds ``Xoshiro256`` and turns a (seed, index) pair into
/// independent draws without a shared generator (the text windows' masks).
public struct SplitMix: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// xoshiro256** (Blackman and Vigna), seeded through SplitMix64: the same seed gives the
/// same sequence on every machine and every Swift version, unlike the standard library's
/// `SystemRandomNumberGenerator`. Used for initial weights, shuffling and dropout masks.
public struct Xoshiro256: RandomNumberGenerator, Sendable, Equatable, Codable {
    /// The generator's four words of state.
    public private(set) var state: (UInt64, UInt64, UInt64, UInt64)

    /// A generator whose state is four SplitMix64 outputs from `seed`, as the authors advise.
    ///
    /// - Parameter seed: Any value; equal seeds give equal sequences.
    public init(seed: UInt64) {
        var sm = SplitMix(seed: seed)
        state = (sm.next(), sm.next(), sm.next(), sm.next())
    }

    /// Restores a generator from a saved state (checkpoints, resume).
    ///
    /// - Parameter words: Four words, as ``stateWords`` returned them (another count traps).
    public init(state words: [UInt64]) {
        precondition(words.count == 4, "xoshiro256 state is four words")
        state = (words[0], words[1], words[2], words[3])
    }

    /// The state as four words, to save and restore with ``init(state:)``.
    public var stateWords: [UInt64] { [state.0, state.1, state.2, state.3] }

    /// The next 64 random bits (xoshiro256**).
    ///
    /// - Returns: A uniformly distributed UInt64.
    public mutating func next() -> UInt64 {
        let result = rotl(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = rotl(state.3, 45)
        return result
    }

    /// Uniform in [0, 1) with 24 random bits: every Float32 value it returns is exact.
    ///
    /// - Returns: A multiple of 2^-24 in [0, 1).
    public mutating func nextUnitFloat() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// Uniform in [low, high).
    ///
    /// - Parameters:
    ///   - low: The smallest value returned.
    ///   - high: The bound no value reaches.
    /// - Returns: `low + (high - low) * nextUnitFloat()`.
    public mutating func nextFloat(in low: Float, _ high: Float) -> Float {
        low + (high - low) * nextUnitFloat()
    }

    /// Standard normal by Box-Muller in Double (one value per call; the second is dropped
    /// so that the sequence does not depend on how many values a caller draws).
    ///
    /// - Returns: A sample of N(0, 1); two draws of the underlying generator.
    public mutating func nextNormal() -> Float {
        let u1 = (Double(next() >> 11) + 1) * (1.0 / 9_007_199_254_740_993.0)  // (0, 1]
        let u2 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }

    /// Uniform integer in [0, bound) without modulo bias (Lemire's method).
    ///
    /// - Parameter bound: A positive bound (zero or less traps).
    /// - Returns: An integer in `0..<bound`.
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0)
        let b = UInt64(bound)
        var m = next().multipliedFullWidth(by: b)
        if m.low < b {
            let threshold = (0 &- b) % b
            while m.low < threshold { m = next().multipliedFullWidth(by: b) }
        }
        return Int(m.high)
    }

    /// Whether two generators are in the same state (and so will produce the same sequence).
    ///
    /// - Parameters:
    ///   - l: A generator.
    ///   - r: Another generator.
    /// - Returns: True when their state words are equal.
    public static func == (l: Xoshiro256, r: Xoshiro256) -> Bool { l.stateWords == r.stateWords }

    /// Decodes the state from an array of four words.
    ///
    /// - Parameter decoder: The decoder to read from.
    /// - Throws: `DecodingError.dataCorrupted` when the array does not hold four words, or
    ///   the decoder's error when it is not an array of UInt64.
    public init(from decoder: any Decoder) throws {
        let words = try [UInt64](from: decoder)
        guard words.count == 4 else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                debugDescription: "xoshiro256 state needs four words"))
        }
        self.init(state: words)
    }

    /// Encodes the state as an array of four words.
    ///
    /// - Parameter encoder: The encoder to write to.
    /// - Throws: The encoder's error.
    public func encode(to encoder: any Encoder) throws { try stateWords.encode(to: encoder) }
}

@inline(__always) private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

/// Shuffles `indices` in place (Fisher-Yates) with a seeded generator.
///
/// - Parameters:
///   - indices: The values to permute, in place.
///   - rng: The generator; advanced by one bounded draw per element but the first.
package func shuffleIndices(_ indices: UnsafeMutableBufferPointer<Int>, using rng: inout Xoshiro256) {
    guard indices.count > 1 else { return }
    for i in stride(from: indices.count - 1, to: 0, by: -1) {
        let j = rng.nextInt(below: i + 1)
        indices.swapAt(i, j)
    }
}
