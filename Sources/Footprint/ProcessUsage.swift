import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// CPU time and resident memory of the measured process, for the estimate and for utilisation.
enum ProcessUsage {
    static let clockTicksPerSecond = Double(max(1, sysconf(Int32(_SC_CLK_TCK))))
    static let pageBytes = Double(max(1, sysconf(Int32(_SC_PAGESIZE))))

    /// Monotonic seconds (CLOCK_MONOTONIC): immune to wall-clock changes.
    static func monotonicSeconds() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    /// CPU seconds consumed by the calling thread (CLOCK_THREAD_CPUTIME_ID).
    static func threadCPUSeconds() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    /// User + system seconds of this process, of its reaped children (getrusage), and of the
    /// still-running `children` (from `/proc/PID/stat`, which disappears once reaped).
    static func cpuSeconds(children: [Int32]) -> Double {
        func seconds(_ who: Int32) -> Double {
            var usage = rusage()
            guard getrusage(__rusage_who_t(who), &usage) == 0 else { return 0 }
            return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
                + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        }
        var total = seconds(RUSAGE_SELF.rawValue) + seconds(RUSAGE_CHILDREN.rawValue)
        for pid in children {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            // Fields after "pid (comm)": state is field 3, utime 14, stime 15.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { continue }
            total += (user + system) / clockTicksPerSecond
        }
        return total
    }

    /// Resident bytes of this process and of the running `children` (`/proc/PID/statm`).
    static func residentBytes(children: [Int32]) -> Double {
        func resident(_ pid: String) -> Double {
            guard let statm = try? String(contentsOfFile: "/proc/\(pid)/statm", encoding: .utf8) else { return 0 }
            let fields = statm.split(separator: " ")
            guard fields.count > 1, let pages = Double(fields[1]) else { return 0 }
            return pages * pageBytes
        }
        return resident("self") + children.map { resident(String($0)) }.reduce(0, +)
    }
}
