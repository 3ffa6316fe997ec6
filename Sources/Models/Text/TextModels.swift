import Foundation

/// The built-in text models (docs/transformer.md, "Built-in models"): pre-LayerNorm
/// Transformer blocks on byte embeddings with learned positions, the shape of nanoGPT's CPU
/// preset (4 layers, 4 heads, width 128, context 64; 867,328 parameters for `gpt-mini`).
public enum TextModels {
    /// The built-in text models by name, with the objective each trains on.
    public static let objectives: [String: TextObjective] = ["gpt-mini": .causal, "bert-mini": .masked]
    /// The default context length of the built-in text models.
    public static let defaultContext = 64

    /// A decoder (`gpt-mini`: causal attention, next-byte objective) or an encoder
    /// (`bert-mini`: bidirectional attention, a mask token, masked-language-model objective).
    /// - Parameters:
    ///   - name: the model's name (`gpt-mini`, `bert-mini`).
    ///   - objective: causal (a GPT) or masked (a BERT).
    ///   - context: positions per sample.
    ///   - layers: Transformer blocks.
    ///   - heads: attention heads per block.
    ///   - width: the embedding width (`D`; the MLP has `4 D`).
    public static func description(name: String, objective: TextObjective, context: Int = defaultContext,
                                   layers: Int = 4, heads: Int = 4, width: Int = 128) -> ModelDescription {
        let causal = objective == .causal
        var list: [[String: Any]] = [
            ["type": "Embedding", "name": "token_embedding", "input_dim": causal ? 256 : 257, "output_dim": width],
            ["type": "PositionEmbedding", "name": "position_embedding", "sequence_length": context],
        ]
        var residual = "position_embedding"
        for i in 0..<layers {
            let p = "h\(i)_"
            list += [
                ["type": "LayerNormalization", "name": p + "ln_1", "epsilon": 1e-5, "inputs": [residual]],
                ["type": "MultiHeadAttention", "name": p + "attention", "num_heads": heads, "causal": causal],
                ["type": "Add", "name": p + "add_1", "inputs": [residual, p + "attention"]],
                ["type": "LayerNormalization", "name": p + "ln_2", "epsilon": 1e-5],
                ["type": "Dense", "name": p + "mlp_fc", "units": 4 * width, "activation": "gelu"],
                ["type": "Dense", "name": p + "mlp_proj", "units": width],
                ["type": "Add", "name": p + "add_2", "inputs": [p + "add_1", p + "mlp_proj"]],
            ]
            residual = p + "add_2"
        }
        list += [
            ["type": "LayerNormalization", "name": "ln_f", "epsilon": 1e-5],
            ["type": "Dense", "name": "head", "units": 256, "activation": "softmax"],
        ]
        let top: [String: Any] = [
            "name": name, "inputs": [["name": "tokens", "shape": [context]]], "layers": list,
            "loss": Loss.sparseCategoricalCrossentropy.rawValue,
        ]
        do {
            return try ModelDescription.parse(JSONSerialization.data(withJSONObject: top))
        } catch {
            preconditionFailure("the built-in text model \(name) does not parse: \(error)")
        }
    }

    /// `gpt-mini` or `bert-mini` for a context length, or nil for another name.
    public static func builtIn(_ name: String, context: Int = defaultContext) -> ModelDescription? {
        objectives[name].map { description(name: name, objective: $0, context: context) }
    }
}
