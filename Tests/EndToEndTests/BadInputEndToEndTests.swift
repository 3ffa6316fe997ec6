import Foundation
import Models
import Testing

/// Every bad input a user can give gets its exit code (docs/exit-codes.md), one line on
/// stderr naming the file or option, no crash, and no damage to files already written.
@Suite struct BadInputEndToEndTests {
    /// Option values `fmctl train` must refuse (exit 64, naming the option). Run against a small
    /// written data set, so the ones found after loading the data are quick too.
    @Test(arguments: [
        (["--epochs", "0"], "--epochs"),
        (["--epochs", "-2"], "--epochs"),
        (["--batch-size", "0"], "--batch-size"),
        (["--batch-size", "-1"], "--batch-size"),
        (["--batch-size", "181"], "--batch-size"),  // 200 samples, 180 after the validation split
        (["--validation-split", "1"], "--validation-split"),
        (["--validation-split", "-0.1"], "--validation-split"),
        (["--validation-split", "1.5"], "--validation-split"),
        (["--model", "resnet50"], "--model"),
        (["--optimizer", "rmsprop"], "--optimizer"),
        (["--region", "XYZ"], "--region"),
        (["--carbon-intensity", "-1"], "--carbon-intensity"),
        (["--pue", "0.9"], "--pue"),
        (["--limit", "0"], "--limit"),
        (["--threads", "0"], "--threads"),
        (["--learning-rate", "-0.1"], "--learning-rate"),
        (["--epochs", "many"], "--epochs"),
        (["--no-such-option"], "--no-such-option"),
        (["--run-dir", ""], "--run-dir"),
    ])
    func train_badOption_isUsageError(_ options: [String], _ option: String) throws {
        let work = TemporaryDirectory()
        try Datasets.synthetic(in: work.file("data"))
        let result = try Fmctl.run(["train", "--model", "mlp", "--dataset", "data", "--threads", "1", "--run-dir", "run"] + options,
                                   in: work.path)
        expectUserError(result, exitCode: 64, mentions: option)
        #expect(!work.exists("run"), "a refused run must not leave a run folder")
    }

    /// A run folder that cannot be created: under a regular file, or a regular file itself (74).
    @Test(arguments: ["file/run", "file"])
    func train_unwritableRunDir_isIOError(_ runDir: String) throws {
        let work = TemporaryDirectory()
        try Datasets.synthetic(in: work.file("data"))
        try work.write("file", "not a folder\n")
        let result = try Fmctl.run(["train", "--model", "mlp", "--dataset", "data", "--epochs", "1", "--threads", "1", "--run-dir", runDir],
                                   in: work.path)
        expectUserError(result, exitCode: 74, mentions: runDir)
        #expect(try work.text("file") == "not a folder\n")
    }

    /// `--run-dir` naming a folder that already holds a run: refused (64), every file untouched.
    @Test func train_runDirHoldingARun_isRefusedAndUntouched() throws {
        let work = TemporaryDirectory()
        try Datasets.synthetic(in: work.file("data"))
        let first = try Fmctl.run(["train", "--model", "mlp", "--dataset", "data", "--epochs", "1", "--threads", "1", "--run-dir", "run"],
                                  in: work.path)
        expectSuccess(first)
        let files = ["run.json", "epochs.csv", "power.csv", "emissions.csv", "model.safetensors"]
        let before = try files.map { try work.bytes("run/" + $0) }
        let again = try Fmctl.run(["train", "--model", "mlp", "--dataset", "data", "--epochs", "2", "--threads", "1", "--run-dir", "run"],
                                  in: work.path)
        expectUserError(again, exitCode: 64, mentions: "--run-dir")
        #expect(again.stderr.contains("run.json"))
        for (name, bytes) in zip(files, before) {
            #expect(try work.bytes("run/" + name) == bytes, "\(name) changed")
        }
    }

