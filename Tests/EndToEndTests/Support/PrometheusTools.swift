import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Debian's Prometheus programs, which scripts/setup installs for these tests: `promtool`
/// (package `prometheus`) and `prometheus-pushgateway`. A test that cannot find one fails
/// saying so; it never skips.
enum PrometheusTools {
    /// `name` on PATH or in /usr/bin.
    static func path(_ name: String, package: String) throws -> String {
        let folders = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init) + ["/usr/bin"]
        guard let found = folders.map({ $0 + "/" + name }).first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw FixtureError("\(name) not found on PATH or in /usr/bin: it comes with Debian's package \(package), "
                               + "which scripts/setup installs (make test runs it)")
        }
        return found
    }

    /// `promtool check metrics < file`: its exit status and what it printed (lint problems
    /// such as a missing HELP line or a counter without `_total` make it exit 3).
    static func checkMetrics(_ file: String) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try path("promtool", package: "prometheus"))
        process.arguments = ["check", "metrics"]
        process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: file))
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    /// GET `url`: the status and body, or nil when nothing answered within `timeout` seconds.
    static func get(_ url: String, timeout: Double = 5) -> (status: Int, body: String)? {
        final class Box: @unchecked Sendable { var result: (Int, String)? }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        var request = URLRequest(url: URL(string: url)!, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: timeout)
        request.httpMethod = "GET"
        URLSession.shared.dataTask(with: request) { data, response, _ in
            if let http = response as? HTTPURLResponse {
                box.result = (http.statusCode, String(decoding: data ?? Data(), as: UTF8.self))
            }
            done.signal()
        }.resume()
        guard done.wait(timeout: .now() + timeout + 1) == .success else { return nil }
        return box.result
    }
}

/// A Pushgateway of the test's own on a free 127.0.0.1 port (never the system's service),
/// stopped when the value goes.
final class Pushgateway {
    let url: String
    private let process = Process()

    init() throws {
        let port = LoopbackPort()
        url = "http://127.0.0.1:\(port.port)"
        process.executableURL = URL(fileURLWithPath: try PrometheusTools.path("prometheus-pushgateway", package: "prometheus-pushgateway"))
        process.arguments = ["--web.listen-address=127.0.0.1:\(port.port)"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        port.release()
        try process.run()
        let deadline = Date().addingTimeInterval(15)
        while PrometheusTools.get(url + "/-/ready", timeout: 1)?.status != 200 {
            guard process.isRunning, Date() < deadline else {
                stop()
                throw FixtureError("prometheus-pushgateway on \(url) did not answer /-/ready within 15 s")
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
    }

    /// What a Prometheus server would scrape from it.
    func metrics() throws -> PrometheusText {
        guard let (status, body) = PrometheusTools.get(url + "/metrics"), status == 200 else {
            throw FixtureError("GET \(url)/metrics failed")
        }
        return PrometheusText(body)
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}
