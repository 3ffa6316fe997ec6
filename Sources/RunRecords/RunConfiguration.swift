/// run.json `config`: what a run was started with, under the keys docs/run-folder.md lists.
/// `fmctl train` writes the training settings, `fmctl footprint measure` the command it ran.
///
/// run.json is a file a person may edit: a key whose value has the wrong type (a fraction or
/// a number beyond Int for a count, a string for a number) reads as missing instead of making
/// the whole run unreadable, so that reports still open the run; ``unreadableKeys`` names such
/// keys, so that `--resume` can refuse them by name.
public struct RunConfiguration: Codable, Sendable, Equatable {
    /// The training settings; nil for a measured command.
    public var training: TrainingConfiguration?
    /// The command and its arguments (`fmctl footprint measure`); nil for a training run.
    public var command: [String]?
    /// Keys run.json holds with a value of the wrong type, sorted; empty for a run as fmctl
    /// wrote it. Never written.
    public var unreadableKeys: [String] = []

    /// run.json's key of each setting.
    public enum Key: String, CodingKey, Sendable {
        case model, dataset, epochs, optimizer, momentum, nesterov, seed, threads, limit, parameters, footprint, command
        case modelSource = "model_source", batchSize = "batch_size", learningRate = "learning_rate"
        case validationSplit = "validation_split", trainSamples = "train_samples"
        case validationSamples = "validation_samples", testSamples = "test_samples"
        case objective, initFrom = "init_from", freeze
        case weightDecay = "weight_decay", clipNorm = "clip_norm", learningRateSchedule = "lr_schedule"
        case warmupSteps = "warmup_steps", decaySteps = "decay_steps", minLearningRate = "min_learning_rate"
        case stepsPerEpoch = "steps_per_epoch", beta1 = "beta_1", beta2 = "beta_2"
    }

    /// - Parameters:
    ///   - training: the settings of a training run.
    ///   - command: the command line of a measured command.
    public init(training: TrainingConfiguration? = nil, command: [String]? = nil) {
        self.training = training
        self.command = command
    }

    public init(from decoder: any Decoder) throws {
        let read = LenientReader(try decoder.container(keyedBy: Key.self))
        command = read(.command)
        training = read.container.allKeys.contains { $0 != .command } ? TrainingConfiguration(read) : nil
        unreadableKeys = read.unreadableKeys.sorted()
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encodeIfPresent(command, forKey: .command)
        try training?.encode(into: &container)
    }
}

/// The settings of a training run (`fmctl train`). Each is optional only because a person may
/// have removed or spoilt it in run.json; fmctl writes them all.
public struct TrainingConfiguration: Sendable, Equatable {
    /// The model's name (`cnn`, `mlp`, or a model file's `name`).
    public var model: String?
    /// `--model` as given: a built-in name or a model JSON file.
    public var modelSource: String?
    /// `--dataset` as given: a dataset name or a folder of IDX files.
    public var dataset: String?
    public var epochs: Int?
    public var batchSize: Int?
    /// `adam` or `sgd`.
    public var optimizer: String?
    public var learningRate: Double?
    /// SGD momentum (0 for plain SGD and for Adam).
    public var momentum: Double?
    public var nesterov: Bool?
    /// Fraction of the training data, taken from its end, held out for validation.
    public var validationSplit: Double?
    public var seed: UInt64?
    public var threads: Int?
    /// `--limit`: train on the first N samples only; nil (written as null) for all of them.
    public var limit: Int?
    public var trainSamples: Int?
    public var validationSamples: Int?
    public var testSamples: Int?
    /// Trainable parameters of the model.
    public var parameters: Int?
    /// Whether energy was measured (false with `--no-footprint`).
    public var footprint: Bool?
    /// A text model's objective (`causal-lm`, `masked-lm`); nil for images.
    public var objective: String?
    /// The run or checkpoint a fine-tuned model started from, and the layers it froze.
    public var initFrom: String?
    public var freeze: [String]?
    /// AdamW's weight decay (absent for adam and sgd).
    public var weightDecay: Double?
    /// `--clip-norm`: the global gradient norm's bound; absent without clipping.
    public var clipNorm: Double?
    /// `constant` or `cosine` (absent in runs from before schedules: constant).
    public var learningRateSchedule: String?
    public var warmupSteps: Int?
    /// The step the cosine reaches `min_learning_rate` (cosine only).
    public var decaySteps: Int?
    public var minLearningRate: Double?
    /// `--steps-per-epoch`; absent: an epoch is one pass over the training data.
    public var stepsPerEpoch: Int?
    /// AdamW's moment decays (absent for adam and sgd).
    public var beta1: Double?
    public var beta2: Double?

