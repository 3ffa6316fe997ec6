import CMPI
import Foundation
import Models
import Synchronization

/// A failed MPI call: which one, and Open MPI's words for its error code.
public struct MPIError: Error, CustomStringConvertible, Sendable {
    public let call: String
    public let code: Int32
    public let message: String
    public var description: String { "\(call) failed: \(message) (MPI error \(code))" }
}

/// The processes of one `mpirun` (or `srun --mpi=pmix`) job: MPI's world, and this host's part
/// of it (docs/distributed.md).
///
/// MPI is initialised only when a launcher started the process (``launchedByMPI(_:)``), so a
/// plain `fmctl train` never touches it. Collectives return their errors (`MPI_ERRORS_RETURN`)
/// instead of aborting silently: a failed one calls ``onFailure`` with the error's line (the
/// caller records it in the run folder) and then ends the job with `MPI_Abort`, so no process
/// is left waiting in a collective.
public final class MPIGroup: TrainingGroup, @unchecked Sendable {
    public let rank: Int
    public let size: Int
    /// This process's index among the processes of its host, and how many there are.
    public let hostRank: Int
    public let hostSize: Int
    /// The host's identity: its name, or `FMCTL_HOST_ID` where set (to simulate several hosts
    /// on one machine in tests).
    public let host: String
    /// Every host's identity in order of its first rank, and the ranks on each.
    public let hosts: [(host: String, ranks: [Int])]
    /// Called with the error's line before a failed collective ends the job.
    public var onFailure: ((String) -> Void)?

    let world: MPI_Comm
    let hostComm: MPI_Comm
    /// When the MPI call in progress began (uptime nanoseconds), 0 outside MPI calls: a
    /// watchdog tells a collective waiting for a process that is gone from a slow one.
    private let callStarted = Atomic<UInt64>(0)

    /// Runs one MPI call, marked for the watchdog, and ends the job if it fails. A call that
    /// returns after the watchdog claimed it (``claimStuckCall(after:)``) waits for the
    /// watchdog to end the process instead of going on beside it.
    func call(_ name: String, _ body: () -> Int32) {
        let started = DispatchTime.now().uptimeNanoseconds
        callStarted.store(started, ordering: .sequentiallyConsistent)
        let code = body()
        if !callStarted.compareExchange(expected: started, desired: 0, ordering: .sequentiallyConsistent).exchanged {
            while true { pause() }
        }
        run(name, code)
    }

    /// Claims the MPI call in progress if it has run longer than `seconds`: from then on the
    /// main thread stops where that call returns, and the caller alone may act. False when no
    /// call has run that long (or it returned first).
    public func claimStuckCall(after seconds: Double) -> Bool {
        let started = callStarted.load(ordering: .sequentiallyConsistent)
        guard started != 0, started != .max,
              Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9 > seconds else { return false }
        return callStarted.compareExchange(expected: started, desired: .max, ordering: .sequentiallyConsistent).exchanged
    }

    /// Whether a launcher started this process: Open MPI's `mpirun` (`OMPI_COMM_WORLD_SIZE`),
    /// PMIx (`srun --mpi=pmix`, `PMIX_RANK`) or a PMI-1/2 launcher (`PMI_RANK`).
    public static func launchedByMPI(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"].contains { environment[$0] != nil }
    }

