import Testing
@testable import Models

/// A model's backward against central differences of its mean loss over the counted rows in each
/// `stride`-th parameter: eps 3e-3 on Float parameters, the loss summed in Double from Float
/// rows; tolerance 1e-2 relative plus 1e-4 absolute (the Float rounding of the loss, ~1e-7,
/// divided by 2 eps, and the curvature of tanh, sigmoid and softmax at this eps). Returns how
/// many parameters were checked.
func checkModelGradients(_ m: Model, _ data: ArrayBatchSource, batch: Int, stride step: Int = 1,
                         sourceLocation: SourceLocation = #_sourceLocation) -> Int {
    m.prepare(maxBatch: batch)
    let idx = Array(0..<batch)
    idx.withUnsafeBufferPointer { m.fill(data, indices: $0) }
    _ = m.computeGradients(batch: batch)
    let analytic = m.gradients.array
    // The mean over the counted rows, as the training loss (a sequence has a label per position).
    let counted = Double(m.countedLabels(batch: batch))
    func lossAt() -> Double { m.evaluateStep(batch: batch).lossSum / counted }
    var checked = 0
    for i in stride(from: 0, to: m.parameterCount, by: step) {
        let p = m.parameters.pointer + i
        let saved = p.pointee
        p.pointee = saved + 3e-3
        let up = lossAt()
        p.pointee = saved - 3e-3
        let down = lossAt()
        let h = Double(saved + 3e-3) - Double(saved - 3e-3)
        p.pointee = saved
        let numeric = (up - down) / h
        #expect(abs(Double(analytic[i]) - numeric) <= 1e-2 * abs(numeric) + 1e-4, "parameter \(i)", sourceLocation: sourceLocation)
        checked += 1
    }
    return checked
}

