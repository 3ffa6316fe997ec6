import Foundation
import Models
import Testing

extension TemporaryDirectory {
    /// A JSON object from a file (run.json) or from command output.
    func json(_ relative: String) throws -> [String: Any] {
        try jsonObject(Data(contentsOf: URL(fileURLWithPath: file(relative))))
    }
}

func jsonObject(_ data: Data) throws -> [String: Any] {
    guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        throw FixtureError("not a JSON object")
    }
    return object
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The standard IDX file names of the MNIST family.
enum IDXName {
    static let trainImages = "train-images-idx3-ubyte"
    static let trainLabels = "train-labels-idx1-ubyte"
    static let testImages = "t10k-images-idx3-ubyte"
    static let testLabels = "t10k-labels-idx1-ubyte"
}

/// Data sets the tests write, in the layout `--dataset DIR` reads.
enum Datasets {
    static let fashionMNIST = "/usr/share/datasets/fashion-mnist"

    /// A small, learnable synthetic set of 28x28 images in 10 classes: class k lights up
    /// rows 2k+4 ..< 2k+8, over noise. Raw (uncompressed) IDX files.
    static func synthetic(in folder: String, train: Int = 200, test: Int = 50, seed: UInt64 = 1) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var rng = SplitMix64(seed: seed)
        func images(_ labels: [UInt8]) -> [UInt8] {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(labels.count * 784)
            for label in labels {
                for row in 0..<28 {
                    let lit = (2 * Int(label) + 4 ..< 2 * Int(label) + 8).contains(row)
                    for _ in 0..<28 { bytes.append(UInt8(truncatingIfNeeded: (lit ? 180 : 0) + Int(rng.next() % 60))) }
                }
            }
            return bytes
        }
        let trainLabels = (0..<train).map { UInt8($0 % 10) }
        let testLabels = (0..<test).map { UInt8(($0 * 7) % 10) }
        try IDX.write(IDXArray(dimensions: [train, 28, 28], bytes: images(trainLabels)), to: folder + "/" + IDXName.trainImages, gzip: false)
        try IDX.write(IDXArray(dimensions: [train], bytes: trainLabels), to: folder + "/" + IDXName.trainLabels, gzip: false)
        try IDX.write(IDXArray(dimensions: [test, 28, 28], bytes: images(testLabels)), to: folder + "/" + IDXName.testImages, gzip: false)
        try IDX.write(IDXArray(dimensions: [test], bytes: testLabels), to: folder + "/" + IDXName.testLabels, gzip: false)
    }

    /// The first `train` and `test` samples of the installed Fashion-MNIST, as raw IDX files.
    static func fashionMNISTSubset(in folder: String, train: Int, test: Int) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for (images, labels, count) in [(IDXName.trainImages, IDXName.trainLabels, train), (IDXName.testImages, IDXName.testLabels, test)] {
            let x = try IDX.read(path: fashionMNIST + "/" + images + ".gz")
            let y = try IDX.read(path: fashionMNIST + "/" + labels + ".gz")
            let size = x.dimensions.dropFirst().reduce(1, *)
            try IDX.write(IDXArray(dimensions: [count] + x.dimensions.dropFirst(), bytes: Array(x.bytes.prefix(count * size))),
                          to: folder + "/" + images, gzip: false)
            try IDX.write(IDXArray(dimensions: [count], bytes: Array(y.bytes.prefix(count))), to: folder + "/" + labels, gzip: false)
        }
    }
}

/// A user's model file: a small MLP in the model JSON format.
let tinyMLPJSON = """
    {"name": "tiny", "input_shape": [28, 28, 1],
     "layers": [{"type": "Flatten"},
                {"type": "Dense", "units": 32, "activation": "relu"},
                {"type": "Dense", "units": 10, "activation": "softmax"}],
     "loss": "sparse_categorical_crossentropy"}
    """

/// safetensors: 8-byte little-endian header length, JSON header, data buffer.
enum SafetensorsFile {
    static func split(_ bytes: [UInt8]) throws -> (header: [String: Any], data: [UInt8]) {
        guard bytes.count >= 8 else { throw FixtureError("shorter than 8 bytes") }
        let length = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try jsonObject(Data(bytes[8..<(8 + length)]))
        return (header, Array(bytes[(8 + length)...]))
    }

    static func join(header: [String: Any], data: [UInt8]) throws -> [UInt8] {
        let json = [UInt8](try JSONSerialization.data(withJSONObject: header))
        return lengthPrefix(json.count) + json + data
    }

    static func lengthPrefix(_ length: Int) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: UInt64(length) >> (8 * UInt64($0))) }
    }
}

/// Trains `arguments` straight through into `full`, and again into `part` with a Ctrl-C once
/// the first epoch has logged its 20th step (`--log-every 10`; the epoch must be much longer,
/// so that the signal lands inside it however fast the machine) followed by `--resume`: the
/// two checkpoints must be the same bytes (weights, optimiser state, position).
func expectResumeMatchesUninterrupted(_ arguments: [String], in work: TemporaryDirectory, timeout: Double = 300) throws {
    let arguments = arguments + ["--log-every", "10"]
    expectSuccess(try Fmctl.run(arguments + ["--run-dir", "full"], in: work.path, timeout: timeout))
    let running = try Fmctl.start(arguments + ["--run-dir", "part"], in: work.path)
    #expect(running.waitForOutput("step 20/", timeout: 60), "training never started: \(running.stdoutSoFar)")
    running.signal(SIGINT)
    let stopped = try running.wait(timeout: 60)
    #expect(stopped.status == 130, "\(stopped.description)")
    let resumed = try Fmctl.run(["train", "--resume", "part", "--no-footprint"], in: work.path, timeout: timeout)
    expectSuccess(resumed)
    let full = try Data(contentsOf: URL(fileURLWithPath: work.file("full/model.safetensors")))
    let part = try Data(contentsOf: URL(fileURLWithPath: work.file("part/model.safetensors")))
    #expect(full == part, "weights or optimiser state differ after the resume")
}
