// Defines a small CNN in code, trains it on a slice of Fashion-MNIST with a closure hook that
// prints each epoch and measures its energy in a Footprint window, evaluates it on the test
// set, then saves and reloads a checkpoint and checks that the reloaded model scores the same.
//
//     swift run -c release train-own-model [--limit 3000] [--epochs 2] [--dataset DIR]
//
// Exits 1 if the test accuracy is not well above chance (10 classes: 0.1), so CI catches a
// broken build; 64 on a bad argument; the data error's own code (65, 66) on unreadable data.
import Footprint
import Foundation
import Models

// MARK: - Arguments

struct Options {
    var limit = 3000
    var epochs = 2
    var dataset = Dataset.defaultDirectory

    static let usage = "usage: train-own-model [--limit N] [--epochs N] [--dataset DIR]"

    init(_ arguments: ArraySlice<String>) {
        var rest = arguments
        while let flag = rest.popFirst() {
            guard let value = rest.popFirst() else { Options.fail("\(flag) needs a value") }
            switch flag {
            case "--limit": limit = Options.positive(flag, value)
            case "--epochs": epochs = Options.positive(flag, value)
            case "--dataset": dataset = value
            default: Options.fail("unknown option \(flag)")
            }
        }
    }

    static func positive(_ flag: String, _ value: String) -> Int {
        guard let n = Int(value), n > 0 else { fail("\(flag) expects a positive integer, got '\(value)'") }
        return n
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("train-own-model: \(message)\n\(usage)\n".utf8))
        exit(64)
    }
}

/// Prints a data error as one line and exits with its sysexits code (65 bad data, 66 missing).
func exitOnDataError<T>(_ body: () throws(DataError) -> T) -> T {
    do { return try body() } catch {
        FileHandle.standardError.write(Data("train-own-model: \(error)\n".utf8))
        exit(error.exitCode)
    }
}

let options = Options(CommandLine.arguments.dropFirst())

// MARK: - Data: Fashion-MNIST (or any folder of IDX files), the first `limit` training images

let data = exitOnDataError { () throws(DataError) in try Dataset.load(directory: options.dataset) }
let train = data.train.prefix(options.limit)
print("data: \(train.count) training images of \(train.height)x\(train.width)x\(train.channels), "
    + "\(data.test.count) test images, \(train.classCount) classes")

// MARK: - Model: any stack of layers; shapes are inferred from the input shape

let model = try Sequential(
    name: "own-cnn",
    inputShape: [train.height, train.width, train.channels],
    layers: [
        Conv2D(filters: 8, kernelSize: 3, activation: .relu),
        MaxPool2D(poolSize: 2),
        Flatten(),
        Dense(units: 32, activation: .relu),
        Dense(units: train.classCount, activation: .softmax),
    ],
    seed: 0)
// A softmax output with cross-entropy is fused into one numerically stable step.
model.compile(optimizer: Adam(learningRate: 0.001), loss: .sparseCategoricalCrossentropy)
print(model.summary())

// MARK: - Footprint: an energy window per epoch, and per phase inside it, opened and closed by hooks

// Same settings as `fmctl train`: an `fmctl.toml` in the working folder if present, else the
// defaults (RAPL when readable, otherwise an estimate; world-average carbon intensity).
let settings: FootprintSettings
do { settings = try FootprintSettings.resolve(overrides: FootprintOverrides()) } catch let error as FootprintError {
    // A bad fmctl.toml or value: one line and its sysexits code, as fmctl does.
    FileHandle.standardError.write(Data("train-own-model: \(error)\n".utf8))
    exit(error.exitCode)
}
let tracker = EnergyTracker(configuration: settings.configuration)
for warning in tracker.startupWarnings { print("footprint warning: \(warning)") }
tracker.start()