    public init(model: String? = nil, modelSource: String? = nil, dataset: String? = nil, epochs: Int? = nil,
                batchSize: Int? = nil, optimizer: String? = nil, learningRate: Double? = nil, momentum: Double? = nil,
                nesterov: Bool? = nil, validationSplit: Double? = nil, seed: UInt64? = nil, threads: Int? = nil,
                limit: Int? = nil, trainSamples: Int? = nil, validationSamples: Int? = nil, testSamples: Int? = nil,
                parameters: Int? = nil, footprint: Bool? = nil, objective: String? = nil, initFrom: String? = nil,
                freeze: [String]? = nil) {
        self.model = model
        self.modelSource = modelSource
        self.dataset = dataset
        self.epochs = epochs
        self.batchSize = batchSize
        self.optimizer = optimizer
        self.learningRate = learningRate
        self.momentum = momentum
        self.nesterov = nesterov
        self.validationSplit = validationSplit
        self.seed = seed
        self.threads = threads
        self.limit = limit
        self.trainSamples = trainSamples
        self.validationSamples = validationSamples
        self.testSamples = testSamples
        self.parameters = parameters
        self.footprint = footprint
        self.objective = objective
        self.initFrom = initFrom
        self.freeze = freeze
    }

    init(_ read: LenientReader) {
        self.init(model: read(.model), modelSource: read(.modelSource), dataset: read(.dataset), epochs: read(.epochs),
                  batchSize: read(.batchSize), optimizer: read(.optimizer), learningRate: read(.learningRate),
                  momentum: read(.momentum), nesterov: read(.nesterov), validationSplit: read(.validationSplit),
                  seed: read(.seed), threads: read(.threads), limit: read(.limit), trainSamples: read(.trainSamples),
                  validationSamples: read(.validationSamples), testSamples: read(.testSamples),
                  parameters: read(.parameters), footprint: read(.footprint), objective: read(.objective),
                  initFrom: read(.initFrom), freeze: read(.freeze))
        weightDecay = read(.weightDecay)
        clipNorm = read(.clipNorm)
        learningRateSchedule = read(.learningRateSchedule)
        warmupSteps = read(.warmupSteps)
        decaySteps = read(.decaySteps)
        minLearningRate = read(.minLearningRate)
        stepsPerEpoch = read(.stepsPerEpoch)
        beta1 = read(.beta1)
        beta2 = read(.beta2)
    }

    /// Every setting that is set; `limit` always, null meaning all the samples.
    func encode(into container: inout KeyedEncodingContainer<RunConfiguration.Key>) throws {
        try container.encodeIfPresent(model, forKey: .model)
        try container.encodeIfPresent(modelSource, forKey: .modelSource)
        try container.encodeIfPresent(dataset, forKey: .dataset)
        try container.encodeIfPresent(epochs, forKey: .epochs)
        try container.encodeIfPresent(batchSize, forKey: .batchSize)
        try container.encodeIfPresent(optimizer, forKey: .optimizer)
        try container.encodeIfPresent(learningRate, forKey: .learningRate)
        try container.encodeIfPresent(momentum, forKey: .momentum)
        try container.encodeIfPresent(nesterov, forKey: .nesterov)
        try container.encodeIfPresent(validationSplit, forKey: .validationSplit)
        try container.encodeIfPresent(seed, forKey: .seed)
        try container.encodeIfPresent(threads, forKey: .threads)
        try container.encode(limit, forKey: .limit)
        try container.encodeIfPresent(trainSamples, forKey: .trainSamples)
        try container.encodeIfPresent(validationSamples, forKey: .validationSamples)
        try container.encodeIfPresent(testSamples, forKey: .testSamples)
        try container.encodeIfPresent(parameters, forKey: .parameters)
        try container.encodeIfPresent(footprint, forKey: .footprint)
        try container.encodeIfPresent(objective, forKey: .objective)
        try container.encodeIfPresent(initFrom, forKey: .initFrom)
        try container.encodeIfPresent(freeze, forKey: .freeze)
        try container.encodeIfPresent(weightDecay, forKey: .weightDecay)
        try container.encodeIfPresent(clipNorm, forKey: .clipNorm)
        try container.encodeIfPresent(learningRateSchedule, forKey: .learningRateSchedule)
        try container.encodeIfPresent(warmupSteps, forKey: .warmupSteps)
        try container.encodeIfPresent(decaySteps, forKey: .decaySteps)
        try container.encodeIfPresent(minLearningRate, forKey: .minLearningRate)
        try container.encodeIfPresent(stepsPerEpoch, forKey: .stepsPerEpoch)
        try container.encodeIfPresent(beta1, forKey: .beta1)
        try container.encodeIfPresent(beta2, forKey: .beta2)
    }
}

/// Reads run.json's config values one by one, a value of the wrong type as nil, and keeps
/// the keys that had one.
final class LenientReader {
    let container: KeyedDecodingContainer<RunConfiguration.Key>
    private(set) var unreadableKeys: [String] = []

    init(_ container: KeyedDecodingContainer<RunConfiguration.Key>) { self.container = container }

    /// The value at `key`; nil when it is missing or null, and also (noted) when it is of another type.
    func callAsFunction<T: Decodable>(_ key: RunConfiguration.Key) -> T? {
        guard container.contains(key), (try? container.decodeNil(forKey: key)) == false else { return nil }
        do { return try container.decode(T.self, forKey: key) } catch {
            unreadableKeys.append(key.rawValue)
            return nil
        }
    }
}
