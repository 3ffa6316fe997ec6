/// Plain loop implementations of every optimised kernel, written for clarity, not speed.
/// The tests compare each fast kernel against its twin here (llm.c style); nothing in
/// the training path calls them.
public enum Reference {
    /// C = alpha * op(A) * op(B) + beta * C, row-major, by the textbook triple loop in Double.
    ///
    /// - Parameters:
    ///   - transposeA: Use A^T: A is stored (K, M).
    ///   - transposeB: Use B^T: B is stored (N, K).
    ///   - m: Rows of op(A) and C.
    ///   - n: Columns of op(B) and C.
    ///   - k: The inner dimension.
    ///   - alpha: Scale of the product.
    ///   - a: A, row-major.
    ///   - b: B, row-major.
    ///   - beta: Scale of `c`.
    ///   - c: C's previous contents (M, N).
    /// - Returns: The new C (M, N).
    public static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, a: [Float], b: [Float], beta: Float, c: [Float]
    ) -> [Float] {
        var out = c
        for i in 0..<m {
            for j in 0..<n {
                var acc = 0.0
                for p in 0..<k {
                    let av = transposeA ? a[p * m + i] : a[i * k + p]
                    let bv = transposeB ? b[j * k + p] : b[p * n + j]
                    acc += Double(av) * Double(bv)
                }
                out[i * n + j] = Float(Double(alpha) * acc + Double(beta) * Double(c[i * n + j]))
            }
        }
        return out
    }

    /// Direct convolution, no im2col: out[b, oy, ox, co] = bias[co] +
    /// sum_{ky,kx,ci} inp[b, oy*sh+ky-pt, ox*sw+kx-pl, ci] * w[(ky*KW+kx)*Cin+ci, co].
    ///
    /// - Parameters:
    ///   - inp: The input images (B, H, W, Cin).
    ///   - weight: The kernel (KH*KW*Cin, Cout).
    ///   - bias: One value per output channel, or nil for none.
    ///   - g: The convolution.
    /// - Returns: The output (B, OH, OW, Cout), before any activation.
    public static func conv2d(_ inp: [Float], weight: [Float], bias: [Float]?, _ g: ConvGeometry) -> [Float] {
        var out = [Float](repeating: 0, count: g.outputCount)
        for b in 0..<g.batch {
            for oy in 0..<g.outHeight {
                for ox in 0..<g.outWidth {
                    for co in 0..<g.outChannels {
                        var acc = Double(bias?[co] ?? 0)
                        for ky in 0..<g.kernelHeight {
                            for kx in 0..<g.kernelWidth {
                                let iy = oy * g.strideHeight + ky - g.padTop
                                let ix = ox * g.strideWidth + kx - g.padLeft
                                guard iy >= 0, iy < g.height, ix >= 0, ix < g.width else { continue }
                                for ci in 0..<g.inChannels {
                                    let x = inp[((b * g.height + iy) * g.width + ix) * g.inChannels + ci]
                                    let w = weight[((ky * g.kernelWidth + kx) * g.inChannels + ci) * g.outChannels + co]
                                    acc += Double(x) * Double(w)
                                }
                            }
                        }
                        out[((b * g.outHeight + oy) * g.outWidth + ox) * g.outChannels + co] = Float(acc)
                    }
                }
            }
        }
        return out
    }

    /// Max-pool by scanning each window; padded pixels are skipped.
    ///
    /// - Parameters:
    ///   - inp: The input images (B, H, W, C).
    ///   - g: The pool.
    /// - Returns: The pooled output (B, OH, OW, C).
    public static func maxPool(_ inp: [Float], _ g: PoolGeometry) -> [Float] {
        var out = [Float](repeating: -.infinity, count: g.outputCount)
        for b in 0..<g.batch {
            for oy in 0..<g.outHeight {
                for ox in 0..<g.outWidth {
                    for c in 0..<g.channels {
                        var m = -Float.infinity
                        for py in 0..<g.poolHeight {
                            for px in 0..<g.poolWidth {
                                let iy = oy * g.strideHeight + py - g.padTop
                                let ix = ox * g.strideWidth + px - g.padLeft
                                guard iy >= 0, iy < g.height, ix >= 0, ix < g.width else { continue }
                                m = max(m, inp[((b * g.height + iy) * g.width + ix) * g.channels + c])
                            }
                        }
                        out[((b * g.outHeight + oy) * g.outWidth + ox) * g.channels + c] = m
                    }
                }
            }
        }
        return out
    }

    /// out (B, OUT) = inp (B, IN) * w (IN, OUT) + bias.
    ///
    /// - Parameters:
    ///   - inp: The input (B, IN).
    ///   - weight: The kernel (IN, OUT).
    ///   - bias: One value per output, or nil for none.
    ///   - batch: Rows (B).
    ///   - inFeatures: Inputs per sample (IN).
    ///   - outFeatures: Outputs per sample (OUT).
    /// - Returns: The output (B, OUT).
    public static func dense(_ inp: [Float], weight: [Float], bias: [Float]?, batch: Int, inFeatures: Int, outFeatures: Int) -> [Float] {
        var out = [Float](repeating: 0, count: batch * outFeatures)
        for b in 0..<batch {
            for o in 0..<outFeatures {
                var acc = Double(bias?[o] ?? 0)
                for i in 0..<inFeatures { acc += Double(inp[b * inFeatures + i]) * Double(weight[i * outFeatures + o]) }
                out[b * outFeatures + o] = Float(acc)
            }
        }
        return out
    }

    /// Mean over the counted rows (those with a label >= 0) of -log(softmax(z)[label]), in Double.
    ///
    /// - Parameters:
    ///   - logits: The (B, C) logits.
    ///   - labels: One class index per row, negative to ignore the row; B is `labels.count`.
    ///   - classes: Columns (C).
    /// - Returns: The mean loss over the counted rows.
    public static func softmaxCrossEntropy(_ logits: [Float], labels: [Int32], classes: Int) -> Double {
        let batch = labels.count
        var total = 0.0
        var counted = 0
        for b in 0..<batch where labels[b] >= 0 {
            counted += 1
            let row = logits[(b * classes)..<((b + 1) * classes)].map(Double.init)
            let m = row.max()!
            let lse = m + _log(row.reduce(0) { $0 + _exp($1 - m) })
            total += lse - row[Int(labels[b])]
        }
        return total / Double(counted)
    }
}

