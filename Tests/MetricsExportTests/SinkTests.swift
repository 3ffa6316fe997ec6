import Foundation
import Testing
import FMSupport
@testable import MetricsExport
import RunRecords
import Synchronization

/// The textfile and Pushgateway sinks, and the exporter that follows a run folder.
@Suite struct SinkTests {
    let temporary = TemporaryDirectory()

    /// run.json is rewritten at the start, after every epoch and at the end: the exporter
    /// publishes each time, with the record as written.
    @Test func exporter_publishesEachTimeRunJSONIsWritten() throws {
        let sink = RecordingSink()
        let exporter = MetricsExporter(sinks: [sink])
        let run = try Fixtures.trainingRun(in: temporary.file("run"), exporter: exporter)
        #expect(sink.published.withLock { $0.count } == 2)
        #expect(sink.last.value("fmctl_epoch") == 2)
        try run.finish(status: .completed)
        #expect(sink.published.withLock { $0.count } == 3)
        #expect(sink.last.value("fmctl_run_status", ["status": "completed"]) == 1)
        #expect(sink.published.withLock { $0.allSatisfy { $0.runID == "run-1" } })
        exporter.close()
        #expect(sink.closed.load(ordering: .relaxed) == 1)
    }

    @Test func textfile_isReplacedWholeEachTime() throws {
        let path = temporary.file("fmctl.prom")
        let warnings = Warnings()
        let exporter = MetricsExporter(sinks: [TextfileSink(path: path, warn: warnings.warn)])
        let run = try Fixtures.trainingRun(in: temporary.file("run"), exporter: exporter)
        #expect(PrometheusText(try temporary.text("fmctl.prom")).value("fmctl_epoch") == 2)
        try run.finish(status: .interrupted)
        let text = PrometheusText(try temporary.text("fmctl.prom"))
        #expect(text.value("fmctl_run_status", ["status": "interrupted"]) == 1)
        #expect(text.series("fmctl_epoch").count == 1)
        #expect(warnings.all.isEmpty)
        #expect(temporary.listing() == ["fmctl.prom", "run"], "no temporary file left behind")
    }

    /// A textfile folder that disappears during the run: one warning, however many epochs follow.
    @Test func textfile_failingWrites_warnOnce() throws {
        try FileManager.default.createDirectory(atPath: temporary.file("metrics"), withIntermediateDirectories: false)
        let warnings = Warnings()
        let sink = TextfileSink(path: temporary.file("metrics/fmctl.prom"), warn: warnings.warn)
        let record = try Fixtures.trainingRun(in: temporary.file("run")).record
        try FileManager.default.removeItem(atPath: temporary.file("metrics"))
        for _ in 0..<3 { sink.publish(Array("x 1\n".utf8), of: record) }
        #expect(warnings.all.count == 1)
        #expect(warnings.all.first?.contains("metrics/fmctl.prom") == true, "\(warnings.all)")
    }

    /// Plain HTTP only: the push speaks HTTP/1.1 over a socket, without TLS.
    @Test func gatewayURL_acceptsHTTPOnly() {
        for good in ["http://localhost:9091", "http://push.example.org/prefix/", "HTTP://127.0.0.1:9091", "http://[::1]:9091"] {
            #expect(PushgatewaySink.gatewayURL(good) != nil, "\(good)")
        }
        for bad in ["", "localhost:9091", "https://push.example.org", "ftp://host/", "http://", "http:///path", "http://host:9091/?a=b", "http://host#x", "not a url"] {
            #expect(PushgatewaySink.gatewayURL(bad) == nil, "\(bad)")
        }
    }

