import CTensorKernels
import Foundation

extension BLAS {
    /// OpenBLAS cores that predate AVX2 (its `openblas_get_corename()` names). OpenBLAS picks
    /// its kernel from a table of CPU models; a model newer than the library (an Emerald
    /// Rapids Xeon, family 6 model 207, under Debian 12's OpenBLAS 0.3.21) falls back to one
    /// of these, `Prescott` (SSE3), though the CPU runs AVX-512.
    static let preAVX2Cores: Set<String> = [
        "katmai", "coppermine", "northwood", "prescott", "banias", "core2", "penryn", "dunnington", "nehalem", "atom",
        "sandybridge", "opteron", "barcelona", "bobcat", "bulldozer", "piledriver", "steamroller",
    ]

    /// The OpenBLAS core to ask for through `OPENBLAS_CORETYPE`, or nil to keep OpenBLAS's
    /// choice: when OpenBLAS chose a pre-AVX2 core (`preAVX2Cores`) on a CPU that has
    /// AVX-512 (F, CD, BW, DQ, VL, with the OS saving its state), `SkylakeX`; with AVX2 and
    /// FMA, `Haswell`. A choice of AVX2 or later is never changed (docs/architecture.md,
    /// "OpenBLAS's kernel").
    /// - Parameters:
    ///   - current: OpenBLAS's choice (default: the loaded library's).
    ///   - avx512: whether the CPU can run the SkylakeX kernels (default: this CPU).
    ///   - avx2: whether it can run the Haswell kernels (default: this CPU).
    public static func betterCoreType(current: String = coreName, avx512: Bool = fm_cpu_has_avx512_skylakex() != 0,
                                      avx2: Bool = fm_cpu_has_avx2_fma() != 0) -> String? {
        guard preAVX2Cores.contains(current.lowercased()) else { return nil }
        if avx512 { return "SkylakeX" }
        if avx2 { return "Haswell" }
        return nil
    }

    /// Executes the program again, once, before it does any work, with the OpenBLAS settings
    /// that OpenBLAS reads only when it is loaded (before `main`): `OPENBLAS_THREAD_TIMEOUT=4`
    /// when `idleThreads` (idle workers sleep instead of spinning over the cores fmctl's own
    /// kernels use), and `OPENBLAS_CORETYPE` from ``betterCoreType(current:avx512:avx2:)``.
    /// A variable the user set is left alone; when there is nothing to set, or the exec
    /// fails, the program simply goes on as it is.
    public static func restartWithTunedEnvironment(idleThreads: Bool) {
        var settings: [(String, String)] = []
        if idleThreads, getenv("OPENBLAS_THREAD_TIMEOUT") == nil { settings.append(("OPENBLAS_THREAD_TIMEOUT", "4")) }
        if getenv("OPENBLAS_CORETYPE") == nil, let core = betterCoreType() { settings.append(("OPENBLAS_CORETYPE", core)) }
        guard !settings.isEmpty else { return }
        for (name, value) in settings { setenv(name, value, 1) }
        var argv: [UnsafeMutablePointer<CChar>?] = CommandLine.arguments.map { strdup($0) }
        argv.append(nil)
        execv("/proc/self/exe", argv)
        // Only reached when exec failed: go on with what OpenBLAS chose.
        for p in argv { free(p) }
    }
}
