import Foundation

/// x (rows, columns) += bias (columns), in place.
///
/// - Parameters:
///   - x: The (rows, columns) values, updated.
///   - bias: One value per column.
///   - rows: Rows of `x` (batch x positions).
///   - columns: Columns of `x` (features or channels).
package func biasForward(_ x: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>, rows: Int, columns: Int) {
    for i in 0..<rows {
        let row = x + i * columns
        for j in 0..<columns { row[j] += bias[j] }
    }
}

/// Fused bias + ReLU in one pass over x (rows, columns): x = max(0, x + bias), in place.
///
/// - Parameters:
///   - x: The (rows, columns) values, updated.
///   - bias: One value per column.
///   - rows: Rows of `x`.
///   - columns: Columns of `x`.
package func biasReLUForward(_ x: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>, rows: Int, columns: Int) {
    for i in 0..<rows {
        let row = x + i * columns
        for j in 0..<columns { row[j] = max(row[j] + bias[j], 0) }
    }
}

/// y = max(0, x) for n elements (y may alias x).
///
/// - Parameters:
///   - x: The input.
///   - y: The output, written.
///   - n: Number of elements.
package func reluForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count n: Int) {
    for i in 0..<n { y[i] = max(x[i], 0) }
}

/// ReLU backward from its output: dx = dy where y > 0, else 0 (dx may alias dy).
/// Using the output instead of the input lets the fused bias+ReLU run in place.
///
/// - Parameters:
///   - dy: Gradient with respect to the output.
///   - y: The forward pass's output.
///   - dx: Gradient with respect to the input, written.
///   - n: Number of elements.
package func reluBackward(_ dy: UnsafePointer<Float>, output y: UnsafePointer<Float>,
                         _ dx: UnsafeMutablePointer<Float>, count n: Int) {
    let zero = SIMD8<Float>()
    var i = 0
    while i + 8 <= n {
        var d = load8(dy + i)
        d.replace(with: zero, where: load8(y + i) .<= zero)
        store8(d, dx + i)
        i += 8
    }
    while i < n { dx[i] = y[i] > 0 ? dy[i] : 0; i += 1 }
}

/// y = 1 / (1 + exp(-x)), computed without overflow for large |x|.
///
/// - Parameters:
///   - x: The input.
///   - y: The output, written (may alias `x`).
///   - n: Number of elements.
package func sigmoidForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count n: Int) {
    for i in 0..<n {
        let v = x[i]
        if v >= 0 {
            y[i] = 1 / (1 + expf(-v))
        } else {
            let e = expf(v)
            y[i] = e / (1 + e)
        }
    }
}

/// dx = dy * y * (1 - y), from the output y.
///
/// - Parameters:
///   - dy: Gradient with respect to the output.
///   - y: The forward pass's output.
///   - dx: Gradient with respect to the input, written (may alias `dy`).
///   - n: Number of elements.
package func sigmoidBackward(_ dy: UnsafePointer<Float>, output y: UnsafePointer<Float>,
                            _ dx: UnsafeMutablePointer<Float>, count n: Int) {
    for i in 0..<n { dx[i] = dy[i] * y[i] * (1 - y[i]) }
}

/// y = tanh(x).
///
/// - Parameters:
///   - x: The input.
///   - y: The output, written (may alias `x`).
///   - n: Number of elements.
package func tanhForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count n: Int) {
    for i in 0..<n { y[i] = tanhf(x[i]) }
}

/// dx = dy * (1 - y^2), from the output y.
///
/// - Parameters:
///   - dy: Gradient with respect to the output.
///   - y: The forward pass's output.
///   - dx: Gradient with respect to the input, written (may alias `dy`).
///   - n: Number of elements.
package func tanhBackward(_ dy: UnsafePointer<Float>, output y: UnsafePointer<Float>,
                         _ dx: UnsafeMutablePointer<Float>, count n: Int) {
    for i in 0..<n { dx[i] = dy[i] * (1 - y[i] * y[i]) }
}

/// Row-wise softmax of x (rows, columns) into y, stable: exp(x - max(x)) / sum.
///
/// - Parameters:
///   - x: The (rows, columns) logits.
///   - y: The (rows, columns) probabilities, written (may alias `x`).
///   - rows: Rows (samples).
///   - columns: Columns (classes).
package func softmaxForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
    for i in 0..<rows {
        let xr = x + i * columns, yr = y + i * columns
        var m = -Float.infinity
        for j in 0..<columns { m = max(m, xr[j]) }
        var s: Float = 0
        for j in 0..<columns { let e = expf(xr[j] - m); yr[j] = e; s += e }
        let inv = 1 / s
        for j in 0..<columns { yr[j] *= inv }
    }
}

/// Softmax backward through its Jacobian, from the output y:
/// dx_j = y_j * (dy_j - sum_k y_k dy_k). Used when softmax is not fused with the loss.
///
/// - Parameters:
///   - dy: The (rows, columns) gradient with respect to the output.
///   - y: The forward pass's (rows, columns) output.
///   - dx: The (rows, columns) gradient with respect to the input, written (may alias `dy`).
///   - rows: Rows (samples).
///   - columns: Columns (classes).
package func softmaxBackward(_ dy: UnsafePointer<Float>, output y: UnsafePointer<Float>,
                            _ dx: UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
    for i in 0..<rows {
        let o = i * columns
        var dot: Float = 0
        for j in 0..<columns { dot += y[o + j] * dy[o + j] }
        for j in 0..<columns { dx[o + j] = y[o + j] * (dy[o + j] - dot) }
    }
}