    /// Initialises MPI (the thread calling MPI is the main one) and finds this host's processes.
    /// - Parameter hostOverride: the host identity to use instead of the host's name.
    /// - Throws: ``MPIError`` when MPI cannot start.
    public init(hostOverride: String? = ProcessInfo.processInfo.environment["FMCTL_HOST_ID"]) throws {
        var provided: Int32 = 0
        let initialised = MPI_Init_thread(nil, nil, fm_mpi_thread_funneled(), &provided)
        guard initialised == fm_mpi_success() else { throw MPIError(call: "MPI_Init_thread", code: initialised, message: Self.errorString(initialised)) }
        world = fm_mpi_comm_world()!
        MPI_Comm_set_errhandler(world, fm_mpi_errors_return())
        var r: Int32 = 0, s: Int32 = 0
        MPI_Comm_rank(world, &r)
        MPI_Comm_size(world, &s)
        rank = Int(r)
        size = Int(s)

        var nameBuffer = [CChar](repeating: 0, count: Int(fm_mpi_max_processor_name()) + 1)
        var nameLength: Int32 = 0
        MPI_Get_processor_name(&nameBuffer, &nameLength)
        let processorName = String(decoding: nameBuffer.prefix(Int(nameLength)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        host = hostOverride.flatMap { $0.isEmpty ? nil : $0 } ?? processorName

        // Every host identity, in rank order; the host communicator groups the ranks of one
        // identity (MPI_Comm_split_type finds the shared-memory node; the identity splits it
        // further where tests simulate several hosts on one machine).
        let identities = try Self.allGather(host, world: world)
        var order: [String] = []
        var ranksByHost: [String: [Int]] = [:]
        for (i, h) in identities.enumerated() {
            if ranksByHost[h] == nil { order.append(h) }
            ranksByHost[h, default: []].append(i)
        }
        hosts = order.map { ($0, ranksByHost[$0]!) }
        var node = fm_mpi_comm_null()
        try Self.check("MPI_Comm_split_type", MPI_Comm_split_type(world, fm_mpi_comm_type_shared(), r, fm_mpi_info_null(), &node))
        var split = fm_mpi_comm_null()
        try Self.check("MPI_Comm_split", MPI_Comm_split(node, Int32(order.firstIndex(of: host)!), r, &split))
        guard let split else { throw MPIError(call: "MPI_Comm_split", code: 0, message: "no communicator for this host") }
        MPI_Comm_set_errhandler(split, fm_mpi_errors_return())
        MPI_Comm_free(&node)
        hostComm = split
        var hr: Int32 = 0, hs: Int32 = 0
        MPI_Comm_rank(hostComm, &hr)
        MPI_Comm_size(hostComm, &hs)
        hostRank = Int(hr)
        hostSize = Int(hs)
    }

    /// Whether this process measures its host (the host's lowest rank).
    public var isHostLeader: Bool { hostRank == 0 }

    /// Ends MPI after a normal run (every process must call it).
    public func finalize() {
        MPI_Finalize()
    }

    /// Ends every process of the job with `code` (after an unrecoverable error on this one).
    public func abort(code: Int32) -> Never {
        MPI_Abort(world, code)
        exit(code)
    }

    // MARK: - Collectives

    public func sum(_ values: UnsafeMutableBufferPointer<Double>) {
        guard let base = values.baseAddress else { return }
        call("MPI_Allreduce") { MPI_Allreduce(fm_mpi_in_place(), base, Int32(values.count), fm_mpi_double(), fm_mpi_sum(), world) }
    }

    /// Sums `values` over the processes of this host only (their CPU seconds, say).
    public func sumOnHost(_ values: inout [Double]) {
        let n = Int32(values.count)
        values.withUnsafeMutableBufferPointer { v in
            call("MPI_Allreduce") { MPI_Allreduce(fm_mpi_in_place(), v.baseAddress, n, fm_mpi_double(), fm_mpi_sum(), hostComm) }
        }
    }

    /// Whether every process holds the same bytes (a 64-bit FNV-1a hash compared by its
    /// minimum and maximum over the world).
    public func agree(onBytesOf values: UnsafeBufferPointer<Float>) -> Bool {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        UnsafeRawBufferPointer(values).forEach { byte in
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        var low = hash, high = hash
        call("MPI_Allreduce") { MPI_Allreduce(fm_mpi_in_place(), &low, 1, fm_mpi_uint64(), fm_mpi_min(), world) }
        call("MPI_Allreduce") { MPI_Allreduce(fm_mpi_in_place(), &high, 1, fm_mpi_uint64(), fm_mpi_max(), world) }
        return low == high
    }

    /// Rank 0 receives every process's text, in rank order; the others receive nil.
    public func gatherAtRoot(_ text: String) -> [String]? {
        var bytes = Array(text.utf8)
        var length = Int32(bytes.count)
        var lengths = [Int32](repeating: 0, count: rank == 0 ? size : 1)
        call("MPI_Gather") { MPI_Gather(&length, 1, fm_mpi_int32(), &lengths, 1, fm_mpi_int32(), 0, world) }
        var offsets = [Int32](repeating: 0, count: lengths.count)
        for i in lengths.indices.dropFirst() { offsets[i] = offsets[i - 1] + lengths[i - 1] }
        var all = [UInt8](repeating: 0, count: rank == 0 ? Int(lengths.reduce(0, +)) : 1)
        call("MPI_Gatherv") { MPI_Gatherv(&bytes, length, fm_mpi_char(), &all, &lengths, &offsets, fm_mpi_char(), 0, world) }
        guard rank == 0 else { return nil }
        return lengths.indices.map { i in
            String(decoding: all[Int(offsets[i])..<Int(offsets[i] + lengths[i])], as: UTF8.self)
        }
    }

    static func allGather(_ text: String, world: MPI_Comm) throws -> [String] {
        var bytes = Array(text.utf8)
        var length = Int32(bytes.count)
        var size: Int32 = 0
        MPI_Comm_size(world, &size)
        var lengths = [Int32](repeating: 0, count: Int(size))
        try check("MPI_Allgather", MPI_Allgather(&length, 1, fm_mpi_int32(), &lengths, 1, fm_mpi_int32(), world))
        var offsets = [Int32](repeating: 0, count: lengths.count)
        for i in lengths.indices.dropFirst() { offsets[i] = offsets[i - 1] + lengths[i - 1] }
        var all = [UInt8](repeating: 0, count: max(1, Int(lengths.reduce(0, +))))
        try check("MPI_Allgatherv", MPI_Allgatherv(&bytes, length, fm_mpi_char(), &all, &lengths, &offsets, fm_mpi_char(), world))
        return lengths.indices.map { String(decoding: all[Int(offsets[$0])..<Int(offsets[$0] + lengths[$0])], as: UTF8.self) }
    }

    // MARK: - Errors

    /// A collective's return code: anything but success ends the job (after `onFailure`).
    func run(_ call: String, _ code: Int32) {
        guard code != fm_mpi_success() else { return }
        let error = MPIError(call: call, code: code, message: Self.errorString(code))
        onFailure?(error.description)
        FileHandle.standardError.write(Data("fmctl: rank \(rank): \(error.description); ending the job\n".utf8))
        abort(code: 70)
    }

    static func check(_ call: String, _ code: Int32) throws {
        guard code != fm_mpi_success() else { return }
        throw MPIError(call: call, code: code, message: errorString(code))
    }

    static func errorString(_ code: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: Int(fm_mpi_max_error_string()) + 1)
        var length: Int32 = 0
        MPI_Error_string(code, &buffer, &length)
        return String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
