import Foundation
import Models
import Tensor

/// Post-training int8 quantisation (docs/compress.md): every Dense and Conv2D becomes its
/// quantised twin with symmetric per-output-channel int8 weights, and each such layer's input
/// gets a uint8 scale and zero point from the min/max of its values over calibration samples
/// (images, or text windows). Graph models keep their graph: only the layer types change.
public enum Quantization {
    /// The observed (min, max) of each Dense and Conv2D layer's input, by layer name, over
    /// `range` of `data`, forward in inference mode. Any graph works: each layer's input is the
    /// tensor its graph names (a transformer's position-wise Dense layers see all `B * T` rows;
    /// docs/compress.md, "Text models").
    public static func calibrate(_ model: Model, data: any LabeledBatchSource, range: Range<Int>,
                                 batchSize: Int = 256) -> [String: (min: Float, max: Float)] {
        var ranges: [String: (min: Float, max: Float)] = [:]
        let layers = model.layers
        model.forEachLayerInput(data, range: range, batchSize: batchSize) { j, p, count in
            let layer = layers[j]
            guard layer is Dense || layer is Conv2D else { return }
            var r = ranges[layer.name] ?? (Float.infinity, -Float.infinity)
            for i in 0..<count { r.min = min(r.min, p[i]); r.max = max(r.max, p[i]) }
            ranges[layer.name] = r
        }
        return ranges
    }

    /// Whether a layer stays float by default: the first layer, when it is a convolution over
    /// the model's input with patches of fewer than 16 values. Its int8 GEMM has K < 16 and is
    /// memory-bound, and on the reference CNN it measured slower than the fused float
    /// conv+ReLU+pool kernel it replaces (docs/compress.md).
    public static func staysFloat(_ model: Model, layerIndex j: Int) -> Bool {
        guard j == 0, let conv = model.layers[0] as? Conv2D else { return false }
        return conv.geometry.patchSize < 16
    }

    /// The int8 model of `model`, calibrated on `range` of `data`.
    /// - Parameters:
    ///   - model: the trained float model.
    ///   - data: the samples whose layer inputs set the activation scales (training data).
    ///   - range: the samples of `data` to calibrate on.
    ///   - keepFloat: the layers (by index) left in float; by default ``staysFloat(_:layerIndex:)``.
    ///   - batchSize: samples per calibration pass.
    /// - Throws: ``CompressionError`` for a model with no Dense or Conv2D layer.
    public static func quantize(_ model: Model, calibration data: any LabeledBatchSource, range: Range<Int>,
                                batchSize: Int = 256, keepFloat: ((Int) -> Bool)? = nil) throws -> Model {
        let keepFloat = keepFloat ?? { staysFloat(model, layerIndex: $0) }
        guard model.layers.contains(where: { $0 is Dense || $0 is Conv2D }) else {
            throw CompressionError("--int8: the model has no Dense or Conv2D layer to quantise")
        }
        let ranges = calibrate(model, data: data, range: range, batchSize: batchSize)
        var description = model.modelDescription
        for (j, layer) in model.layers.enumerated() where !keepFloat(j) {
            if let d = layer as? Dense {
                description.layers[j].options = QuantizedDense.Options(units: d.units, activation: d.activation)
            } else if let c = layer as? Conv2D, let o = c.configuration.options as? Conv2D.Options {
                description.layers[j].options = QuantizedConv2D.Options(o)
            }
        }
        let out = try description.makeModel(seed: 0)
        out.copyParameters(from: model)   // biases, and any layer left in float
        let source = Dictionary(uniqueKeysWithValues: model.namedParameters.map { ($0.name, $0) })
        let target = Dictionary(uniqueKeysWithValues: out.namedParameters.map { ($0.name, $0) })
        for case let layer as any Int8StoredLayer in out.layers {
            let w = source["\(layer.name)/kernel"]!
            let n = w.shape.last!, k = w.count / n
            quantizePerColumn(w.pointer, k: k, n: n, into: target["\(layer.name)/kernel"]!.pointer,
                              scales: target["\(layer.name)/kernel_scale"]!.pointer)
            let r = ranges[layer.name] ?? (0, 1)
            let q = activationQuantization(min: r.min, max: r.max)
            target["\(layer.name)/input_scale"]!.pointer.pointee = q.scale
            target["\(layer.name)/input_zero_point"]!.pointer.pointee = Float(q.zeroPoint)
            layer.parametersChanged()
        }
        return out
    }
}
