import Foundation

/// Fused softmax + sparse categorical cross-entropy forward.
/// logits (B, C), labels (B) in [0, C) or negative (an ignored row, PyTorch's
/// `ignore_index`; docs/transformer.md); probs (B, C) receives the softmax of every row.
/// Returns the sum over the counted rows of `logsumexp(z) - z[label]` (accumulated in
/// Double), the number of counted rows whose argmax is the label, and the counted rows. Computing the loss from log-sum-exp instead of
/// `-log(p)` keeps it finite when p underflows to 0.
///
/// - Parameters:
///   - logits: The (B, C) logits.
///   - labels: One class index per row, in `0..<classes`, or negative to ignore the row.
///   - probs: The (B, C) softmax, written (kept for backward).
///   - batch: Rows (B).
///   - classes: Columns (C).
/// - Returns: The loss summed over the counted rows, the count of correct rows, and the
///   counted rows (B when no label is negative).
package func softmaxCrossEntropyForward(
    _ logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>,
    probs: UnsafeMutablePointer<Float>, batch: Int, classes: Int
) -> (lossSum: Double, correct: Int, counted: Int) {
    var lossSum = 0.0
    var correct = 0
    var counted = 0
    for i in 0..<batch {
        let z = logits + i * classes, p = probs + i * classes
        var m = -Float.infinity
        var best = 0
        for j in 0..<classes where z[j] > m { m = z[j]; best = j }
        var s: Float = 0
        for j in 0..<classes { let e = expf(z[j] - m); p[j] = e; s += e }
        let inv = 1 / s
        for j in 0..<classes { p[j] *= inv }
        let label = Int(labels[i])
        guard label >= 0 else { continue }
        counted += 1
        lossSum += Double(logf(s) + m - z[label])
        if best == label { correct += 1 }
    }
    return (lossSum, correct, counted)
}

/// Gradient of the mean loss with respect to the logits: (p - onehot(label)) / N, where N is
/// `divisor` (the rows the mean is taken over: by default `batch`; the counted rows when some
/// labels are negative). An ignored row (negative label) gets a zero gradient.
///
/// - Parameters:
///   - probs: The forward pass's (B, C) softmax.
///   - labels: One class index per row.
///   - dlogits: The (B, C) gradient with respect to the logits, overwritten.
///   - batch: Rows (B).
///   - classes: Columns (C).
///   - divisor: The rows the mean is over (nil: `batch`); 0 gives zero gradients.
package func softmaxCrossEntropyBackward(
    probs: UnsafePointer<Float>, labels: UnsafePointer<Int32>,
    _ dlogits: UnsafeMutablePointer<Float>, batch: Int, classes: Int, divisor: Int? = nil
) {
    let n = divisor ?? batch
    let inv = n > 0 ? 1 / Float(n) : 0
    for i in 0..<batch {
        let p = probs + i * classes, d = dlogits + i * classes
        let label = Int(labels[i])
        guard label >= 0 else {
            d.update(repeating: 0, count: classes)
            continue
        }
        for j in 0..<classes { d[j] = p[j] * inv }
        d[label] -= inv
    }
}
