import ArgumentParser
import DataParallel
import Foundation
import Footprint
import Models
import Reports
import RunRecords
import Synchronization
import Tensor

enum OptimizerName: String, ExpressibleByArgument, CaseIterable {
    case adam, adamw, sgd
}

/// Set by SIGINT/SIGTERM; read at every batch boundary.
let interruptCount = Atomic<Int>(0)

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a model, printing Keras-style progress with each epoch's energy and CO2e.",
        discussion: """
            Writes a run folder (run.json, epochs.csv, power.csv, emissions.csv, model.safetensors) under \
            runs/ or --run-dir. Ctrl-C stops at the next batch, saves a resumable checkpoint and exits 130.
            """)

    @Option(help: ArgumentHelp("cnn, mlp, gpt-mini, bert-mini, or a model JSON file.", valueName: "model"))
    var model = "cnn"

    @Option(help: ArgumentHelp("fashion-mnist, a folder of IDX files with the standard names, fortunes, or text:PATH (a file or a folder of text). Default: fortunes for gpt-mini and bert-mini, else fashion-mnist.", valueName: "data"))
    var dataset: String?

    @Option(parsing: .unconditional, help: "Context length (positions per sample) of gpt-mini and bert-mini (default 64).")
    var context: Int?

    @Option(name: .customLong("init-from"), help: ArgumentHelp("Fine-tune: start from the weights of this run (or model.safetensors), layer by layer by name.", valueName: "run-dir|file"))
    var initFrom: String?

    @Option(parsing: .upToNextOption, help: ArgumentHelp("With --init-from: layers whose weights stay as loaded (no update, no weight decay).", valueName: "layer"))
    var freeze: [String] = []

    @Option(help: ArgumentHelp("What a text model learns: causal-lm (the next byte) or masked-lm (BERT's hidden 15 %). Default: the built-in model's, causal-lm for a model JSON.", valueName: "objective"))
    var objective: TextObjective?

    // Numeric options parse `.unconditional`, so `--epochs -1` is a value that validate() rejects
    // by name, not a missing value followed by an unknown option.
    @Option(parsing: .unconditional, help: "Number of epochs.")
    var epochs = 5

    @Option(name: .customLong("batch-size"), parsing: .unconditional, help: "Samples per training step.")
    var batchSize = 32

    @Option(help: "adam, adamw or sgd.")
    var optimizer: OptimizerName = .adam

    @Option(name: .customLong("learning-rate"), parsing: .unconditional, help: "Learning rate (default: 0.001 for adam and adamw, 0.01 for sgd).")
    var learningRate: Float?

    @Option(parsing: .unconditional, help: "SGD momentum (0 = plain SGD).")
    var momentum: Float = 0

    @Flag(help: "Nesterov momentum for SGD.")
    var nesterov = false

    @Option(name: .customLong("validation-split"), parsing: .unconditional, help: "Fraction of the training data, taken from its end, held out for validation.")
    var validationSplit = 0.1

    @Option(name: .customLong("log-every"), parsing: .unconditional, help: ArgumentHelp("Also print a progress line every N steps: the epoch's running loss, throughput and the energy of those N steps.", valueName: "n"))
    var logEvery: Int?

    @Option(parsing: .unconditional, help: "Seed for the initial weights and the shuffling.")
    var seed: UInt64 = 0

    @Option(parsing: .unconditional, help: "Threads for OpenBLAS and fmctl's own kernels (default: the number of processors).")
    var threads: Int?

    @Option(parsing: .unconditional, help: ArgumentHelp("Train on the first N training samples only.", valueName: "n"))
    var limit: Int?

    @Option(help: ArgumentHelp("Continue an interrupted run from its last checkpoint, in the same folder, with its own settings.", valueName: "run-dir"))
    var resume: String?

    @Option(name: .customLong("run-dir"), help: ArgumentHelp("Run folder (default: runs/<UTC timestamp>-<model>).", valueName: "dir"))
    var runDir: String?

    @OptionGroup(title: "Optimisation")
    var optimization: OptimizerOptions

    @OptionGroup(title: "Footprint")
    var footprint: FootprintOptions

    @OptionGroup(title: "Metrics")
    var metrics: MetricsOptions

    /// Under mpirun: each bucket's all-reduce runs on the spot as backward finishes it (the
    /// default), or with `FMCTL_ALLREDUCE=nonblocking` starts then and is waited for before the
    /// update. `make bench` compares them; Open MPI progresses a started collective only inside
    /// MPI calls, and on this machine blocking measured faster (docs/distributed.md).
    static var allReduceNonBlocking: Bool { ProcessInfo.processInfo.environment["FMCTL_ALLREDUCE"] == "nonblocking" }

    func validate() throws {
        if let context {
            guard TextModels.objectives[model] != nil else {
                throw ValidationError("--context sets the context of gpt-mini and bert-mini; a model JSON gives its input shape itself")
            }
            guard context >= 1, context <= ModelDescription.maximumSize else {
                throw ValidationError("--context must be in 1...\(ModelDescription.maximumSize), got \(context)")
            }
        }
        if let logEvery, logEvery < 1 { throw ValidationError("--log-every must be a positive number of steps, got \(logEvery)") }
        if !freeze.isEmpty, initFrom == nil {
            throw ValidationError("--freeze keeps loaded weights; it needs --init-from RUN")
        }
        guard epochs > 0 else { throw ValidationError("--epochs must be a positive number of epochs, got \(epochs)") }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive, got \(batchSize)") }
        guard validationSplit >= 0, validationSplit < 1 else {
            throw ValidationError("--validation-split must be in [0, 1), got \(validationSplit)")
        }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
        if let limit, limit < 1 { throw ValidationError("--limit must be a positive number of samples, got \(limit)") }
        if let learningRate, !(learningRate > 0 && learningRate.isFinite) {
            throw ValidationError("--learning-rate must be a positive number, got \(learningRate)")
        }
        guard momentum >= 0, momentum < 1 else { throw ValidationError("--momentum must be in [0, 1), got \(momentum)") }
        for (option, given) in [("--weight-decay", optimization.weightDecay != nil), ("--beta1", optimization.beta1 != nil),
                                ("--beta2", optimization.beta2 != nil)] where given && optimizer != .adamw {
            throw ValidationError("\(option) needs --optimizer adamw")
        }
        if resume != nil, let option = settingsGivenWithResume().first {
            throw ValidationError("\(option) cannot be combined with --resume: a resumed run keeps its own settings "
                                  + "(--threads and the measurement options still apply)")
        }
    }

    /// The options a resumed run takes from its run.json instead, where given: those that differ
    /// from their defaults, and the carbon and cost settings (the run's own stay, so that one
    /// run does not mix two grid intensities).
    func settingsGivenWithResume() -> [String] {
        guard let defaults = try? Train.parse([]) else { return [] }
        let given: [(String, Bool)] = [
            ("--model", model != defaults.model), ("--dataset", dataset != nil), ("--context", context != nil),
            ("--objective", objective != nil), ("--init-from", initFrom != nil), ("--freeze", !freeze.isEmpty),
            ("--epochs", epochs != defaults.epochs), ("--batch-size", batchSize != defaults.batchSize),
            ("--optimizer", optimizer != defaults.optimizer), ("--learning-rate", learningRate != nil),
            ("--momentum", momentum != defaults.momentum), ("--nesterov", nesterov),
            ("--validation-split", validationSplit != defaults.validationSplit), ("--seed", seed != defaults.seed),
            ("--limit", limit != nil), ("--run-dir", runDir != nil),
            ("--carbon-intensity", footprint.carbonIntensity != nil), ("--region", footprint.region != nil),
            ("--pue", footprint.pue != nil), ("--price-per-kwh", footprint.pricePerKWh != nil), ("--currency", footprint.currency != nil),
        ] + optimization.given()
        return given.filter(\.1).map(\.0)
    }

    func run() throws {
        guard let distributed = try withUserErrors({ try DistributedTraining.startIfLaunched() }) else {
            return try withUserErrors { try train(nil) }
        }
        // Under mpirun (docs/distributed.md): rank 0 prints what every rank would (a usage
        // error is the same on all), any other error is printed with its rank; an error ends
        // the whole job (MPI_Abort), so that no process waits in a collective for one that left.
        let prefix = distributed.isRoot ? "fmctl: " : "fmctl: rank \(distributed.group.rank): "
        do {
            try train(distributed)
        } catch let exit as ExitCode {
            distributed.group.finalize()
            throw exit
        } catch {
            let (message, code) = userError(error) ?? (String(describing: error), 70)
            if distributed.isRoot || !(error is UsageError) { printError(prefix + message) }
            distributed.group.abort(code: code)
        }
        distributed.group.finalize()
    }

    func train(_ distributed: DistributedTraining?) throws {
        if let resume { return try resumeRun(resume, distributed: distributed) }
        let threadCount = threads ?? distributed?.defaultThreads ?? ProcessInfo.processInfo.activeProcessorCount
        BLAS.setThreads(threadCount)

        // Data and model.
        var description = try loadModelDescription(model, context: context ?? TextModels.defaultContext)
        let dataset = self.dataset ?? RunData.defaultDataset(model: model)
        if self.objective != nil, !TextCorpus.isText(dataset) {
            throw UsageError(message: "--objective applies to text data (fortunes or text:PATH); \(dataset) is an image data set")
        }
        let objective = self.objective ?? TextModels.objectives[model] ?? .causal
        let data = try RunData.load(dataset, for: description, source: model, limit: limit, objective: objective, seed: seed,
                                    validationSplit: validationSplit)
        let trainData = data.train
        if ModelDescription.builtIn[model] != nil {
            description = description.adapted(inputShape: trainData.sampleShape, classes: max(trainData.classCount, data.test.classCount))
        } else if description.inputShape.reduce(1, *) != trainData.sampleShape.reduce(1, *) {
            throw DataError(path: model, message: "input_shape \(description.inputShape) does not fit the data's \(trainData.sampleShape)", exitCode: 65)
        }
        let net = try makeModel(description, source: model, seed: seed)
        try checkDataFits(trainData, model: net, path: model)
        let pretraining = try initFrom.map { try loadPretrained(into: net, from: $0) }
        let trainCount = validationSplitIndex(count: trainData.count, validationSplit: validationSplit)
        let steps = epochs * (optimization.stepsPerEpoch ?? (trainCount + batchSize - 1) / batchSize)
        let opt = optimization.makeOptimizer(optimizer, learningRate: learningRate, momentum: momentum, nesterov: nesterov,
                                             totalSteps: steps)
        net.compile(optimizer: opt, loss: description.loss)
        net.clipNorm = optimization.clipNorm
        guard trainCount > 0 else { throw UsageError(message: "--validation-split \(validationSplit) leaves no training samples") }
        guard batchSize <= trainCount else {
            throw UsageError(message: "--batch-size \(batchSize) is larger than the \(trainCount) training samples")
        }
        try distributed?.checkBatchSize(batchSize)
        if let distributed, !distributed.isRoot {
            return try runWorker(net, data: data, distributed: distributed, epochs: epochs,
                                 batchSize: batchSize, validationSplit: validationSplit, seed: seed,
                                 stepsPerEpoch: optimization.stepsPerEpoch)
        }

        // Footprint and the run folder; the tracker starts (warnings, idle baseline) once the
        // folder exists, so a bad --run-dir is the only line a user sees.
        let (settings, tracker) = try footprint.makeTracker()
        defer { tracker?.stop() }
        if let distributed, distributed.size > 1, settings.idleBaselineSeconds > 0 {
            // The other processes would be polling inside MPI meanwhile: no host is idle.
            throw UsageError(message: "--idle-baseline (or idle_baseline in fmctl.toml) is not supported under mpirun: the waiting processes keep the cores busy; measure it in a run of one process")
        }
        let exporter = try metrics.makeExporter()
        defer { exporter?.close() }
        var config = TrainingConfiguration(
            model: description.name, modelSource: model, dataset: dataset, epochs: epochs, batchSize: batchSize,
            optimizer: opt.name, learningRate: Double(opt.learningRate), momentum: Double(momentum), nesterov: nesterov,
            validationSplit: validationSplit, seed: seed, threads: threadCount, limit: limit, trainSamples: trainCount,
            validationSamples: trainData.count - trainCount, testSamples: data.text == nil ? data.test.count : 0,
            parameters: net.parameterCount, footprint: tracker != nil, objective: data.text.map { _ in objective.rawValue },
            initFrom: initFrom, freeze: initFrom == nil ? nil : freeze)
        optimization.record(opt, in: &config)
        var record = RunRecord(
            runID: "", model: description.name, dataset: dataset, config: RunConfiguration(training: config),
            host: settings.configuration.host,
            versions: ["fmctl": Fmctl.version, "openblas_core": BLAS.coreName, "run_format": String(RunRecord.formatVersion)],
            measurement: tracker?.provenance, carbon: settings.carbon, plannedEpochs: epochs)
        record.pretraining = pretraining
        let folder = try RunFolder(path: runDir, record: record)
        exporter?.follow(folder)
        try markingFailure(of: folder, tracker: tracker) {
            try footprint.start(tracker, settings: settings, folder: folder)
            let processes = distributed.map { ", \($0.size) processes on \($0.group.hosts.count) host(s)" } ?? ""
            let split = data.text.map { "\(formatCount(trainCount)) train / \(formatCount(trainData.count - trainCount)) validation windows of \($0.context) bytes (\(objective.rawValue))" }
                ?? "\(formatCount(trainCount)) train / \(formatCount(trainData.count - trainCount)) validation / \(formatCount(data.test.count)) test"
            print("fmctl train: \(description.name) (\(formatCount(net.parameterCount)) parameters) on \(dataset): "
                  + "\(split), batch \(batchSize), \(opt.name), \(threadCount) thread(s)\(processes) -> \(folder.path)")

            try runFit(net, data: data, folder: folder, tracker: tracker, settings: settings,
                       epochs: epochs, batchSize: batchSize, validationSplit: validationSplit, seed: seed,
                       stepsPerEpoch: optimization.stepsPerEpoch, distributed: distributed)
        }
    }

    /// `--init-from`: copies the checkpoint's layers into `net` by name, freezes `--freeze`'s,
    /// says what was loaded, and returns the pretraining run's record (its figures read from
    /// its run.json when there is one beside the checkpoint).
    func loadPretrained(into net: Model, from spec: String) throws -> PretrainingRecord {
        let path = checkpointPath(spec)
        let transfer = try net.loadWeights(from: path)
        do {
            try net.freeze(layers: freeze)
        } catch let error as ModelError {
            throw UsageError(message: "--freeze: \(error.message)")
        }
        let runJSON = (path as NSString).deletingLastPathComponent + "/run.json"
        let run = FileManager.default.contents(atPath: runJSON).flatMap { try? JSONDecoder().decode(RunRecord.self, from: $0) }
        print("fmctl train: loaded \(transfer.loaded.count) layer(s) from \(path)"
              + (transfer.initialised.isEmpty ? "" : "; initialised here: \(transfer.initialised.joined(separator: ", "))")
              + (transfer.unused.isEmpty ? "" : "; not used: \(transfer.unused.joined(separator: ", "))")
              + (freeze.isEmpty ? "" : "; frozen: \(freeze.joined(separator: ", "))"))
        return PretrainingRecord(path: spec, run: run, loadedLayers: transfer.loaded, frozenLayers: freeze)
    }

    /// A rank other than 0: trains its share, measures its host if it is the host's lowest
    /// rank, and takes part in every collective; writes nothing.
    func runWorker(_ net: Model, data: RunData, distributed: DistributedTraining, epochs: Int,
                   batchSize: Int, validationSplit: Double, seed: UInt64, stepsPerEpoch: Int?,
                   from start: TrainingPosition = TrainingPosition()) throws {
        var tracker: EnergyTracker?
        if distributed.group.isHostLeader {
            tracker = try footprint.makeTracker().1
            tracker?.start()
        }
        defer { tracker?.stop() }
        distributed.trackHostRanks(in: tracker)
        distributed.attach(to: net, nonBlocking: Self.allReduceNonBlocking)
        installInterruptHandlers()
        let session = WorkerSession(model: net, tracker: tracker, distributed: distributed)
        let result = net.fit(data.train, epochs: epochs, batchSize: batchSize, validationSplit: validationSplit,
                             shuffle: true, stepsPerEpoch: stepsPerEpoch, seed: seed, from: start, observer: session,
                             group: distributed.trainingGroup)
        _ = distributed.anyProcessFailed(session.failure != nil)
        if let error = session.failure { throw error }
        switch result.outcome {
        case .completed:
            if data.test.count > 0 { _ = net.evaluate(data.test, batchSize: batchSize / distributed.size, group: distributed.trainingGroup) }
        case .stopped: throw ExitCode(130)
        case .nonFiniteLoss: throw ExitCode(65)
        }
    }

    /// Runs `body` on a run that has begun: an error that has not already closed the run (as an
    /// interrupt and a NaN loss do, with their ExitCode) marks it failed, with the error's one
    /// line as the reason, before the error reaches the user (an I/O error still exits 74).
    /// Marking is best effort: a full disk may refuse run.json too.
    func markingFailure(of folder: RunFolder, tracker: EnergyTracker?, _ body: () throws -> Void) throws {
        do {
            try body()
        } catch let exit as ExitCode {
            throw exit
        } catch {
            try? folder.finish(status: .failed, reason: userError(error)?.message ?? String(describing: error),
                               measurement: tracker?.provenance)
            throw error
        }
    }

    /// Trains from `position` with the hooks connected, then evaluates and closes the run.
    func runFit(_ net: Model, data: RunData, folder: RunFolder, tracker: EnergyTracker?,
                settings: FootprintSettings, epochs: Int, batchSize: Int, validationSplit: Double, seed: UInt64,
                stepsPerEpoch: Int?, from start: TrainingPosition = TrainingPosition(),
                distributed: DistributedTraining? = nil) throws {
        if let distributed {
            distributed.resume(from: folder.record.distributed)
            distributed.trackHostRanks(in: tracker)
            distributed.attach(to: net, nonBlocking: Self.allReduceNonBlocking)
            try folder.update { $0.distributed = distributed.record }
            // A process of the job that dies, or a collective that fails, ends the run as
            // failed here with the reason; the last epoch's checkpoint resumes it.
            let run = UncheckedBox((folder, tracker))
            distributed.group.onFailure = { reason in
                try? run.value.0.finish(status: .failed, reason: reason, measurement: run.value.1?.provenance)
            }
            distributed.startWatchdog {
                let reason = "mpirun stopped the job while rank 0 waited for the other processes (one ended, or a collective could not finish); resume from the last epoch's checkpoint with --resume"
                try? run.value.0.finish(status: .failed, reason: reason, measurement: run.value.1?.provenance)
                printError("fmctl: \(reason)")
            }
        }
        installInterruptHandlers()
        let session = TrainingSession(model: net, folder: folder, tracker: tracker, carbon: settings.carbon,
                                      flopsPerSample: net.flopsPerSample.training, seed: seed, distributed: distributed)
        session.position = start
        session.progress.bitsPerByte = data.text != nil
        session.logEvery = logEvery
        session.tokensPerSample = data.text?.context
        session.objective = data.text?.objective
        let result = net.fit(data.train, epochs: epochs, batchSize: batchSize, validationSplit: validationSplit,
                             shuffle: true, stepsPerEpoch: stepsPerEpoch, seed: seed, from: start, observer: session,
                             position: { session.position = $0 }, group: distributed?.trainingGroup)
        if let distributed, distributed.anyProcessFailed(session.failure != nil), session.failure == nil {
            session.failure = DataError(path: folder.path, message: "another process of the job failed (its error line is above); resume from the last epoch's checkpoint with --resume", exitCode: 70)
        }
        if let error = session.failure { throw error }
        switch result.outcome {
        case .completed where data.test.count == 0:
            // Text with --validation-split 0: no windows to evaluate (a mean over none is no figure).
            try session.saveCheckpoint()
            try folder.finish(status: .completed, measurement: tracker?.provenance)
            print("no validation windows (--validation-split 0): the final evaluation is skipped")
            print(RunReport.summaryLine(folder.record))
        case .completed:
            let t0 = Date()
            let test = net.evaluate(data.test, batchSize: batchSize / (distributed?.size ?? 1), group: distributed?.trainingGroup)
            let seconds = Date().timeIntervalSince(t0)
            print(ProgressPrinter.evaluationLine(samples: data.test.count, batchSize: batchSize, seconds: seconds,
                                                 accuracy: test.accuracy, loss: test.loss, bitsPerByte: data.text != nil))
            try session.saveCheckpoint()
            try folder.finish(status: .completed, test: TestMetrics(loss: test.loss, accuracy: test.accuracy),
                              measurement: tracker?.provenance)
            if data.text != nil {
                print(String(format: "validation token accuracy %.4f, validation loss %.4f nats/byte (%.4f bits/byte)",
                             test.accuracy, test.loss, test.loss / log(2)))
            } else {
                print(String(format: "test accuracy %.4f, test loss %.4f", test.accuracy, test.loss))
            }
            print(RunReport.summaryLine(folder.record))
        case .stopped:
            try session.saveCheckpoint()
            try folder.finish(status: .interrupted, reason: "interrupted by a signal at epoch \(session.position.epoch + 1), batch \(session.position.batch)",
                              measurement: tracker?.provenance)
            printError("fmctl: interrupted; the run and a resumable checkpoint are saved in \(folder.path)")
            throw ExitCode(130)
        case .nonFiniteLoss(let epoch, let batch):
            let reason = "the loss became NaN or infinite at epoch \(epoch), batch \(batch); lower --learning-rate"
            try folder.finish(status: .failed, reason: reason, measurement: tracker?.provenance)
            printError("fmctl: \(reason); finished epochs are kept in \(folder.path)")
            throw ExitCode(65)
        }
    }

    /// `--resume RUN_DIR`: the run's own settings from run.json, the weights, optimiser state
    /// and position from model.safetensors; the run folder gains the remaining epochs.
    func resumeRun(_ path: String, distributed: DistributedTraining?) throws {
        let runJSON = path + "/run.json", checkpoint = path + "/model.safetensors"
        let folder = try RunFolder(reopening: path)   // no run.json: exit 66 naming it
        let config = folder.record.config.training ?? TrainingConfiguration()
        guard folder.record.status != .completed else {
            throw UsageError(message: "--resume \(path): the run is already completed")
        }
        /// A setting from run.json's config, which a person may have edited: missing, of the
        /// wrong type or out of range is bad data naming the key, not a trap further on.
        func setting<T>(_ key: RunConfiguration.Key, _ value: T?, _ expected: String,
                        where valid: (T) -> Bool = { _ in true }) throws -> T {
            guard let value, valid(value) else {
                throw DataError(path: runJSON, message: "config.\(key.rawValue) should be \(expected); expected a run written by fmctl train", exitCode: 65)
            }
            return value
        }
        let positive = { (count: Int) in count > 0 }
        let (net, metadata) = try ModelCheckpoint.load(path: checkpoint)
        guard let json = metadata["position"], let start = try? JSONDecoder().decode(TrainingPosition.self, from: Data(json.utf8)) else {
            throw DataError(path: checkpoint, message: "no training position in the metadata; expected a checkpoint written by fmctl train", exitCode: 65)
        }
        let epochs = try setting(.epochs, config.epochs, "a positive whole number", where: positive)
        let batchSize = try setting(.batchSize, config.batchSize, "a positive whole number", where: positive)
        let split = try setting(.validationSplit, config.validationSplit, "a number in [0, 1)") { $0 >= 0 && $0 < 1 }
        let seed = try setting(.seed, config.seed, "a whole number in 0...2^64-1")
        let datasetName = try setting(.dataset, config.dataset, "a dataset name or folder")
        let threadCount = try threads ?? distributed?.defaultThreads ?? setting(.threads, config.threads, "a positive whole number", where: positive)
        BLAS.setThreads(threadCount)
        var limit: Int?
        if config.limit != nil || folder.record.config.unreadableKeys.contains(RunConfiguration.Key.limit.rawValue) {
            limit = try setting(.limit, config.limit, "a positive whole number or null", where: positive)
        }
        if let frozen = config.freeze, !frozen.isEmpty {
            do {
                try net.freeze(layers: frozen)
            } catch let error as ModelError {
                throw DataError(path: runJSON, message: "config.freeze: \(error.message); expected a run written by fmctl train", exitCode: 65)
            }
        }
        let objective = TextObjective(rawValue: config.objective ?? "") ?? .causal
        let data = try RunData.load(datasetName, for: net.modelDescription, source: checkpoint, limit: limit, objective: objective,
                                    seed: seed, validationSplit: split)
        // The data folder may have changed since the run began.
        try checkDataFits(data.train, model: net, path: data.path)
        // Settings absent from runs before them: no clipping, epochs of one pass.
        func optional<T>(_ key: RunConfiguration.Key, _ value: T?, _ expected: String, where valid: (T) -> Bool) throws -> T? {
            guard value != nil || folder.record.config.unreadableKeys.contains(key.rawValue) else { return nil }
            return try setting(key, value, expected, where: valid)
        }
        net.clipNorm = try optional(.clipNorm, config.clipNorm, "a positive number or absent") { $0 > 0 && $0.isFinite }.map(Float.init)
        let stepsPerEpoch = try optional(.stepsPerEpoch, config.stepsPerEpoch, "a positive whole number or absent", where: positive)
        try distributed?.checkBatchSize(batchSize)
        if let distributed, !distributed.isRoot {
            return try runWorker(net, data: data, distributed: distributed, epochs: epochs,
                                 batchSize: batchSize, validationSplit: split, seed: seed, stepsPerEpoch: stepsPerEpoch, from: start)
        }

        var (settings, tracker) = try footprint.makeTracker()
        settings.carbon = folder.record.carbon   // the run's own, not today's fmctl.toml
        defer { tracker?.stop() }
        let exporter = try metrics.makeExporter()
        defer { exporter?.close() }
        exporter?.follow(folder)
        try footprint.start(tracker, settings: settings, folder: folder)
        try folder.update {
            $0.status = .running
            $0.statusReason = "resumed at epoch \(start.epoch + 1), batch \(start.batch)"
        }
        print("fmctl train: resuming \(folder.record.model) in \(path) at epoch \(start.epoch + 1), batch \(start.batch) of \(epochs) epochs")
        try markingFailure(of: folder, tracker: tracker) {
            try runFit(net, data: data, folder: folder, tracker: tracker, settings: settings,
                       epochs: epochs, batchSize: batchSize, validationSplit: split, seed: seed,
                       stepsPerEpoch: stepsPerEpoch, from: start, distributed: distributed)
        }
    }

    func installInterruptHandlers() {
        for sig in [SIGINT, SIGTERM] {
            signal(sig) { _ in
                // The first signal asks fit to stop at the next batch; a second one exits at
                // once (every file is written atomically, so what is on disk stays whole).
                if interruptCount.add(1, ordering: .relaxed).newValue > 1 { _exit(130) }
            }
        }
        unblockSignals([SIGINT, SIGTERM])
    }
}

