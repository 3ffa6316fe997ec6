import Foundation
import Testing

/// `fmctl evaluate`, `predict` and `summary` on a trained run.
@Suite struct ModelCommandsEndToEndTests {
    /// Trains the MLP on 2,000 Fashion-MNIST images, then evaluates and predicts with its folder
    /// and with its checkpoint file.
    @Test func evaluateAndPredict_trainedRun() throws {
        let work = TemporaryDirectory()
        let train = try Fmctl.run(["train", "--model", "mlp", "--epochs", "1", "--limit", "2000", "--threads", "1", "--run-dir", "run",
                                   "--no-footprint"], in: work.path)
        expectSuccess(train)
        let trainedAccuracy = (try work.json("run/run.json")["test"] as? [String: Any])?["accuracy"] as? Double ?? -1

        let evaluate = try Fmctl.run(["evaluate", "run", "--threads", "1"], in: work.path)
        expectSuccess(evaluate)
        #expect(evaluate.stdout.contains("313/313 "))
        #expect(evaluate.stdout.contains("10000 test images"))
        // The checkpoint reproduces the training run's own test accuracy.
        #expect(evaluate.stdout.contains(String(format: "accuracy %.4f", trainedAccuracy)), "\(evaluate.stdout)")
        let byFile = try Fmctl.run(["evaluate", "run/model.safetensors", "--threads", "1"], in: work.path)
        expectSuccess(byFile)
        #expect(byFile.stdout.contains(String(format: "accuracy %.4f", trainedAccuracy)))

        // A folder holding only the test split is enough for evaluate.
        try FileManager.default.createDirectory(atPath: work.file("testonly"), withIntermediateDirectories: true)
        for name in [IDXName.testImages, IDXName.testLabels] {
            try FileManager.default.copyItem(atPath: Datasets.fashionMNIST + "/" + name + ".gz", toPath: work.file("testonly/" + name + ".gz"))
        }
        let testOnly = try Fmctl.run(["evaluate", "run", "--dataset", "testonly", "--threads", "1"], in: work.path)
        expectSuccess(testOnly)
        #expect(testOnly.stdout.contains(String(format: "accuracy %.4f", trainedAccuracy)))

        let predict = try Fmctl.run(["predict", "run", "--input", Datasets.fashionMNIST + "/" + IDXName.testImages + ".gz", "--count", "5"],
                                    in: work.path)
        expectSuccess(predict)
        let lines = predict.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 6, "\(predict.stdout)")
        #expect(lines.first == "index\tclass\tprobability")
        for (i, line) in lines.dropFirst().enumerated() {
            let fields = line.split(separator: "\t").map(String.init)
            #expect(fields.count == 3, "\(line)")
            guard fields.count == 3 else { continue }
            #expect(Int(fields[0]) == i)
            #expect(Int(fields[1]).map { (0..<10).contains($0) } == true, "\(line)")
            #expect(Double(fields[2]).map { $0 > 0 && $0 <= 1 } == true, "\(line)")
        }
    }

    @Test func summary_cnn_isKerasStyle() throws {
        let work = TemporaryDirectory()
        let result = try Fmctl.run(["summary", "--model", "cnn"], in: work.path)
        expectSuccess(result)
        for text in ["Model: \"cnn\"", "Layer (type)", "Output Shape", "Param #", "(Conv2D)", "(None, 26, 26, 32)", "(MaxPooling2D)",
                     "(None, 13, 13, 32)", "(Flatten)", "(None, 5408)", "(Dense)", "692,352", "(None, 10)", "Total params: 693,962"] {
            #expect(result.stdout.contains(text), "missing '\(text)' in \(result.stdout)")
        }
    }

    @Test func summary_mlpAndUserModel() throws {
        let work = TemporaryDirectory()
        let mlp = try Fmctl.run(["summary", "--model", "mlp"], in: work.path)
        expectSuccess(mlp)
        #expect(mlp.stdout.contains("Total params: 79,510"))
        try work.write("my.json", tinyMLPJSON)
        let user = try Fmctl.run(["summary", "--model", "my.json"], in: work.path)
        expectSuccess(user)
        #expect(user.stdout.contains("Total params: 25,450"))
    }
}
