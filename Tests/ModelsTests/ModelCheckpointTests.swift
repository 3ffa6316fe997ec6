import Foundation
import Testing
@testable import Models

@Suite struct ModelCheckpointTests {
    let directory = TemporaryDirectory()

    /// Weights and Adam state come back bit for bit, and training resumes identically.
    @Test func roundTrip_isBitExactAndResumesIdentically() throws {
        let data = syntheticImages(count: 64, height: 8, width: 8)
        let m = try ModelDescription(name: "t", inputShape: [8, 8, 1], layers: [
            LayerConfiguration(Conv2D.Options(filters: 8, kernelSize: [3, 3], activation: .relu)),
            LayerConfiguration(MaxPool2D.Options()), LayerConfiguration(Flatten.Options()),
            LayerConfiguration(Dense.Options(units: 3, activation: .softmax)),
        ]).makeModel(seed: 7)
        m.compile(optimizer: Adam(learningRate: 0.003))
        _ = m.fit(data, epochs: 1, batchSize: 16, seed: 1)
        let path = directory.file("model.safetensors")
        try ModelCheckpoint.save(m, to: path, metadata: ["seed": "1"])
        let (loaded, metadata) = try ModelCheckpoint.load(path: path)
        #expect(metadata["seed"] == "1" && metadata["optimizer"] == "adam")
        #expect(loaded.modelDescription == m.modelDescription)
        #expect(loaded.flatParameters.map(\.bitPattern) == m.flatParameters.map(\.bitPattern))
        #expect(loaded.optimizer.stepCount == m.optimizer.stepCount)
        for (a, b) in zip(loaded.optimizer.stateArrays, m.optimizer.stateArrays) {
            #expect(a.name == b.name && a.buffer.array.map(\.bitPattern) == b.buffer.array.map(\.bitPattern))
        }
        #expect(loaded.optimizer.learningRate == 0.003)
        // One more epoch from the checkpoint equals one more epoch of the original.
        _ = m.fit(data, epochs: 2, batchSize: 16, seed: 1, from: TrainingPosition(epoch: 1))
        _ = loaded.fit(data, epochs: 2, batchSize: 16, seed: 1, from: TrainingPosition(epoch: 1))
        #expect(loaded.flatParameters == m.flatParameters)
    }

    @Test func sgdSettingsSurvive() throws {
        let m = try ModelDescription.mlp.makeModel(seed: 1)
        m.compile(optimizer: SGD(learningRate: 0.05, momentum: 0.9, nesterov: true))
        let path = directory.file("mlp.safetensors")
        try ModelCheckpoint.save(m, to: path)
        let sgd = try #require(try ModelCheckpoint.load(path: path).model.optimizer as? SGD)
        #expect(sgd.learningRate == 0.05 && sgd.momentum == 0.9 && sgd.nesterov)
    }

    @Test func shapesThatDoNotFit_areBadData() throws {
        // A checkpoint whose tensor shapes do not match its own model description.
        let m = try ModelDescription.mlp.makeModel(seed: 1)
        let path = directory.file("bad.safetensors")
        var tensors = m.namedParameters.map { SafetensorsTensor(name: $0.name, shape: $0.shape, values: $0.values) }
        tensors[0] = SafetensorsTensor(name: tensors[0].name, shape: [10, 10], values: [Float](repeating: 0, count: 100))
        try Safetensors.write(tensors: tensors, metadata: ["model": m.modelDescription.jsonString()], to: path)
        let error = #expect(throws: DataError.self) { try ModelCheckpoint.load(path: path) }
        #expect(error?.exitCode == 65 && error?.description.contains("shape") == true)
        // No model description at all.
        try Safetensors.write(tensors: tensors, metadata: [:], to: path)
        #expect(throws: DataError.self) { try ModelCheckpoint.load(path: path) }
    }
}