/// Connects `fit`'s hooks to the progress line, the footprint windows and the run folder.
final class TrainingSession: TrainingObserver {
    let model: Model
    let folder: RunFolder
    let tracker: EnergyTracker?
    let carbon: CarbonSettings
    let flopsPerSample: Int
    let seed: UInt64
    let distributed: DistributedTraining?
    let progress = ProgressPrinter()
    var position = TrainingPosition()
    var failure: (any Error)?
    /// A text model's objective, kept in the checkpoint for `evaluate`.
    var objective: TextObjective?
    private var phases: [String: EnergyMeasurement] = [:]

    init(model: Model, folder: RunFolder, tracker: EnergyTracker?, carbon: CarbonSettings, flopsPerSample: Int, seed: UInt64,
         distributed: DistributedTraining? = nil) {
        self.distributed = distributed
        self.model = model
        self.folder = folder
        self.tracker = tracker
        self.carbon = carbon
        self.flopsPerSample = flopsPerSample
        self.seed = seed
    }

    private func attempt(_ body: () throws -> Void) {
        do { try body() } catch { if failure == nil { failure = error } }
    }

    func epochBegan(_ epoch: Int, of epochs: Int) {
        distributed?.allReduce?.resetCounters()
        progress.epochBegan(epoch, of: epochs)
        phases = [:]
        attempt { try tracker?.beginWindow("epoch-\(epoch)") }
        if logEvery != nil { beginStepsWindow(at: 0, seconds: 0) }
    }