// beginWindow/endWindow throw only on misuse (a name already open, or not open); these names
// are unique per epoch and phase, so a throw here would be a bug in this file.
var phaseJoules: [TrainingPhase: Double] = [:]
var totalJoules = 0.0
let hooks = TrainingHooks(
    epochBegin: { epoch, epochs in
        print("Epoch \(epoch)/\(epochs)")
        phaseJoules = [:]
        try! tracker.beginWindow("epoch-\(epoch)")
    },
    epochEnd: { logs in
        let energy = try! tracker.endWindow("epoch-\(logs.epoch)")
        totalJoules += energy.energyJoules
        let validation = logs.validationAccuracy.map { accuracy in
            String(format: " - val_accuracy: %.4f - val_loss: %.4f", accuracy, logs.validationLoss ?? .nan)
        } ?? ""
        print(String(format: "%d/%d - %.2fs - accuracy: %.4f - loss: %.4f", logs.batches, logs.batches, logs.seconds,
                     logs.accuracy, logs.loss) + validation)
        print(String(format: "  energy: %.3g J [%@] (train %.3g J, validation %.3g J; cpu %.3g J, ram %.3g J), %.3g gCO2e",
                     energy.energyJoules, energy.source.rawValue, phaseJoules[.train] ?? 0, phaseJoules[.validation] ?? 0,
                     energy.cpuJoules, energy.ramJoules, settings.carbon.co2eGrams(energyKWh: energy.energyKWh)))
        // Returning .stop ends training here (early stopping, an energy budget ...).
        return .proceed
    })
// Phase windows nest inside the epoch's window: the two are measured independently.
hooks.onPhaseBegin = { phase, epoch in try! tracker.beginWindow("\(phase.rawValue)-\(epoch)") }
hooks.onPhaseEnd = { phase, epoch in
    phaseJoules[phase] = try! tracker.endWindow("\(phase.rawValue)-\(epoch)").energyJoules
}

let result = model.fit(train, epochs: options.epochs, batchSize: 32, validationSplit: 0.1, seed: 0, observer: hooks)
tracker.stop()
guard result.outcome == .completed else {
    FileHandle.standardError.write(Data("train-own-model: training did not complete: \(result.outcome)\n".utf8))
    exit(1)
}
let provenance = tracker.provenance
print(String(format: "training energy: %.3g J, %.3g gCO2e at %.0f g/kWh (%@)", totalJoules,
             settings.carbon.co2eGrams(energyKWh: totalJoules / EnergyUnits.joulesPerKWh),
             settings.carbon.intensityGramsPerKWh, settings.carbon.region))
print("  source \(provenance.source.rawValue), domains \(provenance.domains.joined(separator: " + ")); \(provenance.method)")

// MARK: - Evaluate on the test set

let test = model.evaluate(data.test)
print(String(format: "test: loss %.4f, accuracy %.4f", test.loss, test.accuracy))

// MARK: - Checkpoint: save, reload into a fresh model, check it scores the same

let folder = FileManager.default.temporaryDirectory.appendingPathComponent("train-own-model-\(getpid())")
try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
let path = folder.appendingPathComponent("model.safetensors").path
exitOnDataError { () throws(DataError) in
    // The architecture travels in the file's metadata; `metadata` adds our own keys.
    try ModelCheckpoint.save(model, to: path, metadata: ["limit": String(options.limit)])
}
let (reloaded, metadata) = exitOnDataError { () throws(DataError) in try ModelCheckpoint.load(path: path) }
let retest = reloaded.evaluate(data.test)
try? FileManager.default.removeItem(at: folder)
let identical = reloaded.flatParameters == model.flatParameters && retest.loss == test.loss && retest.accuracy == test.accuracy
print("checkpoint: \(path) (limit \(metadata["limit"] ?? "?")), reloaded \(reloaded.parameterCount) parameters, "
    + String(format: "test accuracy %.4f: %@", retest.accuracy, identical ? "identical" : "DIFFERENT"))

// MARK: - Verdict for CI

if !identical {
    FileHandle.standardError.write(Data("train-own-model: the reloaded model does not evaluate identically\n".utf8))
    exit(1)
}
if test.accuracy < 0.5 {
    FileHandle.standardError.write(Data("train-own-model: test accuracy \(test.accuracy) is not well above chance (0.5 required)\n".utf8))
    exit(1)
}
