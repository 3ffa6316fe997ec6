import FuzzerDriver
import Models
#if canImport(Glibc)
import Glibc
#endif

/// IDX reads through a file descriptor (zlib's gzdopen needs one), so each input is written to
/// one file per process, in /dev/shm when there is one to keep the disk out of the loop.
private let inputPath: String = {
    let folder = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
    return "\(folder)/fmctl-fuzz-idx-\(getpid())"
}()

@main enum IDXFuzz {
    static func main() {
        atexit { unlink(inputPath) }
        runFuzzer { data, size in fuzz(data, size) }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let fd = open(inputPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else { fatalError("cannot write \(inputPath)") }
    var written = 0
    while written < size {
        let n = write(fd, data! + written, size - written)
        guard n > 0 else { fatalError("cannot write \(inputPath)") }
        written += n
    }
    close(fd)

    do {
        let array = try IDX.read(path: inputPath)
        // What a successful read promises its callers.
        precondition((1...4).contains(array.dimensions.count) && array.dimensions.allSatisfy { $0 > 0 })
        precondition(array.bytes.count == array.dimensions.reduce(1, *))
    } catch {
        precondition([65, 66, 74].contains(error.exitCode), "unexpected exit code \(error.exitCode): \(error.message)")
    }
    return 0
}