    // `--log-every N`: a line every N steps with the energy of those steps, this host's
    // (read from a window of its own; no collective, so under mpirun it is rank 0's host).
    var logEvery: Int?
    /// Bytes per sample of a text model (its context), for tokens per second.
    var tokensPerSample: Int?
    private var stepsWindow: (batch: Int, seconds: Double)?

    private func beginStepsWindow(at batch: Int, seconds: Double) {
        stepsWindow = (batch, seconds)
        attempt { try tracker?.beginWindow("steps") }
    }

    private func logSteps(_ logs: BatchLogs) {
        guard let every = logEvery, logs.batch % every == 0 || logs.batch == logs.batches, let window = stepsWindow else { return }
        var energy: EnergyMeasurement?
        attempt { energy = try tracker?.endWindow("steps") }
        // A resumed epoch's clock starts at its first new batch.
        let first = max(window.batch, logs.startBatch)
        let steps = logs.batch - first, seconds = logs.seconds - window.seconds
        var line = "step \(logs.batch)/\(logs.batches) - loss: " + String(format: "%.4f", logs.loss)
        if progress.bitsPerByte { line += String(format: " - bits_per_byte: %.4f", logs.loss / log(2)) }
        line += String(format: " - accuracy: %.4f", logs.accuracy)
        if seconds > 0, steps > 0 {
            line += String(format: " - %.0f ms/step", seconds / Double(steps) * 1000)
            if let tokens = tokensPerSample, logs.batch > 0 {
                let samplesPerStep = Double(logs.samples) / Double(logs.batch)
                line += " - \(formatCount(Int(samplesPerStep * Double(tokens) * Double(steps) / seconds))) tokens/s"
            }
        }
        if let energy {
            line += " - energy: \(RunReport.figure(energy.energyJoules)) J (\(energy.source.rawValue)) over \(steps) step(s)"
        }
        if progress.live { print("\r\u{1B}[K", terminator: "") }
        print(line)
        fflush(nil)
        beginStepsWindow(at: logs.batch, seconds: logs.seconds)
    }

