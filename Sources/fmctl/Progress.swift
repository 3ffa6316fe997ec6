import Foundation
import Models

/// Keras-style progress: `Epoch 1/5`, then
/// `1688/1688 ━━━━━━━━━━━━━━━━━━━━ 9s 5ms/step - accuracy: 0.8594 - loss: 0.3988 - ...`.
/// On a terminal the bar is redrawn in place (at most ten times a second); otherwise only the
/// finished epoch's line is printed, so logs stay one line per epoch.
final class ProgressPrinter {
    let live: Bool
    private var lastDraw: Double = -1
    /// Batches in the current epoch, from the batch logs: an interrupted epoch's line shows
    /// `412/1688`, not `412/412`.
    private var epochBatches: Int?

    init(live: Bool = isatty(STDOUT_FILENO) == 1) { self.live = live }

    func epochBegan(_ epoch: Int, of epochs: Int) {
        print("Epoch \(epoch)/\(epochs)")
        fflush(nil)
        lastDraw = -1
        epochBatches = nil
    }

    static func bar(_ done: Int, _ total: Int, width: Int = 20) -> String {
        let filled = total > 0 ? min(width, done * width / total) : width
        return String(repeating: "━", count: filled) + String(repeating: "─", count: width - filled)
    }

    static func duration(_ s: Double) -> String {
        s >= 3600 ? String(format: "%dh%02dm", Int(s) / 3600, Int(s) % 3600 / 60)
            : s >= 60 ? String(format: "%dm%02ds", Int(s) / 60, Int(s) % 60) : "\(Int(s.rounded()))s"
    }

    static func perStep(_ seconds: Double, steps: Int) -> String {
        guard steps > 0 else { return "" }
        let ms = seconds / Double(steps) * 1000
        return ms >= 1 ? "\(Int(ms.rounded()))ms/step" : "\(Int((ms * 1000).rounded()))us/step"
    }

    func batchEnded(_ logs: BatchLogs) {
        epochBatches = logs.batches
        guard live else { return }
        guard logs.seconds - lastDraw >= 0.1 || logs.batch == logs.batches else { return }
        lastDraw = logs.seconds
        let eta = logs.seconds / Double(logs.batch) * Double(logs.batches - logs.batch)
        let line = "\(logs.batch)/\(logs.batches) \(Self.bar(logs.batch, logs.batches)) \(Self.duration(eta)) \(Self.perStep(logs.seconds, steps: logs.batch))"
            + String(format: " - accuracy: %.4f - loss: %.4f", logs.accuracy, logs.loss)
        print("\r\u{1B}[K" + line, terminator: "")
        fflush(nil)
    }

    /// The finished epoch's line; `extra` carries the footprint figures.
    func epochEnded(_ logs: EpochLogs, extra: String = "") {
        let total = max(epochBatches ?? logs.batches, logs.batches)
        var line = "\(logs.batches)/\(total) \(Self.bar(logs.batches, total)) \(Self.duration(logs.seconds)) \(Self.perStep(logs.trainSeconds, steps: logs.batches))"
        line += String(format: " - accuracy: %.4f - loss: %.4f", logs.accuracy, logs.loss)
        if let va = logs.validationAccuracy, let vl = logs.validationLoss {
            line += String(format: " - val_accuracy: %.4f - val_loss: %.4f", va, vl)
        }
        if logs.interrupted { line += " - interrupted" }
        print((live ? "\r\u{1B}[K" : "") + line + extra)
        fflush(nil)
    }

    /// Keras's line after `evaluate`: `313/313 ━━━━ 1s 2ms/step - accuracy: ... - loss: ...`.
    static func evaluationLine(samples: Int, batchSize: Int, seconds: Double, accuracy: Double, loss: Double) -> String {
        let steps = (samples + batchSize - 1) / batchSize
        return "\(steps)/\(steps) \(bar(steps, steps)) \(duration(seconds)) \(perStep(seconds, steps: steps))"
            + String(format: " - accuracy: %.4f - loss: %.4f", accuracy, loss)
    }
}
