/// What a hook tells `fit` after a batch or an epoch.
public enum TrainingControl: Sendable {
    case proceed
    /// Stop after this batch: the epoch is closed as interrupted, nothing more runs.
    case stop
}

/// The two phases of an epoch, for hooks that measure them apart (energy per phase).
public enum TrainingPhase: String, Sendable {
    case train, validation
}

/// The running state of an epoch after a batch (Keras's progress bar figures).
public struct BatchLogs: Sendable {
    public let epoch: Int          // 1-based
    public let batch: Int          // 1-based, within the epoch
    public let batches: Int        // in this epoch's training phase
    /// Batches of the epoch done before this fit began (a resumed run's earlier session): the
    /// time since the epoch began covers batches `startBatch + 1 ... batch` only.
    public let startBatch: Int
    public let loss: Double        // running mean over the epoch's counted rows so far
    public let accuracy: Double
    public let samples: Int        // seen so far this epoch
    public let seconds: Double     // since the epoch began
}

/// What an epoch produced. Train metrics are running means over the epoch's counted rows
/// (its samples for an image classifier, Keras's; the tokens with a label >= 0 for a language
/// model); validation metrics are over the whole validation split.
public struct EpochLogs: Sendable {
    public let epoch: Int          // 1-based
    public let epochs: Int
    public let loss: Double
    public let accuracy: Double
    public let validationLoss: Double?
    public let validationAccuracy: Double?
    public let samples: Int        // training samples processed
    public let batches: Int        // done, of `plannedBatches` (fewer when interrupted)
    public let plannedBatches: Int
    /// Batches and samples of the epoch done before this fit began (a resumed run's earlier
    /// session): counted in `samples` and the metrics, not in the times.
    public let startBatch: Int
    public let startSamples: Int
    public let seconds: Double
    public let trainSeconds: Double
    public let validationSeconds: Double
    /// True when a hook or a non-finite loss stopped the epoch before its end.
    public let interrupted: Bool
}

/// Observes training. Every method has a default that does nothing, so an observer
/// implements only what it needs. Models carries no energy code: Footprint attaches here.
public protocol TrainingObserver: AnyObject {
    func epochBegan(_ epoch: Int, of epochs: Int)
    func phaseBegan(_ phase: TrainingPhase, epoch: Int)
    func phaseEnded(_ phase: TrainingPhase, epoch: Int)
    func batchEnded(_ logs: BatchLogs) -> TrainingControl
    func epochEnded(_ logs: EpochLogs) -> TrainingControl
}

extension TrainingObserver {
    public func epochBegan(_ epoch: Int, of epochs: Int) {}
    public func phaseBegan(_ phase: TrainingPhase, epoch: Int) {}
    public func phaseEnded(_ phase: TrainingPhase, epoch: Int) {}
    public func batchEnded(_ logs: BatchLogs) -> TrainingControl { .proceed }
    public func epochEnded(_ logs: EpochLogs) -> TrainingControl { .proceed }
}

/// Closures as an observer, for a few lines of library code:
/// `TrainingHooks(epochEnd: { print($0.accuracy); return .proceed })`.
public final class TrainingHooks: TrainingObserver {
    public var onEpochBegin: ((Int, Int) -> Void)?
    public var onPhaseBegin: ((TrainingPhase, Int) -> Void)?
    public var onPhaseEnd: ((TrainingPhase, Int) -> Void)?
    public var onBatchEnd: ((BatchLogs) -> TrainingControl)?
    public var onEpochEnd: ((EpochLogs) -> TrainingControl)?

    public init(
        epochBegin: ((Int, Int) -> Void)? = nil,
        phaseBegin: ((TrainingPhase, Int) -> Void)? = nil,
        phaseEnd: ((TrainingPhase, Int) -> Void)? = nil,
        batchEnd: ((BatchLogs) -> TrainingControl)? = nil,
        epochEnd: ((EpochLogs) -> TrainingControl)? = nil
    ) {
        onEpochBegin = epochBegin
        onPhaseBegin = phaseBegin
        onPhaseEnd = phaseEnd
        onBatchEnd = batchEnd
        onEpochEnd = epochEnd
    }

    public func epochBegan(_ epoch: Int, of epochs: Int) { onEpochBegin?(epoch, epochs) }
    public func phaseBegan(_ phase: TrainingPhase, epoch: Int) { onPhaseBegin?(phase, epoch) }
    public func phaseEnded(_ phase: TrainingPhase, epoch: Int) { onPhaseEnd?(phase, epoch) }
    public func batchEnded(_ logs: BatchLogs) -> TrainingControl { onBatchEnd?(logs) ?? .proceed }
    public func epochEnded(_ logs: EpochLogs) -> TrainingControl { onEpochEnd?(logs) ?? .proceed }
}

/// The processes that train one model together, each on its share of every batch (data
/// parallelism; docs/architecture.md). Every process calls the same methods in the same
/// order; an implementation wraps a collective library (the fmctl command uses MPI).
public protocol TrainingGroup: AnyObject {
    /// This process's index, 0 ..< `size`.
    var rank: Int { get }
    /// The number of processes.
    var size: Int { get }
    /// Replaces each value by its sum over the group (every process receives the sums).
    /// - Parameter values: a few values (metrics, flags), summed in place.
    func sum(_ values: UnsafeMutableBufferPointer<Double>)
}

extension TrainingGroup {
    /// Sums a batch's loss, correct count and counted rows over the group (no allocation).
    func sum(_ r: (lossSum: Double, correct: Int, counted: Int)) -> (lossSum: Double, correct: Int, counted: Int) {
        withUnsafeTemporaryAllocation(of: Double.self, capacity: 3) { v in
            v[0] = r.lossSum
            v[1] = Double(r.correct)
            v[2] = Double(r.counted)
            sum(v)
            return (v[0], Int(v[1]), Int(v[2]))
        }
    }

    /// Sums one count over the group (exact below 2^53).
    func sum(count: Int) -> Int {
        withUnsafeTemporaryAllocation(of: Double.self, capacity: 1) { v in
            v[0] = Double(count)
            sum(v)
            return Int(v[0])
        }
    }

    /// Whether any process says yes (a stop request, a failure), so that all act alike.
    /// - Parameter flag: this process's answer.
    /// - Returns: true when the flag is set on at least one process (every process gets the same).
    public func anyProcess(_ flag: Bool) -> Bool {
        withUnsafeTemporaryAllocation(of: Double.self, capacity: 1) { v in
            v[0] = flag ? 1 : 0
            sum(v)
            return v[0] > 0
        }
    }
}
