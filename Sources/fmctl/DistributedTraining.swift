import DataParallel
import Foundation
import Footprint
import Models
import RunRecords

/// This process's part in a data-parallel `fmctl train` under `mpirun` (docs/distributed.md):
/// the MPI world, the gradient all-reduce, and the energy of each host counted once. Rank 0
/// alone prints and writes the run folder; every host's lowest rank measures its host and
/// sends each window's energy to rank 0, which adds the hosts up.
final class DistributedTraining {
    let group: MPIGroup
    /// The gradient sum; nil in a world of one.
    private(set) var allReduce: GradientAllReduce?
    /// Every host's energy over the run so far (kept by rank 0).
    private(set) var hostRecords: [HostEnergyRecord]

    /// Starts MPI when a launcher started this process; nil otherwise (a plain run, MPI untouched).
    static func startIfLaunched() throws -> DistributedTraining? {
        guard MPIGroup.launchedByMPI() else { return nil }
        do {
            return DistributedTraining(group: try MPIGroup())
        } catch let error as MPIError {
            throw UsageError(message: "MPI could not start: \(error.description); run under mpirun (as root, Open MPI needs OMPI_ALLOW_RUN_AS_ROOT=1 and OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1)")
        }
    }

    private init(group: MPIGroup) {
        self.group = group
        hostRecords = group.hosts.map { HostEnergyRecord(host: $0.host, ranks: $0.ranks) }
    }

    /// Continues the host records of a resumed run: a host's energy so far is kept (its ranks
    /// are this session's), and a host of the earlier session that this one lacks stays listed.
    func resume(from earlier: DistributedRecord?) {
        guard let earlier else { return }
        for old in earlier.hosts {
            if let i = hostRecords.firstIndex(where: { $0.host == old.host }) {
                hostRecords[i].energyJoules = old.energyJoules.map { $0 + (hostRecords[i].energyJoules ?? 0) } ?? hostRecords[i].energyJoules
                hostRecords[i].source = old.source ?? hostRecords[i].source
                for (domain, joules) in old.domains { hostRecords[i].domains[domain, default: 0] += joules }
            } else {
                hostRecords.append(HostEnergyRecord(host: old.host, ranks: [], energyJoules: old.energyJoules,
                                                    source: old.source, domains: old.domains))
            }
        }
    }

    /// Whether any process failed (collective; a failure on another rank has printed its line).
    func anyProcessFailed(_ failed: Bool) -> Bool { size > 1 && group.anyProcess(failed) }

    var isRoot: Bool { group.rank == 0 }
    var size: Int { group.size }

    /// The default thread count: this host's processors shared among its ranks.
    var defaultThreads: Int { max(1, ProcessInfo.processInfo.activeProcessorCount / group.hostSize) }

    /// `--batch-size` is the global batch: it must split evenly over the processes (exit 64).
    func checkBatchSize(_ batchSize: Int) throws {
        guard batchSize % size == 0 else {
            let lower = batchSize / size * size, upper = lower + size
            throw UsageError(message: "--batch-size \(batchSize) does not split over \(size) processes; it is the global batch, give a multiple of \(size) (e.g. \(lower > 0 ? "\(lower) or " : "")\(upper))")
        }
    }

    /// Hooks the gradient sum into the model's training step (a world of more than one).
    /// - Parameter nonBlocking: start each bucket's sum as backward finishes it.
    func attach(to model: Model, nonBlocking: Bool) {
        guard size > 1 else { return }
        allReduce = GradientAllReduce(group: group, buckets: model.gradientBuckets.count, nonBlocking: nonBlocking)
        model.gradientHook = allReduce
    }

    /// The group `fit` and `evaluate` share their batches with.
    var trainingGroup: MPIGroup? { size > 1 ? group : nil }

    /// On a host's lowest rank, the estimate counts the CPU time of all the host's ranks.
    /// Collective over the host's ranks.
    func trackHostRanks(in tracker: EnergyTracker?) {
        var pids = [Double](repeating: 0, count: group.hostSize)
        pids[group.hostRank] = Double(getpid())
        group.sumOnHost(&pids)
        guard group.isHostLeader, let tracker else { return }
        for (i, pid) in pids.enumerated() where i != group.hostRank { tracker.trackChildProcess(Int32(pid)) }
    }

