import Foundation

/// Fused softmax + sparse categorical cross-entropy forward.
/// logits (B, C), labels (B) in [0, C); probs (B, C) receives the softmax. Returns the sum
/// over the batch of `logsumexp(z) - z[label]` (accumulated in Double) and the number of
/// rows whose argmax is the label. Computing the loss from log-sum-exp instead of
/// `-log(p)` keeps it finite when p underflows to 0.
///
/// - Parameters:
///   - logits: The (B, C) logits.
///   - labels: One class index per row, in `0..<classes`.
///   - probs: The (B, C) softmax, written (kept for backward).
///   - batch: Rows (B).
///   - classes: Columns (C).
/// - Returns: The loss summed over the batch (the mean times B) and the count of correct rows.
package func softmaxCrossEntropyForward(
    _ logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>,
    probs: UnsafeMutablePointer<Float>, batch: Int, classes: Int
) -> (lossSum: Double, correct: Int) {
    var lossSum = 0.0
    var correct = 0
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
        lossSum += Double(logf(s) + m - z[label])
        if best == label { correct += 1 }
    }
    return (lossSum, correct)
}

/// Gradient of the batch-mean loss with respect to the logits: (p - onehot(label)) / B,
/// where B is `batch` (the batch size the mean is taken over).
///
/// - Parameters:
///   - probs: The forward pass's (B, C) softmax.
///   - labels: One class index per row.
///   - dlogits: The (B, C) gradient with respect to the logits, overwritten.
///   - batch: Rows (B): the mean is over this many samples.
///   - classes: Columns (C).
package func softmaxCrossEntropyBackward(
    probs: UnsafePointer<Float>, labels: UnsafePointer<Int32>,
    _ dlogits: UnsafeMutablePointer<Float>, batch: Int, classes: Int
) {
    let inv = 1 / Float(batch)
    for i in 0..<batch {
        let p = probs + i * classes, d = dlogits + i * classes
        for j in 0..<classes { d[j] = p[j] * inv }
        d[Int(labels[i])] -= inv
    }
}
