import CMPI
import Foundation
import Models

/// The gradient hook of data-parallel training: sums every gradient bucket over the MPI world
/// (`MPI_Allreduce` in place, a ring or tree as Open MPI chooses), so that every process
/// applies the same update (docs/distributed.md).
///
/// Non-blocking, each bucket's `MPI_Iallreduce` starts as soon as backward has finished its
/// layers and `synchronize` waits for them all; blocking, each bucket is summed on the spot.
/// Which is faster depends on whether the MPI library progresses a collective while backward
/// computes: `make bench` measures both.
public final class GradientAllReduce: GradientHook {
    public let group: MPIGroup
    public let nonBlocking: Bool
    /// Seconds spent in MPI calls and bytes of gradients summed, since the last `resetCounters`.
    public private(set) var seconds = 0.0
    public private(set) var bytes = 0
    private let requests: UnsafeMutablePointer<MPI_Request?>
    private let capacity: Int
    private var pending = 0

    /// - Parameters:
    ///   - group: the processes to sum over.
    ///   - buckets: the most buckets a step hands over (the model's `gradientBuckets.count`).
    ///   - nonBlocking: start each bucket's sum at once and wait in `synchronize`.
    public init(group: MPIGroup, buckets: Int, nonBlocking: Bool = true) {
        self.group = group
        self.nonBlocking = nonBlocking
        capacity = max(1, buckets)
        requests = .allocate(capacity: capacity)
        requests.initialize(repeating: fm_mpi_request_null(), count: capacity)
    }

    deinit { requests.deallocate() }

    public func gradientsReady(_ bucket: GradientBucket) {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let g = bucket.gradients
        if nonBlocking && pending < capacity {
            group.call("MPI_Iallreduce") {
                MPI_Iallreduce(fm_mpi_in_place(), g.baseAddress, Int32(g.count), fm_mpi_float(),
                                                       fm_mpi_sum(), group.world, requests + pending)
            }
            pending += 1
        } else {
            group.call("MPI_Allreduce") {
                MPI_Allreduce(fm_mpi_in_place(), g.baseAddress, Int32(g.count), fm_mpi_float(),
                                                     fm_mpi_sum(), group.world)
            }
        }
        bytes += g.count * MemoryLayout<Float>.size
        seconds += Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    }

    public func synchronize() {
        guard pending > 0 else { return }
        let t0 = DispatchTime.now().uptimeNanoseconds
        group.call("MPI_Waitall") {
                MPI_Waitall(Int32(pending), requests, fm_mpi_statuses_ignore())
            }
        pending = 0
        seconds += Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    }

    /// Starts a new count of seconds and bytes (at an epoch's start).
    public func resetCounters() {
        seconds = 0
        bytes = 0
    }
}