import Foundation
private func _log(_ x: Double) -> Double { Foundation.log(x) }
private func _exp(_ x: Double) -> Double { Foundation.exp(x) }

extension Reference {
    /// One Adam update element by element, in the order the formula is written.
    ///
    /// - Parameters:
    ///   - w: The parameters, updated.
    ///   - g: Their gradients.
    ///   - m: The first moments, updated.
    ///   - v: The second moments, updated.
    ///   - alpha: `lr * sqrt(1 - beta2^t) / (1 - beta1^t)` for step t.
    ///   - beta1: Decay of the first moment.
    ///   - beta2: Decay of the second moment.
    ///   - epsilon: Added to `sqrt(v)`.
    public static func adamUpdate(
        parameters w: inout [Float], gradients g: [Float], m: inout [Float], v: inout [Float],
        alpha: Float, beta1: Float, beta2: Float, epsilon: Float
    ) {
        for i in w.indices {
            m[i] += (g[i] - m[i]) * (1 - beta1)
            v[i] += (g[i] * g[i] - v[i]) * (1 - beta2)
            w[i] -= m[i] * alpha / (v[i].squareRoot() + epsilon)
        }
    }

    /// One AdamW step element by element, PyTorch's `torch.optim.AdamW` as its source writes
    /// it: decay first, then the moments, then the bias-corrected update.
    ///
    /// - Parameters:
    ///   - w: The parameters, updated.
    ///   - g: Their gradients.
    ///   - m: The first moments, updated.
    ///   - v: The second moments, updated.
    ///   - decays: Per parameter, whether weight decay applies.
    ///   - step: The step number t, from 1.
    ///   - lr: The learning rate.
    ///   - beta1: Decay of the first moment.
    ///   - beta2: Decay of the second moment.
    ///   - epsilon: Added to the bias-corrected `sqrt(v)`.
    ///   - weightDecay: The decoupled decay coefficient.
    public static func adamWUpdate(
        parameters w: inout [Float], gradients g: [Float], m: inout [Float], v: inout [Float], decays: [Bool],
        step: Int, lr: Float, beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float
    ) {
        let bc1 = 1 - pow(Double(beta1), Double(step)), bc2 = 1 - pow(Double(beta2), Double(step))
        for i in w.indices {
            if decays[i] { w[i] *= 1 - lr * weightDecay }
            m[i] = m[i] * beta1 + (1 - beta1) * g[i]
            v[i] = v[i] * beta2 + (1 - beta2) * g[i] * g[i]
            let denom = Double(v[i]).squareRoot() / bc2.squareRoot() + Double(epsilon)
            w[i] = Float(Double(w[i]) - Double(lr) / bc1 * Double(m[i]) / denom)
        }
    }

    /// The Euclidean norm of all the values, in Double.
    public static func globalNorm(_ x: [Float]) -> Double {
        x.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
    }
}
