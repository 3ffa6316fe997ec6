import Foundation
import Testing
@testable import Models

/// Inputs found by the libFuzzer harnesses in Fuzz/ (`make fuzz`), and their near neighbours:
/// each crashed, trapped or aborted before its fix, and must now be a thrown error.
@Suite struct FuzzRegressionTests {
    /// A model JSON that parses, built as `fmctl train --model FILE` builds it.
    func build(_ json: String) throws -> Model {
        try ModelDescription.parse(Data(json.utf8)).makeModel(seed: 1)
    }

    func buildError(_ json: String) -> String? {
        do {
            _ = try build(json)
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// fuzz-model-json, crash-4ce5a6bd: a Dense layer of 42949672968 units (the seed CNN with
    /// "4294967296" spliced in from the dictionary) made `Sequential` ask for a 470 TB
    /// parameter buffer; AddressSanitizer aborted, a plain build would have died in malloc.
    @Test func denseWithBillionsOfUnits() {
        let error = buildError("""
            {"name": "cnn", "input_shape": [28, 28, 1], "layers": [
             {"type": "Conv2D", "filters": 4, "kernel_size": [3, 3], "activation": "relu"},
             {"type": "MaxPooling2D", "pool_size": [2, 2]}, {"type": "Flatten"},
             {"type": "Dense", "units": 42949672968, "activation": "relu"},
             {"type": "Dense", "units": 10, "activation": "softmax"}],
             "loss": "sparse_categorical_crossentropy"}
            """)
        #expect(error == "layer 4 (Dense): 'units' 42949672968 is larger than \(ModelDescription.maximumSize)")
    }

    /// Sizes whose arithmetic overflowed Int (a trap) in the layers' shape or parameter counts.
    @Test(arguments: [
        // Dense kernel inFeatures * units.
        #"{"input_shape": [784], "layers": [{"type": "Dense", "units": 9223372036854775807}]}"#,
        // Flatten's product of the input dimensions.
        #"{"input_shape": [9223372036854775807, 4, 1], "layers": [{"type": "Flatten"}, {"type": "Dense", "units": 2}]}"#,
        // 'same' padding's (input + stride - 1) / stride.
        #"{"input_shape": [8, 8, 1], "layers": [{"type": "Conv2D", "filters": 1, "kernel_size": 3, "strides": 9223372036854775807, "padding": "same"}]}"#,
        #"{"input_shape": [8, 8, 1], "layers": [{"type": "MaxPooling2D", "pool_size": 9223372036854775807}]}"#,
    ])
    func overflowingSizes(json: String) {
        let error = buildError(json)
        #expect(error?.contains("is larger than \(ModelDescription.maximumSize)") == true, "\(error ?? "built")")
    }

    /// Sizes within the per-option limit whose buffers no machine has.
    @Test(arguments: [
        // 2^45 values per sample after Flatten.
        (#"{"input_shape": [32768, 32768, 32768], "layers": [{"type": "Flatten"}, {"type": "Dense", "units": 2}]}"#, "values per sample"),
        // 2^30 parameters.
        (#"{"input_shape": [32768], "layers": [{"type": "Dense", "units": 32768}]}"#, "parameters"),
        // A Conv2D patch matrix of 4033 x 4033 x 4096 values per sample.
        (#"{"input_shape": [4096, 4096, 1], "layers": [{"type": "Conv2D", "filters": 1, "kernel_size": 64}]}"#, "values per sample"),
    ])
    func hugeSizes(json: String, reason: String) {
        let error = buildError(json)
        #expect(error?.contains(reason) == true, "\(error ?? "built")")
    }

    /// The limits leave the built-in models, and models well beyond them, alone.
    @Test func ordinaryModelsStillBuild() throws {
        for description in ModelDescription.builtIn.values {
            #expect(try description.makeModel().outputCount == 10)
        }
        let wide = try build(#"{"input_shape": [64, 64, 3], "layers": [{"type": "Conv2D", "filters": 64, "kernel_size": 5, "padding": "same"}, {"type": "Flatten"}, {"type": "Dense", "units": 16}]}"#)
        #expect(wide.outputCount == 16)
    }
}
