import Foundation
import Models

/// Keras-style progress: `Epoch 1/5`, then
/// `1688/1688 ━━━━━━━━━━━━━━━━━━━━ 9s 5ms/step - accuracy: 0.8594 - loss: 0.3988 - ...`.
/// On a terminal the bar is redrawn in place (at most ten times a second); otherwise only the
/// finished epoch's line is printed, so logs stay one line per epoch.
final class ProgressPrinter {
    let live: Bool
    /// Adds bits per byte (the loss over ln 2) for a text model, whose loss is in nats per byte.
    var bitsPerByte = false
    private var lastDraw: Double = -1

    init(live: Bool = isatty(STDOUT_FILENO) == 1) { self.live = live }

    func epochBegan(_ epoch: Int, of epochs: Int) {
        print("Epoch \(epoch)/\(epochs)")
        fflush(nil)
        lastDraw = -1
    }

    static func bar(_ done: Int, _ total: Int, width: Int = 20) -> String {
        let filled = total > 0 ? min(width, done * width / total) : width
        return String(repeating: "━", count: filled) + String(repeating: "─", count: width - filled)
    }

    /// Keras's elapsed time at the end of an epoch: whole seconds, however many (`75s`).
    static func elapsed(_ seconds: Double) -> String { String(format: "%.0fs", seconds) }

    /// Keras's ETA on the live bar: `h:mm:ss` past an hour, `m:ss` past a minute, else `Ns`.
    static func eta(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?s" }
        let s = Int(max(0, seconds))
        if seconds > 3600 { return String(format: "%d:%02d:%02d", s / 3600, s % 3600 / 60, s % 60) }
        if seconds > 60 { return String(format: "%d:%02d", s / 60, s % 60) }
        return "\(s)s"
    }

    /// Keras's `format_time`: whole seconds from one second a step (or a zero time), whole
    /// milliseconds from one millisecond, whole microseconds below; rounded as `%.0f` does.
    static func perStep(_ seconds: Double, steps: Int) -> String {
        guard steps > 0 else { return "" }
        let perStep = seconds / Double(steps)
        if perStep >= 1 || perStep == 0 { return String(format: "%.0fs/step", perStep) }
        if perStep >= 1e-3 { return String(format: "%.0fms/step", perStep * 1e3) }
        return String(format: "%.0fus/step", perStep * 1e6)
    }

    func batchEnded(_ logs: BatchLogs) {
        guard live else { return }
        guard logs.seconds - lastDraw >= 0.1 || logs.batch == logs.batches else { return }
        lastDraw = logs.seconds
        let timed = logs.batch - logs.startBatch   // a resumed epoch's earlier batches are not in `seconds`
        let eta = logs.seconds / Double(timed) * Double(logs.batches - logs.batch)
        let line = "\(logs.batch)/\(logs.batches) \(Self.bar(logs.batch, logs.batches)) \(Self.eta(eta)) \(Self.perStep(logs.seconds, steps: timed))"
            + String(format: " - accuracy: %.4f - loss: %.4f", logs.accuracy, logs.loss)
        print("\r\u{1B}[K" + line, terminator: "")
        fflush(nil)
    }

    /// The finished epoch's line; `extra` carries the footprint figures.
    func epochEnded(_ logs: EpochLogs, extra: String = "") {
        let total = logs.plannedBatches   // an interrupted epoch shows 412/1688
        var line = "\(logs.batches)/\(total) \(Self.bar(logs.batches, total)) \(Self.elapsed(logs.seconds)) \(Self.perStep(logs.trainSeconds, steps: logs.batches - logs.startBatch))"
        line += String(format: " - accuracy: %.4f - loss: %.4f", logs.accuracy, logs.loss)
        if bitsPerByte { line += String(format: " - bits_per_byte: %.4f", logs.loss / log(2)) }
        if let va = logs.validationAccuracy, let vl = logs.validationLoss {
            line += String(format: " - val_accuracy: %.4f - val_loss: %.4f", va, vl)
            if bitsPerByte { line += String(format: " - val_bits_per_byte: %.4f", vl / log(2)) }
        }
        if logs.interrupted { line += " - interrupted" }
        print((live ? "\r\u{1B}[K" : "") + line + extra)
        fflush(nil)
    }

    /// Keras's line after `evaluate`: `313/313 ━━━━ 1s 2ms/step - accuracy: ... - loss: ...`.
    static func evaluationLine(samples: Int, batchSize: Int, seconds: Double, accuracy: Double, loss: Double,
                               bitsPerByte: Bool = false) -> String {
        let steps = (samples + batchSize - 1) / batchSize
        return "\(steps)/\(steps) \(bar(steps, steps)) \(elapsed(seconds)) \(perStep(seconds, steps: steps))"
            + String(format: " - accuracy: %.4f - loss: %.4f", accuracy, loss)
            + (bitsPerByte ? String(format: " - bits_per_byte: %.4f", loss / log(2)) : "")
    }
}