    func phaseBegan(_ phase: TrainingPhase, epoch: Int) {
        attempt { try tracker?.beginWindow(phase.rawValue) }
    }

    /// A window's energy: this host's, or under mpirun every host's added up (a collective
    /// every rank reaches, whatever failed before it).
    private func endWindow(_ name: String, addToRun: Bool = false) -> EnergyMeasurement? {
        var m: EnergyMeasurement?
        attempt { m = try tracker?.endWindow(name) }
        guard let distributed else { return m }
        return distributed.combineHosts(m, addToRun: addToRun)
    }

    func phaseEnded(_ phase: TrainingPhase, epoch: Int) {
        if let m = endWindow(phase.rawValue) { phases[phase.rawValue] = m }
    }

    func batchEnded(_ logs: BatchLogs) -> TrainingControl {
        logSteps(logs)
        progress.batchEnded(logs)
        return interruptCount.load(ordering: .relaxed) > 0 || failure != nil ? .stop : .proceed
    }

    func epochEnded(_ logs: EpochLogs) -> TrainingControl {
        if stepsWindow != nil {
            attempt { _ = try tracker?.endWindow("steps") }
            stepsWindow = nil
        }
        var suffix = ""
        let m = endWindow("epoch-\(logs.epoch)", addToRun: true)
        if let distributed, !distributed.weightsAgree(model), failure == nil {
            failure = DataError(path: folder.path, message: "the processes' weights differ after epoch \(logs.epoch) (their checksums disagree); the run stops as failed", exitCode: 70)
        }
        attempt {
            var record = EpochRecord(
                epoch: logs.epoch, measurement: m, durationSeconds: logs.seconds, phases: phases,
                samples: logs.samples - logs.startSamples,   // the earlier session recorded its own
                metrics: EpochMetrics(trainLoss: logs.loss, trainAccuracy: logs.accuracy,
                                      valLoss: logs.validationLoss, valAccuracy: logs.validationAccuracy),
                flops: Double(flopsPerSample * (logs.samples - logs.startSamples)), carbon: carbon, interrupted: logs.interrupted)
            if let distributed {
                record.allReduceSeconds = distributed.allReduce?.seconds
                record.allReduceBytes = distributed.allReduce.map { Double($0.bytes) }
                try folder.update { $0.distributed = distributed.record }
            }
            let stored = try folder.recordEpoch(record, powerSamples: tracker?.drainPowerSamples() ?? [],
                                                powerDomains: tracker?.domains)
            suffix = m == nil ? "" : RunReport.progressSuffix(stored, measurement: folder.record.measurement)
            if !logs.interrupted { try saveCheckpoint(at: TrainingPosition(epoch: logs.epoch)) }
        }
        progress.epochEnded(logs, extra: suffix)
        return failure == nil ? .proceed : .stop
    }

    /// model.safetensors with the weights, the optimiser state and where training stands.
    func saveCheckpoint(at where_: TrainingPosition? = nil) throws {
        let p = where_ ?? position
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = (try? encoder.encode(p)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        try ModelCheckpoint.save(model, to: folder.path + "/model.safetensors",
                                 metadata: ["position": json, "seed": String(seed)].merging(objective.map { ["objective": $0.rawValue] } ?? [:]) { a, _ in a })
    }
}
