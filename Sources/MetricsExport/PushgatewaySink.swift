import Dispatch
import Foundation
import RunRecords
import Synchronization

/// The metrics pushed to a Prometheus Pushgateway: `PUT <gateway>/metrics/job/fmctl/run_id/<id>/instance/<host>`,
/// which replaces the group's metrics with the new ones.
///
/// The push never stops or slows the run: `publish` only hands the exposition to a queue of
/// its own, which sends the latest one (an older one still waiting is dropped, since the newer
/// replaces it anyway) over plain HTTP/1.1, connecting, sending and reading within one timeout.
/// The first failure (refused, timed out, an HTTP error) is told once; later pushes are still
/// tried, silently, in case the gateway comes back.
public final class PushgatewaySink: MetricsSink {
    public static let job = "fmctl"

    /// The gateway as given, e.g. `http://localhost:9091`.
    public let gateway: URL
    public let timeoutSeconds: Double
    private let queue = DispatchQueue(label: "fmctl.pushgateway")
    /// The exposition waiting to be sent, and the URL of its group.
    private let waiting = Mutex<(body: [UInt8], url: URL)?>(nil)
    private let failure: FirstFailure

    /// - Parameters:
    ///   - gateway: an `http` URL that ``gatewayURL(_:)`` accepted.
    ///   - timeoutSeconds: the most one push may take, connecting included.
    ///   - warn: prints one warning line.
    public init(gateway: URL, timeoutSeconds: Double = 2, warn: @escaping @Sendable (String) -> Void) {
        self.gateway = gateway
        self.timeoutSeconds = timeoutSeconds
        failure = FirstFailure(warn: warn)
    }

    /// `text` as a Pushgateway URL: `http` (the push is plain HTTP/1.1; https is not supported),
    /// with a host, without a query or fragment; nil otherwise.
    public static func gatewayURL(_ text: String) -> URL? {
        guard let url = URL(string: text), url.scheme?.lowercased() == "http",
              let host = url.host, !host.isEmpty, url.query == nil, url.fragment == nil else { return nil }
        return url
    }

    /// The URL of a run's group: job `fmctl`, then `run_id` and `instance` (the host name).
    public static func groupURL(gateway: URL, runID: String, instance: String) -> URL {
        var base = gateway.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        let path = "/metrics/job/\(job)" + groupingLabel("run_id", runID) + groupingLabel("instance", instance)
        return URL(string: base + path) ?? gateway
    }

    /// `/name/value`, or `/name@base64/<base64url>` for a value that is empty or holds a
    /// character other than a letter, digit, `-`, `_` or `.` (the Pushgateway's own escape for
    /// values that cannot stand in a path).
    static func groupingLabel(_ name: String, _ value: String) -> String {
        let plain = !value.isEmpty && value.unicodeScalars.allSatisfy {
            $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0))
        }
        if plain { return "/\(name)/\(value)" }
        let encoded = Data(value.utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        return "/\(name)@base64/\(encoded.isEmpty ? "=" : encoded)"
    }

    public func publish(_ exposition: [UInt8], of record: RunRecord) {
        let url = Self.groupURL(gateway: gateway, runID: record.runID, instance: record.host.hostname)
        let alreadyQueued = waiting.withLock { waiting in
            defer { waiting = (exposition, url) }
            return waiting != nil
        }
        if !alreadyQueued { queue.async { self.sendWaiting() } }
    }

    /// Waits until the pushes under way are answered, for two timeouts at most (a push in
    /// flight and the last one queued behind it): a gateway that answers sees the last
    /// metrics, one that does not delays the end of the process by no more.
    public func close() {
        let done = DispatchSemaphore(value: 0)
        queue.async { done.signal() }
        _ = done.wait(timeout: .now() + 2 * timeoutSeconds + 0.5)
    }

    private func sendWaiting() {
        while let next = waiting.withLock({ waiting in defer { waiting = nil }; return waiting }) {
            if let problem = push(next.body, to: next.url) {
                failure.report("pushgateway \(gateway.absoluteString): metrics not pushed (\(problem)); the run goes on, "
                               + "and later failures are not reported")
            }
        }
    }

    /// Sends one PUT and waits for its answer; the reason it failed, or nil.
    private func push(_ body: [UInt8], to url: URL) -> String? {
        switch PlainHTTP.request("PUT", url, body: body, contentType: PrometheusExposition.contentType, timeoutSeconds: timeoutSeconds) {
        case .failure(let error):
            return error.message
        case .success(let response) where (200..<300).contains(response.status):
            return nil
        case .success(let response):
            // The Pushgateway says why in the body (e.g. a push inconsistent with another group's).
            return "HTTP \(response.status)" + (response.reason.isEmpty ? "" : ": \(response.reason)")
        }
    }
}
