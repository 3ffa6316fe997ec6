#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// One HTTP/1.1 request over a plain TCP socket, connecting, sending and reading the answer
/// all within one deadline, with `poll(2)` waits that cost no CPU.
///
/// Why not URLSession: on Linux it runs on libcurl through Dispatch sources, and while a
/// connection waited for an answer that never came it spun a core (3.3 s of system time in an
/// 11 s training run whose pushes waited on a gateway that never answered, 0.04 s without the
/// gateway; 0.08 s with this client), and its teardown after timeouts and refused connections
/// is a known crash family (swift-corelibs-foundation#4791). A push must neither slow nor stop
/// training, and a Pushgateway speaks plain HTTP; https is not supported.
enum PlainHTTP {
    struct Response {
        var status: Int
        /// The first line of the body, where the Pushgateway says what it refused.
        var reason: String
    }

    /// Sends `method` `url` with `body` and returns the answer's status, or why there is none.
    static func request(_ method: String, _ url: URL, body: [UInt8], contentType: String,
                        timeoutSeconds: Double) -> Result<Response, PlainHTTPError> {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        // An IPv6 literal: bare for getaddrinfo, in brackets in the Host header.
        guard let host = url.host?.trimmingCharacters(in: CharacterSet(charactersIn: "[]")), !host.isEmpty else {
            return .failure(.init("no host in \(url.absoluteString)"))
        }
        let port = url.port ?? 80
        let hostHeader = (host.contains(":") ? "[\(host)]" : host) + ":\(port)"
        let components = URLComponents(url: url, resolvingAgainstBaseURL: false)
        let path = components.map { $0.percentEncodedPath.isEmpty ? "/" : $0.percentEncodedPath } ?? "/"
        let fd: Int32
        switch connect(host: host, port: port, deadline: deadline) {
        case .success(let connected): fd = connected
        case .failure(let error): return .failure(error)
        }
        defer { close(fd) }
        let head = "\(method) \(path) HTTP/1.1\r\nHost: \(hostHeader)\r\nContent-Type: \(contentType)\r\n"
            + "Content-Length: \(body.count)\r\nConnection: close\r\nUser-Agent: fmctl\r\n\r\n"
        if let error = send(Array(head.utf8) + body, fd: fd, deadline: deadline, timeoutSeconds: timeoutSeconds) {
            return .failure(error)
        }
        return receive(fd: fd, deadline: deadline, timeoutSeconds: timeoutSeconds)
    }

    /// A non-blocking socket connected to the first address of `host` that accepts.
    /// Name resolution (`getaddrinfo`) cannot be given a deadline; it runs on the caller's thread.
    private static func connect(host: String, port: Int, deadline: Date) -> Result<Int32, PlainHTTPError> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(host, String(port), &hints, &list)
        guard resolved == 0, let first = list else {
            return .failure(.init("cannot resolve \(host) (\(String(cString: gai_strerror(resolved))))"))
        }
        defer { freeaddrinfo(first) }
        var problem = "no address"
        var next: UnsafeMutablePointer<addrinfo>? = first
        while let address = next?.pointee {
            next = address.ai_next
            let fd = socket(address.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { problem = lastError(); continue }
            if Glibc.connect(fd, address.ai_addr, address.ai_addrlen) == 0 { return .success(fd) }
            if errno == EINPROGRESS, wait(fd, for: Int16(POLLOUT), until: deadline) {
                var error: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
                if error == 0 { return .success(fd) }
                problem = String(cString: strerror(error))
            } else {
                problem = errno == EINPROGRESS ? "no answer" : lastError()
            }
            close(fd)
        }
        return .failure(.init("cannot connect to \(host):\(port) (\(problem))"))
    }

    private static func send(_ bytes: [UInt8], fd: Int32, deadline: Date, timeoutSeconds: Double) -> PlainHTTPError? {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                sent += n
            } else if n < 0 && errno == EINTR {
                continue
            } else if n < 0 && errno == EAGAIN {
                guard wait(fd, for: Int16(POLLOUT), until: deadline) else { return .noAnswer(timeoutSeconds) }
            } else {
                return .init("send failed (\(lastError()))")
            }
        }
        return nil
    }

    /// Reads until the server closes (the request said `Connection: close`), 64 KiB or the deadline.
    private static func receive(fd: Int32, deadline: Date, timeoutSeconds: Double) -> Result<Response, PlainHTTPError> {
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while answer.count < 65_536 {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { answer += buffer[..<n]; continue }
            if n == 0 { break }
            if errno == EINTR { continue }
            guard errno == EAGAIN else { return .failure(.init("receive failed (\(lastError()))")) }
            guard wait(fd, for: Int16(POLLIN), until: deadline) else {
                if answer.isEmpty { return .failure(.noAnswer(timeoutSeconds)) }
                break
            }
        }
        let text = String(decoding: answer, as: UTF8.self)
        let statusLine = text.prefix { $0 != "\r" && $0 != "\n" }.split(separator: " ")
        guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/"), let status = Int(statusLine[1]) else {
            return .failure(.init("not an HTTP answer"))
        }
        let body = text.range(of: "\r\n\r\n").map { text[$0.upperBound...] } ?? ""
        return .success(Response(status: status, reason: String(body.prefix { $0 != "\n" && $0 != "\r" })))
    }

    /// Waits until `fd` is ready for `events` or the deadline passes; false on the deadline or an error.
    private static func wait(_ fd: Int32, for events: Int16, until deadline: Date) -> Bool {
        while true {
            let milliseconds = Int32(max(0, min(Double(Int32.max), deadline.timeIntervalSinceNow * 1000)).rounded(.up))
            if milliseconds <= 0 { return false }
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&entry, 1, milliseconds)
            if ready > 0 { return true }
            if ready == 0 || errno != EINTR { return false }
        }
    }

    private static func lastError() -> String { String(cString: strerror(errno)) }
}

/// Why a request got no answer, in words for a warning line.
struct PlainHTTPError: Error, Equatable {
    let message: String

    init(_ message: String) {
        self.message = message
    }

    static func noAnswer(_ seconds: Double) -> PlainHTTPError { .init("no answer within \(seconds) s") }
}
