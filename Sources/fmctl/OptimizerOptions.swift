import ArgumentParser
import Models
import RunRecords

extension LearningRateSchedule.Kind: ExpressibleByArgument {}

/// `train`'s options for text-model training (docs/README.md, docs/transformer.md): AdamW's
/// weight decay, gradient clipping, the learning-rate schedule and epochs of a set number of
/// steps. Each is recorded in run.json's config (docs/run-folder.md).
struct OptimizerOptions: ParsableArguments {
    @Option(name: .customLong("weight-decay"), parsing: .unconditional, help: "AdamW's decoupled weight decay, on kernels only (default 0.01).")
    var weightDecay: Float?

    @Option(name: .customLong("beta1"), parsing: .unconditional, help: "AdamW's first-moment decay (default 0.9).")
    var beta1: Float?

    @Option(name: .customLong("beta2"), parsing: .unconditional, help: "AdamW's second-moment decay (default 0.999; nanoGPT's small models use 0.99).")
    var beta2: Float?

    @Option(name: .customLong("clip-norm"), parsing: .unconditional, help: "Clip the gradient to this global norm before each update.")
    var clipNorm: Float?

    @Option(name: .customLong("lr-schedule"), help: "constant, or cosine (decay to --min-learning-rate at --decay-steps).")
    var schedule: LearningRateSchedule.Kind = .constant

    @Option(name: .customLong("warmup-steps"), parsing: .unconditional, help: "Steps of linear learning-rate warmup from 0.")
    var warmupSteps = 0

    @Option(name: .customLong("decay-steps"), parsing: .unconditional, help: "The step at which the cosine ends (default: the run's total steps).")
    var decaySteps: Int?

    @Option(name: .customLong("min-learning-rate"), parsing: .unconditional, help: "The cosine's final learning rate (default: a tenth of the learning rate).")
    var minLearningRate: Float?

    @Option(name: .customLong("steps-per-epoch"), parsing: .unconditional, help: "Batches per epoch (default: one pass over the training data).")
    var stepsPerEpoch: Int?

    func validate() throws {
        if let weightDecay, !(weightDecay >= 0 && weightDecay.isFinite) {
            throw ValidationError("--weight-decay must be a number >= 0, got \(weightDecay)")
        }
        for (option, value) in [("--beta1", beta1), ("--beta2", beta2)] {
            if let value, !(value >= 0 && value < 1) { throw ValidationError("\(option) must be in [0, 1), got \(value)") }
        }
        if let clipNorm, !(clipNorm > 0 && clipNorm.isFinite) {
            throw ValidationError("--clip-norm must be a positive number, got \(clipNorm)")
        }
        guard warmupSteps >= 0 else { throw ValidationError("--warmup-steps must be 0 or more, got \(warmupSteps)") }
        if let decaySteps {
            guard schedule == .cosine else { throw ValidationError("--decay-steps needs --lr-schedule cosine") }
            guard decaySteps > warmupSteps else {
                throw ValidationError("--decay-steps must be larger than --warmup-steps (\(warmupSteps)), got \(decaySteps)")
            }
        }
        if let minLearningRate {
            guard schedule == .cosine else { throw ValidationError("--min-learning-rate needs --lr-schedule cosine") }
            guard minLearningRate >= 0, minLearningRate.isFinite else {
                throw ValidationError("--min-learning-rate must be a number >= 0, got \(minLearningRate)")
            }
        }
        if let stepsPerEpoch, stepsPerEpoch < 1 {
            throw ValidationError("--steps-per-epoch must be a positive number of batches, got \(stepsPerEpoch)")
        }
    }

    /// The options given, for `--resume`'s refusal (a resumed run keeps its own).
    func given() -> [(String, Bool)] {
        [("--weight-decay", weightDecay != nil), ("--beta1", beta1 != nil), ("--beta2", beta2 != nil), ("--clip-norm", clipNorm != nil), ("--lr-schedule", schedule != .constant),
         ("--warmup-steps", warmupSteps != 0), ("--decay-steps", decaySteps != nil),
         ("--min-learning-rate", minLearningRate != nil), ("--steps-per-epoch", stepsPerEpoch != nil)]
    }

    /// The optimiser of `train`, its schedule set; the cosine ends at `--decay-steps` or the
    /// run's `totalSteps`.
    func makeOptimizer(_ name: OptimizerName, learningRate: Float?, momentum: Float, nesterov: Bool, totalSteps: Int) -> any Optimizer {
        let opt: any Optimizer
        switch name {
        case .adam: opt = Adam(learningRate: learningRate ?? 0.001)
        case .adamw: opt = AdamW(learningRate: learningRate ?? 0.001, beta1: beta1 ?? 0.9, beta2: beta2 ?? 0.999,
                                 weightDecay: weightDecay ?? 0.01)
        case .sgd: opt = SGD(learningRate: learningRate ?? 0.01, momentum: momentum, nesterov: nesterov)
        }
        opt.schedule = LearningRateSchedule(kind: schedule, warmupSteps: warmupSteps,
                                            decaySteps: schedule == .cosine ? decaySteps ?? totalSteps : nil,
                                            minimum: schedule == .cosine ? minLearningRate ?? opt.learningRate / 10 : nil)
        return opt
    }

    /// Records the settings in run.json's config.
    func record(_ opt: any Optimizer, in config: inout TrainingConfiguration) {
        config.weightDecay = (opt as? AdamW).map { Double($0.weightDecay) }
        config.beta1 = (opt as? AdamW).map { Double($0.beta1) }
        config.beta2 = (opt as? AdamW).map { Double($0.beta2) }
        config.clipNorm = clipNorm.map(Double.init)
        config.learningRateSchedule = opt.schedule.kind.rawValue
        config.warmupSteps = opt.schedule.warmupSteps
        config.decaySteps = opt.schedule.decaySteps
        config.minLearningRate = opt.schedule.minimum.map(Double.init)
        config.stepsPerEpoch = stepsPerEpoch
    }
}