    /// A run stopped by an I/O error (here a folder already stands where the checkpoint goes,
    /// which stops root too, unlike permission bits) exits 74 with one line naming the file, and
    /// run.json says `failed` and why, as an interrupted or diverged run says what stopped it.
    @Test func train_ioErrorWritingTheCheckpoint_marksTheRunFailed() throws {
        let work = TemporaryDirectory()
        try Datasets.synthetic(in: work.file("data"))
        try FileManager.default.createDirectory(atPath: work.file("run/model.safetensors"), withIntermediateDirectories: true)
        let result = try Fmctl.run(["train", "--model", "mlp", "--dataset", "data", "--epochs", "2", "--threads", "1",
                                    "--no-footprint", "--run-dir", "run"], in: work.path)
        expectUserError(result, exitCode: 74, mentions: "run/model.safetensors")
        #expect(!result.stdout.contains("Epoch 2/2"), "training went on after the failed checkpoint: \(result.stdout)")

        let run = try work.json("run/run.json")
        #expect(run["status"] as? String == "failed")
        let reason = run["status_reason"] as? String ?? ""
        #expect(result.stderrLines.first == "fmctl: " + reason, "the reason is the error's line")
        #expect(reason.contains("run/model.safetensors") && reason.contains("Is a directory"), "\(reason)")
        #expect(run["ended_at"] is String)
        #expect((run["epochs"] as? [[String: Any]])?.count == 1)
        let names = try FileManager.default.contentsOfDirectory(atPath: work.file("run")).sorted()
        #expect(names == ["emissions.csv", "epochs.csv", "model.safetensors", "run.json"], "no temporary file is left")
        let report = try Fmctl.run(["footprint", "report", "run", "--format", "json"], in: work.path)
        expectSuccess(report)
        #expect(try jsonObject(Data(report.stdout.utf8))["status"] as? String == "failed")
    }

    // MARK: - Data sets

    enum DatasetDamage: String, CaseIterable, Sendable {
        case wrongMagic, wrongType, wrongRank, truncated, trailingBytes, countMismatch, labelBeyondClasses, gzipNameNotGzip,
             corruptGzip, emptyFile, missingFile, missingFolder
    }

    /// Damages one file of a good data set; returns the exit code and the file the message must name.
    static func damage(_ damage: DatasetDamage, in work: TemporaryDirectory) throws -> (exitCode: Int32, file: String) {
        let folder = "data"
        func path(_ name: String) -> String { folder + "/" + name }
        switch damage {
        case .wrongMagic:
            var bytes = try work.bytes(path(IDXName.trainImages))
            bytes[0] = 0x12
            try work.write(path(IDXName.trainImages), bytes: bytes)
            return (65, path(IDXName.trainImages))
        case .wrongType:
            var bytes = try work.bytes(path(IDXName.trainLabels))
            bytes[2] = 0x0D  // float32
            try work.write(path(IDXName.trainLabels), bytes: bytes)
            return (65, path(IDXName.trainLabels))
        case .wrongRank:
            // Images written as rank 2 (N, 784): a valid IDX file that is not an image set.
            var bytes = try work.bytes(path(IDXName.testImages))
            bytes = [0, 0, 8, 2] + Array(bytes[4..<8]) + [0, 0, 3, 16] + Array(bytes[16...])
            try work.write(path(IDXName.testImages), bytes: bytes)
            return (65, path(IDXName.testImages))
        case .truncated:
            let bytes = try work.bytes(path(IDXName.testImages))
            try work.write(path(IDXName.testImages), bytes: Array(bytes.prefix(bytes.count / 2)))
            return (65, path(IDXName.testImages))
        case .trailingBytes:
            try work.write(path(IDXName.trainLabels), bytes: try work.bytes(path(IDXName.trainLabels)) + [1, 2, 3])
            return (65, path(IDXName.trainLabels))
        case .countMismatch:
            var bytes = try work.bytes(path(IDXName.trainLabels))
            bytes.removeLast()
            bytes[7] -= 1  // 199 labels for 200 images
            try work.write(path(IDXName.trainLabels), bytes: bytes)
            return (65, path(IDXName.trainImages))
        case .labelBeyondClasses:
            var bytes = try work.bytes(path(IDXName.testLabels))
            bytes[8] = 42
            try work.write(path(IDXName.testLabels), bytes: bytes)
            return (65, path(IDXName.testLabels))
        case .gzipNameNotGzip:
            try FileManager.default.removeItem(atPath: work.file(path(IDXName.trainImages)))
            try work.write(path(IDXName.trainImages + ".gz"), "this is not gzip\n")
            return (65, path(IDXName.trainImages + ".gz"))
        case .corruptGzip:
            // The gzip magic, then garbage.
            try FileManager.default.removeItem(atPath: work.file(path(IDXName.trainLabels)))
            try work.write(path(IDXName.trainLabels + ".gz"), bytes: [0x1F, 0x8B, 0x08, 0x00] + Array(repeating: 0xA5, count: 60))
            return (65, path(IDXName.trainLabels + ".gz"))
        case .emptyFile:
            try work.write(path(IDXName.testLabels), bytes: [])
            return (65, path(IDXName.testLabels))
        case .missingFile:
            try FileManager.default.removeItem(atPath: work.file(path(IDXName.testLabels)))
            return (66, path(IDXName.testLabels))
        case .missingFolder:
            try FileManager.default.removeItem(atPath: work.file(folder))
            return (66, folder)
        }
    }

