import Foundation
import Testing
@testable import RunRecords

/// run.json's `config` as Codable types: the keys and values fmctl has always written.
@Suite struct RunConfigurationTests {
    /// The config of a run.json written before the Codable types (`fmctl train --model mlp
    /// --epochs 2 --limit 600 --seed 7`), and one of `fmctl footprint measure -- sleep 0.2`.
    static let trainingJSON = """
    {"batch_size": 32, "dataset": "fashion-mnist", "epochs": 2, "footprint": true, "learning_rate": 0.0010000000474974513,
     "limit": 600, "model": "mlp", "model_source": "mlp", "momentum": 0, "nesterov": false, "optimizer": "adam",
     "parameters": 79510, "seed": 7, "test_samples": 10000, "threads": 1, "train_samples": 540,
     "validation_samples": 60, "validation_split": 0.1}
    """
    static let commandJSON = #"{"command": ["sleep", "0.2"]}"#

    func decode(_ text: String) throws -> RunConfiguration {
        try JSONDecoder().decode(RunConfiguration.self, from: Data(text.utf8))
    }

    func encode(_ config: RunConfiguration) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(config), as: UTF8.self)
    }

    @Test func existingRunsDecode_andEncodeToTheSameObject() throws {
        let training = try decode(Self.trainingJSON)
        #expect(training.training == TrainingConfiguration(
            model: "mlp", modelSource: "mlp", dataset: "fashion-mnist", epochs: 2, batchSize: 32, optimizer: "adam",
            learningRate: Double(Float(0.001)), momentum: 0, nesterov: false, validationSplit: 0.1, seed: 7, threads: 1,
            limit: 600, trainSamples: 540, validationSamples: 60, testSamples: 10000, parameters: 79510, footprint: true))
        #expect(training.command == nil && training.unreadableKeys.isEmpty)
        let command = try decode(Self.commandJSON)
        #expect(command.command == ["sleep", "0.2"] && command.training == nil)

        for (text, config) in [(Self.trainingJSON, training), (Self.commandJSON, command)] {
            let original = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? NSDictionary
            let written = try JSONSerialization.jsonObject(with: Data(try encode(config).utf8)) as? NSDictionary
            #expect(written == original)
            #expect(try decode(try encode(config)) == config)
        }
    }

    /// Without --limit the key is written as null (all samples), as before.
    @Test func noLimit_isWrittenAsNull() throws {
        let text = try encode(RunConfiguration(training: TrainingConfiguration(epochs: 1)))
        #expect(text == #"{"epochs":1,"limit":null}"#)
        #expect(try encode(RunConfiguration()) == "{}")
    }

    /// A value of the wrong type reads as missing and is named, so a report still opens the
    /// run and --resume can refuse the key.
    @Test func wrongTypes_readAsMissingAndAreNamed() throws {
        let config = try decode(#"{"threads": 1e20, "batch_size": 2.5, "epochs": "3", "seed": -1, "limit": null, "dataset": "d"}"#)
        #expect(config.training?.threads == nil && config.training?.batchSize == nil && config.training?.epochs == nil)
        #expect(config.training?.seed == nil && config.training?.limit == nil && config.training?.dataset == "d")
        #expect(config.unreadableKeys == ["batch_size", "epochs", "seed", "threads"])
    }
}
