#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SentinelObservability
import SentinelPolicy
import SentinelTestSupport
import Synchronization
import Testing

@testable import SentinelProxy

/// The per-target request-path metrics (connect and response errors, bytes, time to first byte)
/// and the process metrics, end to end over real sockets.
@Suite(.serialized) struct TargetMetricsTests {
    /// The value of the sample `key` (`family{labels}`) in exposition text.
    static func value(_ text: String, _ key: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(key + " ") {
            return Double(line.dropFirst(key.count + 1))
        }
        return nil
    }

    static func labels(_ target: Int) -> String { "upstream=\"app\",target=\"127.0.0.1:\(target)\"" }

    /// A port nothing listens on: bound, then closed.
    static func deadPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        return try #require(bindLoopback(fd))
    }

    @Test func aRefusingTargetShowsConnectErrorsAndUnhealthyWhileClientsGetAnswersByRetry() async throws {
        let live = try await ScriptedUpstream { _ in .ok("up") }
        defer { Task { await live.shutdown() } }
        let dead = try Self.deadPort()
        // No health check, no passive health, no breaker: nothing but the metrics can tell.
        let snapshot = try ProxyTests.snapshot(upstreamPort: dead, extraTargets: [live.port])
        let server = ProxyServer(eventLoopCount: 1)
        let port = try await server.start(snapshot: snapshot)[0].port
        let c = try RawClient(port: port)
        for i in 0..<4 {
            let r = try c.request("GET /\(i) HTTP/1.1\r\nHost: h\r\n\r\n")
            #expect(r.status == 200, "request \(i) answered by retry on the live target")
            #expect(r.body == "up")
        }
        let text = server.metrics.render(version: "t")
        _ = await server.shutdown(gracefulTimeout: .seconds(1))
        let refused = try #require(Self.value(text, "sentinel_upstream_connect_errors_total{\(Self.labels(dead)),reason=\"refused\"}"))
        #expect(refused >= 2, "round robin tried the dead target on every other request")
        #expect(Self.value(text, "sentinel_upstream_connect_errors_total{\(Self.labels(live.port)),reason=\"refused\"}") == 0)
        #expect(Self.value(text, "sentinel_upstream_target_healthy{\(Self.labels(dead))}") == 0)
        #expect(Self.value(text, "sentinel_upstream_target_healthy{\(Self.labels(live.port))}") == 1)
        // The retried failures never reached a client: no upstream failure was answered.
        #expect(!text.contains("sentinel_upstream_failures_total{"))
        #expect(Self.value(text, "sentinel_upstream_retries_total{upstream=\"app\"}") == refused)
    }

    /// With passive health on, the refused connections also eject the target: it gets no more traffic.
    @Test func passiveHealthEjectsATargetThatKeepsRefusing() async throws {
        let live = try await ScriptedUpstream { _ in .ok("up") }
        defer { Task { await live.shutdown() } }
        let dead = try Self.deadPort()
        var snapshot = try ProxyTests.snapshot(upstreamPort: dead, extraTargets: [live.port])
        snapshot.upstreams[0].resilience.passiveHealth = PassiveHealth.Configuration(
            window: 4, failureRate: 0.5, minRequests: 2, ejectionTime: .seconds(60))
        let server = ProxyServer(eventLoopCount: 1)
        let port = try await server.start(snapshot: snapshot)[0].port
        let c = try RawClient(port: port)
        for i in 0..<10 { #expect(try c.request("GET /\(i) HTTP/1.1\r\nHost: h\r\n\r\n").status == 200) }
        let text = server.metrics.render(version: "t")
        _ = await server.shutdown(gracefulTimeout: .seconds(1))
        #expect(Self.value(text, "sentinel_upstream_ejections_total{\(Self.labels(dead))}") == 1)
        #expect(Self.value(text, "sentinel_upstream_connect_errors_total{\(Self.labels(dead)),reason=\"refused\"}") == 2)
        #expect(Self.value(text, "sentinel_upstream_selections_total{\(Self.labels(dead))}") == 2, "no pick after the ejection")
        #expect(Self.value(text, "sentinel_upstream_target_healthy{\(Self.labels(dead))}") == 0)
    }

    @Test func bytesAndTimeToFirstByteAreCountedPerTarget() async throws {
        let response = Array("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello".utf8)
        let received = Mutex(0)
        let upstream = try LoopbackListener()
        upstream.start { fd in
            defer { close(fd) }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 4096)
            // Head, then the 7-byte body the test sends.
            while true {
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { return }
                bytes += chunk[0..<n]
                if let end = String(decoding: bytes, as: UTF8.self).range(of: "\r\n\r\n"),
                    String(decoding: bytes, as: UTF8.self)[end.upperBound...].utf8.count >= 7
                {
                    break
                }
            }
            received.withLock { $0 = bytes.count }
            usleep(20_000)  // a measurable time to first byte
            _ = response.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            _ = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        }
        let server = ProxyServer(eventLoopCount: 1)
        let port = try await server.start(snapshot: try ProxyTests.snapshot(upstreamPort: upstream.port))[0].port
        let c = try RawClient(port: port)
        let r = try c.request("POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\n\r\npayload")
        #expect(r.status == 200)
        #expect(r.body == "hello")
        let text = server.metrics.render(version: "t")
        _ = await server.shutdown(gracefulTimeout: .seconds(1))
        let l = Self.labels(upstream.port)
        #expect(Self.value(text, "sentinel_upstream_request_bytes_total{\(l)}") == Double(received.withLock { $0 }))
        #expect(Self.value(text, "sentinel_upstream_response_bytes_total{\(l)}") == Double(response.count))
        #expect(Self.value(text, "sentinel_upstream_first_byte_seconds_count{\(l)}") == 1)
        let ttfb = try #require(Self.value(text, "sentinel_upstream_first_byte_seconds_sum{\(l)}"))
        #expect(ttfb >= 0.02 && ttfb < 5)
        #expect(Self.value(text, "sentinel_upstream_first_byte_seconds_bucket{\(l),le=\"0.01\"}") == 0)
        #expect(Self.value(text, "sentinel_upstream_first_byte_seconds_bucket{\(l),le=\"+Inf\"}") == 1)
        #expect(Self.value(text, "sentinel_upstream_selections_total{\(l)}") == 1)
        #expect(Self.value(text, "sentinel_upstream_response_errors_total{\(l),reason=\"malformed\"}") == 0)
    }

    @Test func aMalformedResponseAndATimeoutAreResponseErrors() async throws {
        let garbage = try await ScriptedUpstream { request in
            request.requestLine.contains("/slow") ? .hang : .bytes(Array("NOT HTTP\r\n\r\n".utf8))
        }
        defer { Task { await garbage.shutdown() } }
        let server = ProxyServer(eventLoopCount: 1)
        let snapshot = try ProxyTests.snapshot(upstreamPort: garbage.port, readTimeout: .milliseconds(200))
        let port = try await server.start(snapshot: snapshot)[0].port
        #expect(try RawClient(port: port).request("GET /bad HTTP/1.1\r\nHost: h\r\n\r\n").status == 502)
        #expect(try RawClient(port: port).request("GET /slow HTTP/1.1\r\nHost: h\r\n\r\n").status == 504)
        let text = server.metrics.render(version: "t")
        _ = await server.shutdown(gracefulTimeout: .seconds(1))
        let l = Self.labels(garbage.port)
        #expect(Self.value(text, "sentinel_upstream_response_errors_total{\(l),reason=\"malformed\"}") == 1)
        #expect(Self.value(text, "sentinel_upstream_response_errors_total{\(l),reason=\"timeout\"}") == 1)
        #expect(Self.value(text, "sentinel_upstream_connect_errors_total{\(l),reason=\"refused\"}") == 0)
    }

    @Test func connectErrorsAreClassifiedByErrno() {
        #expect(ConnectErrorReason.classify(errno: ECONNREFUSED) == .refused)
        #expect(ConnectErrorReason.classify(errno: ECONNRESET) == .reset)
        #expect(ConnectErrorReason.classify(errno: ETIMEDOUT) == .timeout)
        #expect(ConnectErrorReason.classify(errno: EHOSTUNREACH) == .unreachable)
        #expect(ConnectErrorReason.classify(errno: ENETUNREACH) == .unreachable)
        #expect(ConnectErrorReason.classify(errno: EACCES) == .other)
    }

    /// A slot freed by a reload is reused by another target with a new epoch: an exchange still
    /// holding the old slot records nothing into the new target's counters.
    @Test func aReusedSlotIgnoresTheOldTargetsLateSamples() {
        var table = TargetCounterTable()
        let a = UpstreamTargetKey(upstream: "u", target: "a:1")
        let b = UpstreamTargetKey(upstream: "u", target: "b:1")
        table.assign([a])
        let old = table.slot(a)
        table.record(TargetSample(slot: old, requestBytes: 10, responseBytes: 20, firstByteSeconds: 0.1, connected: true))
        table.assign([b])
        let new = table.slot(b)
        #expect(new.index == old.index)
        #expect(new.epoch != old.epoch)
        table.record(TargetSample(slot: old, requestBytes: 99, responseBytes: 99, firstByteSeconds: nil, connected: false))
        #expect(table.counters[Int(new.index)].requestBytes == 0, "the old target's sample is dropped")
        table.record(TargetSample(slot: new, requestBytes: 5, responseBytes: 6, firstByteSeconds: nil, connected: false))
        #expect(table.counters[Int(new.index)].requestBytes == 5)
        #expect(table.slot(a) == .none)
        // Counters of a target that stays configured carry on across an assignment.
        table.assign([b, a])
        #expect(table.counters[Int(table.slot(b).index)].requestBytes == 5)
    }

    @Test func processMetricsOfThisProcessArePlausible() throws {
        let p = try #require(ProcessMetrics.current())
        let now = Date().timeIntervalSince1970
        #expect(p.residentBytes > 1_000_000)
        #expect(p.virtualBytes >= p.residentBytes)
        #expect(p.openFDs >= 3 && p.openFDs <= p.maxFDs)
        #expect(p.cpuSeconds > 0)
        #expect(p.startTimeSeconds <= now + 1 && p.startTimeSeconds > now - 86_400)
        let text = MetricsRegistry().render(version: "t")
        for name in ProcessMetrics.familyNames {
            #expect(text.contains("# TYPE \(name) "), "\(name) in a plain process's metrics")
            #expect(Self.value(text, name) != nil)
        }
        #expect(!MetricsRegistry(processMetrics: false).render(version: "t").contains("process_"))
    }

    @Test func processMetricsRenderInTheStandardNamesWithLabels() {
        let p = ProcessMetrics(cpuSeconds: 1.5, residentBytes: 2048, virtualBytes: 4096, openFDs: 7, maxFDs: 1024, startTimeSeconds: 1_700_000_000.25)
        #expect(p.render(labels: "role=\"master\"") == """
            # HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
            # TYPE process_cpu_seconds_total counter
            process_cpu_seconds_total{role="master"} 1.5
            # HELP process_resident_memory_bytes Resident memory size in bytes.
            # TYPE process_resident_memory_bytes gauge
            process_resident_memory_bytes{role="master"} 2048
            # HELP process_virtual_memory_bytes Virtual memory size in bytes.
            # TYPE process_virtual_memory_bytes gauge
            process_virtual_memory_bytes{role="master"} 4096
            # HELP process_open_fds Number of open file descriptors.
            # TYPE process_open_fds gauge
            process_open_fds{role="master"} 7
            # HELP process_max_fds Maximum number of open file descriptors.
            # TYPE process_max_fds gauge
            process_max_fds{role="master"} 1024
            # HELP process_start_time_seconds Start time of the process since unix epoch in seconds.
            # TYPE process_start_time_seconds gauge
            process_start_time_seconds{role="master"} 1700000000.25

            """)
        // A command name with spaces and parentheses does not shift the fields.
        let stat = "42 (a (b) c) S 1 42 42 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 4 0 12345 987654 321 18446744073709551615"
        let f = ProcessMetrics.statFields(stat)
        #expect(f?.utime == 250 && f?.stime == 50 && f?.startTicks == 12345 && f?.vsize == 987654 && f?.rssPages == 321)
        #expect(ProcessMetrics.bootTime("cpu 1 2 3\nbtime 1700000000\nprocesses 5\n") == 1_700_000_000)
    }

    @Test func reloadGaugesFollowTheLatestAttempt() {
        let reload = ReloadMetrics(now: 100)
        let registry = MetricsRegistry(reload: reload)
        #expect(Self.value(registry.render(version: "t"), "sentinel_config_last_reload_successful") == 1)
        #expect(Self.value(registry.render(version: "t"), "sentinel_config_last_reload_success_timestamp_seconds") == 100)
        reload.failed()
        #expect(Self.value(registry.render(version: "t"), "sentinel_config_last_reload_successful") == 0)
        #expect(Self.value(registry.render(version: "t"), "sentinel_config_last_reload_success_timestamp_seconds") == 100)
        reload.succeeded(at: 200.5)
        #expect(Self.value(registry.render(version: "t"), "sentinel_config_last_reload_successful") == 1)
        #expect(Self.value(registry.render(version: "t"), "sentinel_config_last_reload_success_timestamp_seconds") == 200.5)
        #expect(!MetricsRegistry().render(version: "t").contains("sentinel_config_last_reload"), "a worker leaves them to its master")
    }
}
