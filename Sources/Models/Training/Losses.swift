import Foundation
import Tensor

/// The losses, by Keras's names. Targets are class labels; the losses that need vectors
/// (categorical cross-entropy, binary cross-entropy, mean squared error over several units)
/// use the label's one-hot vector, and a single output unit takes the label itself (0 or 1).
public enum Loss: String, Codable, Sendable, CaseIterable {
    case sparseCategoricalCrossentropy = "sparse_categorical_crossentropy"
    case categoricalCrossentropy = "categorical_crossentropy"
    case binaryCrossentropy = "binary_crossentropy"
    case meanSquaredError = "mean_squared_error"

    /// Whether this loss fuses with a softmax output (it then receives logits).
    var fusesWithSoftmax: Bool {
        self == .sparseCategoricalCrossentropy || self == .categoricalCrossentropy
    }

    /// Keras clips probabilities to [epsilon, 1 - epsilon] before taking logs.
    static let epsilon: Float = 1e-7

    /// Computes the loss of `batch` rows of `outputs` (B, C) against `labels`, and if
    /// `gradient` is given writes d(mean loss)/d(outputs) into it, the mean taken over
    /// `divisor` rows (nil: the rows counted here). A row whose label is negative is ignored
    /// (PyTorch's `ignore_index`; docs/transformer.md): no loss, zero gradient, not counted.
    /// `fused` means the outputs are logits of a softmax that this loss owns; `probabilities`
    /// then receives the softmax. Returns the loss summed over the counted rows, the number of
    /// correct predictions among them (argmax, or p > 0.5 for one unit), and the counted rows.
    func evaluate(
        outputs: UnsafePointer<Float>, labels: UnsafePointer<Int32>, batch: Int, classes: Int,
        fused: Bool, probabilities: UnsafeMutablePointer<Float>, gradient: UnsafeMutablePointer<Float>?,
        divisor: Int? = nil
    ) -> (lossSum: Double, correct: Int, counted: Int) {
        if fused {
            let r = softmaxCrossEntropyForward(outputs, labels: labels, probs: probabilities, batch: batch, classes: classes)
            if let gradient {
                softmaxCrossEntropyBackward(probs: probabilities, labels: labels, gradient, batch: batch, classes: classes,
                                            divisor: divisor ?? r.counted)
            }
            return r
        }
        var counted = 0
        for i in 0..<batch where labels[i] >= 0 { counted += 1 }
        let n = divisor ?? counted
        var lossSum = 0.0
        var correct = 0
        let invB: Float = n > 0 ? 1 / Float(n) : 0
        for i in 0..<batch {
            let p = outputs + i * classes
            let label = Int(labels[i])
            let g = gradient.map { $0 + i * classes }
            guard label >= 0 else {
                g?.update(repeating: 0, count: classes)
                continue
            }
            if classes == 1 {
                if (p[0] > 0.5) == (label == 1) { correct += 1 }
            } else {
                var best = 0
                for j in 1..<classes where p[j] > p[best] { best = j }
                if best == label { correct += 1 }
            }
            func target(_ j: Int) -> Float { classes == 1 ? Float(label) : (j == label ? 1 : 0) }
            switch self {
            case .sparseCategoricalCrossentropy, .categoricalCrossentropy:
                // -sum_j y_j log p_j with p clipped; only the label's term is non-zero.
                let j = classes == 1 ? 0 : label
                let pj = min(max(p[j], Loss.epsilon), 1 - Loss.epsilon)
                lossSum -= Double(logf(pj))
                if let g {
                    for k in 0..<classes { g[k] = 0 }
                    g[j] = -invB / pj
                }
            case .binaryCrossentropy:
                // J = -1/m sum(y log a + (1 - y) log(1 - a)), averaged over the units as Keras.
                var rowLoss = 0.0
                for j in 0..<classes {
                    let a = min(max(p[j], Loss.epsilon), 1 - Loss.epsilon)
                    let y = target(j)
                    rowLoss -= Double(y * logf(a) + (1 - y) * logf(1 - a))
                    g?[j] = (a - y) / (a * (1 - a)) * invB / Float(classes)
                }
                lossSum += rowLoss / Double(classes)
            case .meanSquaredError:
                var rowLoss = 0.0
                for j in 0..<classes {
                    let d = p[j] - target(j)
                    rowLoss += Double(d * d)
                    g?[j] = 2 * d * invB / Float(classes)
                }
                lossSum += rowLoss / Double(classes)
            }
        }
        return (lossSum, correct, counted)
    }
}
