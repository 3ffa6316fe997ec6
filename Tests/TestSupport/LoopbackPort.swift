#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A TCP port on 127.0.0.1 that the kernel chose, held by a bound socket: while it does not
/// listen, a connection to it is refused at once; after `listen()` the kernel completes
/// connections that nobody answers until `accept()`. `release()` frees the port for a server
/// the test starts on it.
public final class LoopbackPort: Sendable {
    public let port: Int
    private let fd: Int32
    private let released = Atomic<Bool>(false)

    public init() {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        precondition(fd >= 0, "socket failed: \(String(cString: strerror(errno)))")
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                bind(fd, raw, length) == 0 && getsockname(fd, raw, &length) == 0
            }
        }
        precondition(bound, "bind to 127.0.0.1 failed: \(String(cString: strerror(errno)))")
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    /// Lets clients connect (the kernel queues them).
    public func listen() {
        precondition(Glibc.listen(fd, 16) == 0, "listen failed: \(String(cString: strerror(errno)))")
    }

    /// The next connection, waiting for it; -1 on an error.
    public func accept() -> Int32 {
        Glibc.accept(fd, nil, nil)
    }

    /// Closes the socket so that a server can listen on the port.
    public func release() {
        if !released.exchange(true, ordering: .relaxed) { close(fd) }
    }

    deinit { release() }
}