    /// One window's energy of every host, combined at rank 0 (nil elsewhere). Collective:
    /// every rank calls it at the same window boundary; a host's lowest rank passes its
    /// measurement, the other ranks nil.
    func combineHosts(_ measurement: EnergyMeasurement?, addToRun: Bool) -> EnergyMeasurement? {
        let encoded = group.isHostLeader ? measurement.flatMap { try? JSONEncoder().encode($0) } : nil
        guard let texts = group.gatherAtRoot(encoded.map { String(decoding: $0, as: UTF8.self) } ?? "") else { return nil }
        var parts: [(host: String, measurement: EnergyMeasurement)] = []
        var missing: [String] = []
        for host in group.hosts {
            let leader = host.ranks[0]
            guard let m = try? JSONDecoder().decode(EnergyMeasurement.self, from: Data(texts[leader].utf8)) else {
                missing.append(host.host)
                continue
            }
            parts.append((host.host, m))
            if addToRun, let r = hostRecords.firstIndex(where: { $0.host == host.host }) { hostRecords[r].add(m) }
        }
        guard !parts.isEmpty else { return nil }
        var combined = EnergyMeasurement.combined(parts)
        combined.warnings += missing.map { "\($0): no measurement in window '\(combined.name)'; its energy is missing from the total" }
        return combined
    }

    /// run.json's `distributed` section as it stands.
    var record: DistributedRecord { DistributedRecord(worldSize: size, hosts: hostRecords) }

    /// After a signal (mpirun sends SIGTERM to every process when one dies, and on Ctrl-C),
    /// calls `stuck` once if this process stays inside one MPI call for more than `patience`
    /// seconds, which it claims first so that the main thread stops where the call returns:
    /// after a Ctrl-C every process reaches the next batch boundary together, while a process
    /// that died leaves the others waiting. `stuck` records the failure; then the process
    /// exits 70 before mpirun's SIGKILL takes it.
    func startWatchdog(patience: Double = 0.3, stuck: @escaping @Sendable () -> Void) {
        let group = UncheckedBox(self.group)
        let thread = Thread {
            while true {
                usleep(20_000)
                guard interruptCount.load(ordering: .relaxed) > 0, group.value.claimStuckCall(after: patience) else { continue }
                stuck()
                _exit(70)
            }
        }
        thread.start()
    }

    /// Whether every process holds the same weights (collective).
    func weightsAgree(_ model: Model) -> Bool {
        let p = model.flatParameters
        return p.withUnsafeBufferPointer { group.agree(onBytesOf: $0) }
    }
}

/// What the ranks other than 0 do at `fit`'s boundaries: measure their host (its lowest rank),
/// take part in every collective rank 0 takes part in, and stop when asked.
final class WorkerSession: TrainingObserver {
    let model: Model
    let tracker: EnergyTracker?
    let distributed: DistributedTraining
    var failure: (any Error)?

    init(model: Model, tracker: EnergyTracker?, distributed: DistributedTraining) {
        self.model = model
        self.tracker = tracker
        self.distributed = distributed
    }

    private func endWindow(_ name: String) -> EnergyMeasurement? {
        do { return try tracker?.endWindow(name) } catch { failure = failure ?? error; return nil }
    }

    func epochBegan(_ epoch: Int, of epochs: Int) {
        distributed.allReduce?.resetCounters()
        do { try tracker?.beginWindow("epoch-\(epoch)") } catch { failure = failure ?? error }
    }

    func phaseBegan(_ phase: TrainingPhase, epoch: Int) {
        do { try tracker?.beginWindow(phase.rawValue) } catch { failure = failure ?? error }
    }

    func phaseEnded(_ phase: TrainingPhase, epoch: Int) {
        _ = distributed.combineHosts(endWindow(phase.rawValue), addToRun: false)
    }

    func batchEnded(_ logs: BatchLogs) -> TrainingControl {
        interruptCount.load(ordering: .relaxed) > 0 || failure != nil ? .stop : .proceed
    }

    func epochEnded(_ logs: EpochLogs) -> TrainingControl {
        _ = distributed.combineHosts(endWindow("epoch-\(logs.epoch)"), addToRun: true)
        let agree = distributed.weightsAgree(model)
        return failure == nil && agree ? .proceed : .stop
    }
}

/// A value handed to another thread that the caller knows is safe there (the watchdog reads
/// only atomics of the group; rank 0's run folder is written by the watchdog only while the
/// main thread waits inside MPI).
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
