import Foundation
import FMSupport
import Footprint
import Reports

/// A non-negative quantity known exactly (`low == high`) or only as a range `low..high`.
///
/// Every formula of a projection is a product and quotient of non-negative inputs, each input
/// appearing once, so each is monotone in every input: increasing in the factors, decreasing
/// in the divisors. Evaluating it at the endpoints is then exact, and that is what these
/// operators do: a product takes low x low and high x high, a quotient low / high and high /
/// low (more utilisation, fewer days). A formula that used one input twice (the accelerator
/// count in both the duration and the energy) would widen the range; `Projection` arranges
/// its formulas so that none does.
public struct Interval: Sendable, Equatable, CustomStringConvertible {
    public var low: Double
    public var high: Double

    public init(_ value: Double) {
        low = value
        high = value
    }

    public init(low: Double, high: Double) {
        self.low = low
        self.high = high
    }

    public var isExact: Bool { low == high }

    public var description: String { isExact ? "\(low)" : "\(low)..\(high)" }

    public static func * (a: Interval, b: Interval) -> Interval { Interval(low: a.low * b.low, high: a.high * b.high) }
    public static func * (a: Interval, b: Double) -> Interval { a * Interval(b) }
    /// `b` must be positive: the callers divide only by quantities validated > 0.
    public static func / (a: Interval, b: Interval) -> Interval { Interval(low: a.low / b.high, high: a.high / b.low) }
    public static func / (a: Interval, b: Double) -> Interval { a / Interval(b) }

    /// Parses `12`, `1.5e23` or a range `0.3..0.5` given for `option`; a range's ends may be
    /// equal. Throws `FootprintError.invalidOption` (exit 64) for text that is neither, a
    /// range whose low end is above its high end, and a value outside `allowed` (named by
    /// `expected`, e.g. "a number > 0").
    public static func parse(_ text: String, option: String, expected: String,
                             allowed: (Double) -> Bool) throws -> Interval {
        let parts = text.components(separatedBy: "..")
        let numbers = parts.map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard (1...2).contains(parts.count), let low = numbers.first ?? nil, let high = numbers.last ?? nil,
              low.isFinite, high.isFinite else {
            throw FootprintError.invalidOption(option: option, value: text, expected: "\(expected), or a range a..b of them")
        }
        guard low <= high else {
            throw FootprintError.invalidOption(option: option, value: text, expected: "a range low..high with low <= high")
        }
        guard allowed(low), allowed(high) else {
            throw FootprintError.invalidOption(option: option, value: text, expected: expected)
        }
        return Interval(low: low, high: high)
    }
}