    /// Job fmctl, then run_id and instance; a value a path cannot hold goes base64url-encoded,
    /// the Pushgateway's own escape.
    @Test func groupURL_namesJobRunAndInstance() throws {
        let gateway = try #require(PushgatewaySink.gatewayURL("http://127.0.0.1:9091/"))
        #expect(PushgatewaySink.groupURL(gateway: gateway, runID: "20261130T015000Z-cnn", instance: "node-1.lab").absoluteString
                == "http://127.0.0.1:9091/metrics/job/fmctl/run_id/20261130T015000Z-cnn/instance/node-1.lab")
        #expect(PushgatewaySink.groupURL(gateway: gateway, runID: "a b/c?", instance: "").absoluteString
                == "http://127.0.0.1:9091/metrics/job/fmctl/run_id@base64/YSBiL2M_/instance@base64/=")
    }

    /// A gateway that refuses connections: publishing returns at once (the push runs on its own
    /// queue), and three failed pushes give one warning.
    @Test func pushgateway_refused_warnsOnce_andNeverBlocksPublish() throws {
        let port = LoopbackPort()   // bound, not listening: connections are refused
        let warnings = Warnings()
        let sink = PushgatewaySink(gateway: URL(string: "http://127.0.0.1:\(port.port)")!, timeoutSeconds: 1, warn: warnings.warn)
        let record = try Fixtures.trainingRun(in: temporary.file("run")).record
        let started = Date()
        for _ in 0..<3 { sink.publish(Array("x 1\n".utf8), of: record) }
        #expect(Date().timeIntervalSince(started) < 0.2, "publish waited for the network")
        sink.close()
        for _ in 0..<2 {
            sink.publish(Array("x 1\n".utf8), of: record)
            sink.close()
        }
        #expect(warnings.all.count == 1, "\(warnings.all)")
        #expect(warnings.all.first?.contains("pushgateway http://127.0.0.1:\(port.port)") == true, "\(warnings.all)")
    }

    /// A gateway that accepts the connection and never answers: publishing never waits (it
    /// returns well inside the 2 s the push then waits for an answer, however loaded the
    /// machine), the push gives up after its timeout, and the warning says there was no answer.
    @Test func pushgateway_silent_givesUpAfterTheTimeout() throws {
        let port = LoopbackPort()
        port.listen()   // connections complete in the kernel's queue; nothing reads or answers
        let warnings = Warnings()
        let sink = PushgatewaySink(gateway: URL(string: "http://127.0.0.1:\(port.port)")!, timeoutSeconds: 2, warn: warnings.warn)
        let record = try Fixtures.trainingRun(in: temporary.file("run")).record
        let started = Date()
        sink.publish(Array("x 1\n".utf8), of: record)
        #expect(Date().timeIntervalSince(started) < 1, "publish waited for the network")
        sink.close()
        let waited = Date().timeIntervalSince(started)
        #expect(waited >= 1.9 && waited < 30, "close returned after \(waited) s")
        #expect(warnings.all == ["pushgateway http://127.0.0.1:\(port.port): metrics not pushed (no answer within 2.0 s); "
                                 + "the run goes on, and later failures are not reported"])
    }

    /// The request as a Pushgateway reads it, and its refusal passed on in the warning.
    @Test func pushgateway_sendsAPUTToTheRunsGroup_andReportsAnHTTPError() throws {
        let port = LoopbackPort()
        port.listen()
        let request = Mutex<String>("")
        let server = Thread {
            let fd = port.accept()
            defer { close(fd) }
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            // Until the whole body has come (the head ends in an empty line, then Content-Length bytes).
            while !String(decoding: received, as: UTF8.self).hasSuffix("fmctl_epoch 2\n") {
                let n = read(fd, &buffer, buffer.count)
                if n <= 0 { break }
                received += buffer[..<n]
            }
            request.withLock { $0 = String(decoding: received, as: UTF8.self) }
            let answer = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 33\r\n\r\npushed metrics are invalid: x\nmore\n"
            _ = answer.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
        }
        server.start()
        let warnings = Warnings()
        let sink = PushgatewaySink(gateway: URL(string: "http://127.0.0.1:\(port.port)/")!, timeoutSeconds: 2, warn: warnings.warn)
        let record = try Fixtures.trainingRun(in: temporary.file("run")).record
        sink.publish(Array("fmctl_epoch 2\n".utf8), of: record)
        sink.close()
        let lines = request.withLock { $0 }.components(separatedBy: "\r\n")
        #expect(lines.first == "PUT /metrics/job/fmctl/run_id/run-1/instance/trainer-1 HTTP/1.1")
        #expect(lines.contains("Host: 127.0.0.1:\(port.port)"))
        #expect(lines.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8"))
        #expect(lines.contains("Content-Length: 14"))
        #expect(lines.last == "fmctl_epoch 2\n")
        #expect(warnings.all.count == 1)
        #expect(warnings.all.first?.contains("(HTTP 400: pushed metrics are invalid: x)") == true, "\(warnings.all)")
    }
}
