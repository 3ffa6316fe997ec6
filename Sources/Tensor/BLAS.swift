import CBLAS
import Synchronization

/// The BLAS library underneath every GEMM: OpenBLAS through its CBLAS interface.
public enum BLAS {
    /// Sets the number of threads OpenBLAS uses for each call. fmctl keeps one level of
    /// threading only: the GEMMs are threaded, the code around them is not. The kernels that
    /// run between GEMMs split their work into as many pieces (`parallelPieces`), read back
    /// through ``threads``.
    ///
    /// - Parameter count: Threads per call; values below 1 count as 1.
    public static func setThreads(_ count: Int) {
        configuredThreads.store(max(1, count), ordering: .relaxed)
        openblas_set_num_threads(Int32(max(1, count)))
    }

    /// The threads set by ``setThreads(_:)`` (before any call: OpenBLAS's own count). A kernel
    /// that runs OpenBLAS single-threaded for a while (`withOpenBLASSingleThreaded`)
    /// leaves this unchanged, so work split meanwhile on other threads splits alike.
    public static var threads: Int {
        let t = configuredThreads.load(ordering: .relaxed)
        return t > 0 ? t : Int(openblas_get_num_threads())
    }

    private static let configuredThreads = Atomic<Int>(0)

    /// Runs `body` with OpenBLAS on one thread per call, for GEMMs that run inside the pieces
    /// of fmctl's own pool (one level of threading), then restores the count. ``threads`` is
    /// not changed.
    package static func withOpenBLASSingleThreaded<R>(_ body: () -> R) -> R {
        let n = threads
        guard n > 1 else { return body() }
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(Int32(n)) }
        return body()
    }

    /// The name of the CPU kernel OpenBLAS selected at load time (e.g. `Zen`, `Haswell`).
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }
}

/// Row-major single-precision GEMM: `C = alpha * op(A) * op(B) + beta * C`, where
/// op(A) is (M, K), op(B) is (K, N) and C is (M, N). `lda`, `ldb`, `ldc` default to the
/// row lengths of the matrices as stored (contiguous).
///
/// - Parameters:
///   - transposeA: Use A^T: A is stored (K, M).
///   - transposeB: Use B^T: B is stored (N, K).
///   - m: Rows of op(A) and C.
///   - n: Columns of op(B) and C.
///   - k: Columns of op(A), rows of op(B): the length of each dot product.
///   - alpha: Scale of the product.
///   - a: A, row-major.
///   - lda: Row stride of A as stored; default its row length (K, or M when transposed).
///   - b: B, row-major.
///   - ldb: Row stride of B as stored; default its row length (N, or K when transposed).
///   - beta: Scale of C's previous contents; 0 overwrites C without reading it.
///   - c: C (M, N), written.
///   - ldc: Row stride of C; default N.
@inline(__always)
public func sgemm(
    transposeA: Bool = false, transposeB: Bool = false,
    m: Int, n: Int, k: Int,
    alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int? = nil,
    b: UnsafePointer<Float>, ldb: Int? = nil,
    beta: Float = 0,
    c: UnsafeMutablePointer<Float>, ldc: Int? = nil
) {
    let lda = lda ?? (transposeA ? m : k)
    let ldb = ldb ?? (transposeB ? k : n)
    let ldc = ldc ?? n
    cblas_sgemm(
        CblasRowMajor,
        transposeA ? CblasTrans : CblasNoTrans,
        transposeB ? CblasTrans : CblasNoTrans,
        Int32(m), Int32(n), Int32(k),
        alpha, a, Int32(lda), b, Int32(ldb),
        beta, c, Int32(ldc))
}