    @Test(arguments: DatasetDamage.allCases)
    func train_damagedDataset(_ kind: DatasetDamage) throws {
        let work = TemporaryDirectory()
        try Datasets.synthetic(in: work.file("data"))
        let (exitCode, file) = try Self.damage(kind, in: work)
        let result = try Fmctl.run(["train", "--model", "mlp", "--dataset", "data", "--epochs", "1", "--threads", "1", "--run-dir", "run"],
                                   in: work.path)
        expectUserError(result, exitCode: exitCode, mentions: file)
        #expect(!work.exists("run"), "bad data must be found before a run folder is made")
    }

    /// `fmctl predict --input` on files that are not images of the model's size.
    @Test func predict_badInput() throws {
        let work = TemporaryDirectory()
        try Datasets.synthetic(in: work.file("data"))
        let train = try Fmctl.run(["train", "--model", "mlp", "--dataset", "data", "--epochs", "1", "--threads", "1", "--run-dir", "run",
                                   "--no-footprint"], in: work.path)
        expectSuccess(train)
        expectUserError(try Fmctl.run(["predict", "run", "--input", "data/" + IDXName.testLabels], in: work.path),
                        exitCode: 65, mentions: "data/" + IDXName.testLabels)
        expectUserError(try Fmctl.run(["predict", "run", "--input", "nothing-here"], in: work.path), exitCode: 66, mentions: "nothing-here")
        expectUserError(try Fmctl.run(["predict", "run", "--input", "data/" + IDXName.testImages, "--count", "0"], in: work.path),
                        exitCode: 64, mentions: "--count")
    }

    // MARK: - Model files

