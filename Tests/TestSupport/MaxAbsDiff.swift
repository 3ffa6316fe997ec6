/// The largest |a - b| over two arrays of the same length; NaN when any pair differs by NaN (a
/// value never written, or a kernel's NaN), so that both `< tolerance` and `> threshold` checks
/// fail on it.
public func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    var largest: Float = 0
    for (x, y) in zip(a, b) {
        let d = abs(x - y)
        if d.isNaN { return .nan }
        largest = max(largest, d)
    }
    return largest
}