    @Test(arguments: [
        ("unknown-layer.json", #"{"name": "u", "input_shape": [28, 28, 1], "layers": [{"type": "Flatten"}, {"type": "Conv3D", "filters": 2}, {"type": "Dense", "units": 10}]}"#, 65, true),
        ("kernel-too-big.json", #"{"name": "k", "input_shape": [28, 28, 1], "layers": [{"type": "Conv2D", "filters": 4, "kernel_size": [30, 30]}, {"type": "Flatten"}, {"type": "Dense", "units": 10}]}"#, 65, true),
        ("pool-after-flatten.json", #"{"name": "p", "input_shape": [28, 28, 1], "layers": [{"type": "Flatten"}, {"type": "MaxPooling2D"}, {"type": "Dense", "units": 10}]}"#, 65, true),
        ("wrong-input.json", #"{"name": "w", "input_shape": [10, 10, 1], "layers": [{"type": "Flatten"}, {"type": "Dense", "units": 10}]}"#, 65, false),
        ("negative-units.json", #"{"name": "n", "input_shape": [28, 28, 1], "layers": [{"type": "Flatten"}, {"type": "Dense", "units": -10}]}"#, 65, true),
        ("not-json.json", #"{"name": "x", "layers": ["#, 65, true),
        ("missing.json", nil, 66, false),
    ] as [(String, String?, Int32, Bool)])
    func train_badModelFile(_ name: String, _ contents: String?, _ exitCode: Int32, _ badOnItsOwn: Bool) throws {
        let work = TemporaryDirectory()
        try Datasets.synthetic(in: work.file("data"))
        if let contents { try work.write(name, contents) }
        let result = try Fmctl.run(["train", "--model", name, "--dataset", "data", "--epochs", "1", "--threads", "1", "--run-dir", "run"],
                                   in: work.path)
        expectUserError(result, exitCode: exitCode, mentions: name)
        #expect(!work.exists("run"))
        // A file wrong in itself (not just for this data) fails `fmctl summary` the same way.
        if badOnItsOwn {
            let summary = try Fmctl.run(["summary", "--model", name], in: work.path)
            expectUserError(summary, exitCode: exitCode, mentions: name)
        }
    }

    /// A resumed run keeps its own settings: options that would change them are refused by name
    /// (exit 64) before anything is read.
    @Test(arguments: [(["--epochs", "9"], "--epochs"), (["--learning-rate", "0.1"], "--learning-rate"),
                      (["--run-dir", "other"], "--run-dir"), (["--region", "FRA"], "--region")])
    func resume_withSettingsOfItsOwn_isUsageError(_ options: [String], _ option: String) throws {
        let work = TemporaryDirectory()
        let result = try Fmctl.run(["train", "--resume", "run"] + options, in: work.path)
        expectUserError(result, exitCode: 64, mentions: option)
        #expect(!work.exists("other"))
    }

    /// `--resume` reads run.json and the data folder again, and either may have changed since
    /// the run began: a config value out of range, or images the model cannot take, is exit 65
    /// naming the file or key (not a trap in `fit`), and the run folder is left as it was.
    @Test(arguments: ["data", "config"])
    func resume_changedRunOrData_isBadData(_ what: String) throws {
        let work = TemporaryDirectory()
        try Datasets.synthetic(in: work.file("data"))
        expectSuccess(try Fmctl.run(["train", "--model", "mlp", "--dataset", "data", "--epochs", "1", "--threads", "1",
                                     "--no-footprint", "--run-dir", "run"], in: work.path))
        // Resumable, as an interrupted run is; then what it was trained with changes.
        var run = try work.json("run/run.json")
        run["status"] = "interrupted"
        if what == "config" {
            var config = run["config"] as? [String: Any] ?? [:]
            config["batch_size"] = 1e20
            run["config"] = config
        } else {
            for (images, labels, count) in [(IDXName.trainImages, IDXName.trainLabels, 60), (IDXName.testImages, IDXName.testLabels, 20)] {
                try IDX.write(IDXArray(dimensions: [count, 14, 14], bytes: [UInt8](repeating: 7, count: count * 196)),
                              to: work.file("data/" + images), gzip: false)
                try IDX.write(IDXArray(dimensions: [count], bytes: (0..<count).map { UInt8($0 % 10) }), to: work.file("data/" + labels), gzip: false)
            }
        }
        try work.write("run/run.json", String(decoding: try JSONSerialization.data(withJSONObject: run), as: UTF8.self))
        let before = try work.text("run/run.json")
        let result = try Fmctl.run(["train", "--resume", "run"], in: work.path)
        expectUserError(result, exitCode: 65, mentions: what == "data" ? "data" : "config.batch_size")
        #expect(try work.text("run/run.json") == before)
    }

    // MARK: - Checkpoints

    enum CheckpointDamage: String, CaseIterable, Sendable {
        case truncated, garbageHeader, headerLengthBeyondFile, shapeMismatch, emptyFile, missingFile, notSafetensors
    }

    @Test(arguments: CheckpointDamage.allCases)
    func evaluate_damagedCheckpoint(_ kind: CheckpointDamage) throws {
        let work = TemporaryDirectory()
        try Datasets.synthetic(in: work.file("data"))
        let train = try Fmctl.run(["train", "--model", "mlp", "--dataset", "data", "--epochs", "1", "--threads", "1", "--run-dir", "run",
                                   "--no-footprint"], in: work.path)
        expectSuccess(train)
        let good = try work.bytes("run/model.safetensors")
        let damaged = "damaged.safetensors"
        var exitCode: Int32 = 65
        switch kind {
        case .truncated:
            try work.write(damaged, bytes: Array(good.prefix(good.count * 2 / 3)))
        case .garbageHeader:
            let (_, data) = try SafetensorsFile.split(good)
            let garbage = Array("this is not a JSON header".utf8)
            try work.write(damaged, bytes: SafetensorsFile.lengthPrefix(garbage.count) + garbage + data)
        case .headerLengthBeyondFile:
            try work.write(damaged, bytes: SafetensorsFile.lengthPrefix(good.count * 4) + Array(good.dropFirst(8)))
        case .shapeMismatch:
            // dense/kernel is [784, 100]; the same bytes as [100, 784] do not fit the model.
            var (header, data) = try SafetensorsFile.split(good)
            var kernel = header["dense/kernel"] as? [String: Any] ?? [:]
            #expect(kernel["shape"] as? [Int] == [784, 100])
            kernel["shape"] = [100, 784]
            header["dense/kernel"] = kernel
            try work.write(damaged, bytes: try SafetensorsFile.join(header: header, data: data))
        case .emptyFile:
            try work.write(damaged, bytes: [])
        case .missingFile:
            exitCode = 66
        case .notSafetensors:
            try work.write(damaged, "{\"model\": \"cnn\"}\n")
        }
        let result = try Fmctl.run(["evaluate", damaged, "--dataset", "data", "--threads", "1"], in: work.path)
        expectUserError(result, exitCode: exitCode, mentions: damaged)
        if kind == .shapeMismatch { #expect(result.stderr.contains("dense/kernel")) }
        // The run's own checkpoint is untouched and still loads.
        #expect(try work.bytes("run/model.safetensors") == good)
    }
}
