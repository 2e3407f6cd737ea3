import NIOCore
import SentinelHTTP1
import Testing

@testable import SentinelProxy

/// The head writers reserve an upper bound once and append raw bytes (a precondition guards the
/// bound): the worst shapes must fit and come out byte-exact.
struct HeadWriterTests {
    private func parseRequest(_ text: String) throws -> (RequestHead, [UInt8]) {
        let bytes = Array(text.utf8)
        var limits = HTTP1Limits()
        limits.maxHeaderBytes = 1 << 20
        limits.maxHeaderCount = 1000
        limits.maxURIBytes = 1 << 16
        var parser = HTTP1RequestHeadParser(limits: limits)
        let result = bytes.withUnsafeBytes { parser.parse($0) }
        guard case .head(let head) = result else { throw HeadWriterTestError.notParsed("\(result)") }
        return (head, bytes)
    }

    enum HeadWriterTestError: Error { case notParsed(String) }

    @Test func worstCaseRequestHeadFitsItsBound() throws {
        // A long authority in absolute form: the authority is written three times (Host,
        // X-Forwarded-Host, Forwarded's host=); many prior X-Forwarded-For, Forwarded and Via
        // fields of a trusted peer each gain ", ".
        let authority = String(repeating: "a", count: 60) + "." + String(repeating: "b", count: 60) + ".example:8080"
        var text = "GET http://\(authority)/p?q=1 HTTP/1.1\r\nHost: \(authority)\r\n"
        for _ in 0..<200 { text += "X-Forwarded-For: 1\r\nForwarded: for=1\r\nVia: 1\r\n" }
        text += "\r\n"
        let (head, bytes) = try parseRequest(text)
        let policy = HeaderEdits(
            rename: [(from: "x-forwarded-for", to: String(repeating: "R", count: 100))], set: [("X-Set", "v")],
            add: [("X-Add", String(repeating: "w", count: 500))], remove: [])
        let edits = HeadWriter.RequestEdits(
            clientIP: "2001:db8::1", clientIsIPv6: true, scheme: "http", traceID: String(repeating: "t", count: 128),
            traceparent: .incoming("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"), passUpgrade: false, dropExpect: false,
            policy: policy, via: Array(String(repeating: "v", count: 64).utf8), trustedPeer: true)
        var out = ByteBufferAllocator().buffer(capacity: 0)
        bytes.withUnsafeBytes { HeadWriter.request(head, bytes: $0, edits: edits, into: &out) }
        #expect(out.readableBytes <= HeadWriter.requestBound(head, edits: edits))
        let written = String(buffer: out)
        #expect(written.hasPrefix("GET /p?q=1 HTTP/1.1\r\nHost: \(authority)\r\n"))
        #expect(written.contains("X-Forwarded-For: " + String(repeating: "1, ", count: 200) + "2001:db8::1\r\n"))
        #expect(written.contains("Forwarded: " + String(repeating: "for=1, ", count: 200) + "for=\"[2001:db8::1]\";proto=http;host=\"\(authority)\"\r\n"))
        #expect(written.contains("Via: " + String(repeating: "1, ", count: 200) + "1.1 " + String(repeating: "v", count: 64) + "\r\n"))
        #expect(written.contains("X-Forwarded-Host: \(authority)\r\n"))
        #expect(written.contains("X-Add: " + String(repeating: "w", count: 500) + "\r\n"))
        #expect(written.hasSuffix("traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n"))
    }

    /// Variables on a connection without TLS: `{tls_client_verify}` is "none", a field whose
    /// value expands to nothing is left out, and the client's own fields of those names (set, or
    /// added with a variable) never reach the upstream.
    @Test func variablesOnAPlainConnectionDropClientClaims() throws {
        let policy = HeaderEdits(
            rename: [], set: [.init(name: "X-Client-Subject", value: "", parts: [.variable(.tlsClientSubject)]),
                              .init(name: "X-Client-Verify", value: "", parts: [.literal(Array("tls=".utf8)), .variable(.tlsClientVerify)])],
            add: [.init(name: "X-Client-SAN", value: "", parts: [.variable(.tlsClientSAN)]), .init(name: "X-Plain", value: "1")],
            remove: [])
        #expect(policy.hasVariables)
        let edits = HeadWriter.RequestEdits(
            clientIP: "192.0.2.1", scheme: "http", traceID: "t", traceparent: nil, passUpgrade: false, dropExpect: false, policy: policy)
        let written = try upstreamHead(
            "GET / HTTP/1.1\r\nHost: h\r\nX-Client-Subject: CN=admin\r\nx-client-san: DNS:admin\r\nX-Client-Verify: verified\r\nX-Plain: 0\r\n\r\n", edits)
        #expect(!written.lowercased().contains("x-client-subject"), "\(written)")
        #expect(!written.lowercased().contains("x-client-san"), "\(written)")
        #expect(written.contains("X-Client-Verify: tls=none\r\n"), "\(written)")
        #expect(!written.contains("verified"))
        // A plain `add` keeps the client's field beside its own.
        #expect(written.contains("X-Plain: 0\r\n") && written.contains("X-Plain: 1\r\n"), "\(written)")
    }

    private func upstreamHead(_ text: String, _ edits: HeadWriter.RequestEdits) throws -> String {
        let (head, bytes) = try parseRequest(text)
        var out = ByteBufferAllocator().buffer(capacity: 0)
        bytes.withUnsafeBytes { HeadWriter.request(head, bytes: $0, edits: edits, into: &out) }
        #expect(out.readableBytes <= HeadWriter.requestBound(head, edits: edits))
        return String(buffer: out)
    }

    private func edits(trusted: Bool = false, ip: String = "192.0.2.9", via: String? = "sentinel", local: String? = nil) -> HeadWriter.RequestEdits {
        HeadWriter.RequestEdits(
            clientIP: ip, clientIsIPv6: ip.contains(":"), scheme: "http", traceID: "rid", traceparent: nil, passUpgrade: false,
            dropExpect: false, via: via.map { Array($0.utf8) }, trustedPeer: trusted, localAuthority: local)
    }

    /// Regression: a client's `Forwarded` reached the upstream untouched and without Sentinel's
    /// element, so any client could claim any origin. From a peer that is not a trusted proxy
    /// every forwarding claim is replaced; a trusted proxy's are kept and extended.
    @Test func forwardingClaimsAreReplacedUnlessThePeerIsTrusted() throws {
        let request = "GET / HTTP/1.1\r\nHost: example.com:8080\r\nForwarded: for=203.0.113.5\r\nX-Forwarded-For: 203.0.113.5\r\n"
            + "X-Forwarded-Host: evil.example\r\nX-Forwarded-Proto: https\r\nX-Real-IP: 203.0.113.5\r\nVia: 1.0 front\r\n\r\n"
        let untrusted = try upstreamHead(request, edits())
        #expect(untrusted == "GET / HTTP/1.1\r\nHost: example.com:8080\r\nX-Forwarded-For: 192.0.2.9\r\n"
            + "X-Forwarded-Proto: http\r\nX-Forwarded-Host: example.com:8080\r\n"
            + "Forwarded: for=192.0.2.9;proto=http;host=\"example.com:8080\"\r\nVia: 1.0 front, 1.1 sentinel\r\n"
            + "X-Request-Id: rid\r\n\r\n")
        let trusted = try upstreamHead(request, edits(trusted: true))
        #expect(trusted == "GET / HTTP/1.1\r\nHost: example.com:8080\r\nX-Forwarded-Host: evil.example\r\n"
            + "X-Forwarded-Proto: https\r\nX-Real-IP: 203.0.113.5\r\nX-Forwarded-For: 203.0.113.5, 192.0.2.9\r\n"
            + "Forwarded: for=203.0.113.5, for=192.0.2.9;proto=http;host=\"example.com:8080\"\r\n"
            + "Via: 1.0 front, 1.1 sentinel\r\nX-Request-Id: rid\r\n\r\n")
        // An IPv6 client is quoted and bracketed (RFC 7239 §6); `via #false` adds no element and
        // lets the client's pass.
        let v6 = try upstreamHead(request, edits(ip: "2001:db8::7", via: nil))
        #expect(v6.contains("Forwarded: for=\"[2001:db8::7]\";proto=http;host=\"example.com:8080\"\r\n"))
        #expect(v6.contains("Via: 1.0 front\r\n"))
        #expect(!v6.contains("sentinel"))
        // A route policy that sets or removes a field Sentinel writes takes precedence.
        var policed = edits()
        policed.policy = HeaderEdits(rename: [], set: [("Via", "custom")], add: [], remove: ["Forwarded"])
        let custom = try upstreamHead(request, policed)
        #expect(custom.contains("Via: custom\r\n"))
        #expect(!custom.contains("Forwarded:"))
        #expect(!custom.contains("1.1 sentinel"))
    }

    /// Regression: an HTTP/1.0 request without Host was forwarded as HTTP/1.1 without Host (an
    /// invalid request). The upstream gets the address the client connected to (RFC 9112 §3.3).
    @Test func anHTTP10RequestWithoutHostGetsTheConnectionsAuthority() throws {
        let written = try upstreamHead("GET /x HTTP/1.0\r\n\r\n", edits(local: "10.0.0.1:8080"))
        #expect(written == "GET /x HTTP/1.1\r\nHost: 10.0.0.1:8080\r\nX-Forwarded-For: 192.0.2.9\r\nX-Forwarded-Proto: http\r\n"
            + "X-Forwarded-Host: 10.0.0.1:8080\r\nForwarded: for=192.0.2.9;proto=http;host=\"10.0.0.1:8080\"\r\n"
            + "Via: 1.0 sentinel\r\nX-Request-Id: rid\r\n\r\n")
        // With a Host of its own, HTTP/1.0 keeps it.
        let withHost = try upstreamHead("GET /x HTTP/1.0\r\nHost: a.example\r\n\r\n", edits(local: "10.0.0.1:8080"))
        #expect(withHost.hasPrefix("GET /x HTTP/1.1\r\nHost: a.example\r\n"))
        #expect(!withHost.contains("10.0.0.1"))
    }

    /// A trace context started by Sentinel is written straight into the head: version 00, the
    /// trace id from two random words, the parent id from a third, sampled.
    @Test func aNewTraceparentIsWrittenInPlaceAndValid() throws {
        let (head, bytes) = try parseRequest("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        let edits = HeadWriter.RequestEdits(
            clientIP: "127.0.0.1", scheme: "http", traceID: "t", traceparent: .new(0x1, 0xfedc_ba98_7654_3210, 0x3),
            passUpgrade: false, dropExpect: false)
        var out = ByteBufferAllocator().buffer(capacity: 0)
        bytes.withUnsafeBytes { HeadWriter.request(head, bytes: $0, edits: edits, into: &out) }
        let expected = "00-1000000000000000" + "0123456789abcdef" + "-3000000000000000-01"
        #expect(String(buffer: out).hasSuffix("traceparent: \(expected)\r\n\r\n"))
        #expect(RequestFacts.isValidTraceparent(expected))
        var rng = SystemRandomNumberGenerator()
        #expect(RequestFacts.isValidTraceparent(RequestFacts.newTraceparent(using: &rng)))
    }

    @Test func responseHeadKeepsFieldsAndAddsSentinelOnes() throws {
        let text = "HTTP/1.1 503 \r\nContent-Length: 0\r\nConnection: keep-alive\r\nX-Correlation-Id: spoofed\r\nX-A: b\r\n\r\n"
        let bytes = Array(text.utf8)
        var parser = HTTP1ResponseHeadParser(limits: HTTP1Limits())
        let result = bytes.withUnsafeBytes { parser.parse($0, requestMethod: .get) }
        guard case .head(let head) = result else { throw HeadWriterTestError.notParsed("\(result)") }
        let edits = HeadWriter.ResponseEdits(
            traceID: "abc", close: true, http10KeepAlive: false, dechunk: false, upgrade: false,
            setCookie: "s=1; Path=/", extra: [("X-Fallback-Used", "true")])
        var out = ByteBufferAllocator().buffer(capacity: 0)
        bytes.withUnsafeBytes { HeadWriter.response(head, bytes: $0, edits: edits, into: &out) }
        // The upstream's X-Correlation-Id is its own business now (Sentinel's id is X-Request-Id).
        #expect(
            String(buffer: out)
                == "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nX-Correlation-Id: spoofed\r\nX-A: b\r\nX-Fallback-Used: true\r\n"
                + "Set-Cookie: s=1; Path=/\r\nConnection: close\r\nX-Request-Id: abc\r\n\r\n")
    }

    /// RFC 9110 §6.6.1: a proxy forwarding a response without `Date` adds one; §7.6.3: it adds
    /// its `Via` element after the upstream's (with the protocol version it received). The
    /// upstream's X-Request-Id is replaced by Sentinel's.
    @Test func responsesGetViaAndDateWhenMissing() throws {
        func written(_ text: String) throws -> String {
            let bytes = Array(text.utf8)
            var parser = HTTP1ResponseHeadParser(limits: HTTP1Limits())
            guard case .head(let head) = bytes.withUnsafeBytes({ parser.parse($0, requestMethod: .get) }) else {
                throw HeadWriterTestError.notParsed(text)
            }
            let clock = ServerClock(wallSeconds: { 784_111_777.5 }, monotonicNanos: { 0 })
            let edits = HeadWriter.ResponseEdits(
                traceID: "abc", close: false, http10KeepAlive: false, dechunk: false, upgrade: false,
                via: Array("edge".utf8), date: HTTPDateCache(clock: clock))
            var out = ByteBufferAllocator().buffer(capacity: 0)
            bytes.withUnsafeBytes { HeadWriter.response(head, bytes: $0, edits: edits, into: &out) }
            #expect(out.readableBytes <= HeadWriter.responseBound(head, edits: edits))
            return String(buffer: out)
        }
        #expect(try written("HTTP/1.0 200 OK\r\nContent-Length: 0\r\nVia: 1.1 cdn\r\nX-Request-Id: theirs\r\n\r\n")
            == "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nVia: 1.1 cdn, 1.0 edge\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            + "X-Request-Id: abc\r\n\r\n")
        #expect(try written("HTTP/1.1 200 OK\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nContent-Length: 0\r\n\r\n")
            == "HTTP/1.1 200 OK\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nContent-Length: 0\r\nVia: 1.1 edge\r\n"
            + "X-Request-Id: abc\r\n\r\n")
    }

    @Test func imfFixdate() {
        #expect(HTTPDateCache.format(unixSeconds: 784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDateCache.format(unixSeconds: 0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDateCache.format(unixSeconds: 951_782_400) == "Tue, 29 Feb 2000 00:00:00 GMT")
        #expect(HTTPDateCache.format(unixSeconds: 4_102_444_799) == "Thu, 31 Dec 2099 23:59:59 GMT")
    }

    @Test func trustedProxyRanges() {
        let policy = ForwardingPolicy(trustedProxies: [
            .init(address: [10, 0, 0, 0], prefixLength: 8), .init(address: [192, 0, 2, 7], prefixLength: 32),
            .init(address: [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 12), prefixLength: 32),
        ])
        #expect(policy.trusts([10, 200, 3, 4]))
        #expect(!policy.trusts([11, 0, 0, 1]))
        #expect(policy.trusts([192, 0, 2, 7]))
        #expect(!policy.trusts([192, 0, 2, 8]))
        #expect(policy.trusts([0x20, 0x01, 0x0d, 0xb8, 9] + [UInt8](repeating: 1, count: 11)))
        #expect(!policy.trusts([0x20, 0x01, 0x0d, 0xb9] + [UInt8](repeating: 0, count: 12)))
        // IPv4-mapped IPv6 (a dual-stack listener) counts as the IPv4 address.
        #expect(policy.trusts([UInt8](repeating: 0, count: 10) + [0xFF, 0xFF, 10, 1, 2, 3]))
        #expect(!policy.trusts(nil))
        #expect(!ForwardingPolicy().trusts([10, 0, 0, 1]))
    }

    /// Fields received without a space after the colon are written with one: a head of many
    /// short fields grows by a byte per field, which the reservation must cover (it did not for
    /// responses; the buffer's own rounding hid it here, so this checks the output).
    @Test func compactFieldsFitTheBoundBothWays() throws {
        var response = "HTTP/1.1 200 \r\n"
        var request = "GET / HTTP/1.1\r\nHost:h\r\n"
        for i in 0..<900 {
            response += "a\(i):b\r\n"
            request += "a\(i):b\r\n"
        }
        response += "Content-Length:0\r\n\r\n"
        request += "\r\n"
        var limits = HTTP1Limits()
        limits.maxHeaderBytes = 1 << 20
        limits.maxHeaderCount = 1000
        let responseBytes = Array(response.utf8)
        var parser = HTTP1ResponseHeadParser(limits: limits)
        guard case .head(let head) = responseBytes.withUnsafeBytes({ parser.parse($0, requestMethod: .get) }) else {
            Issue.record("response not parsed")
            return
        }
        var out = ByteBufferAllocator().buffer(capacity: 0)
        let edits = HeadWriter.ResponseEdits(traceID: "t", close: false, http10KeepAlive: false, dechunk: false, upgrade: false)
        responseBytes.withUnsafeBytes { HeadWriter.response(head, bytes: $0, edits: edits, into: &out) }
        #expect(String(buffer: out).contains("a899: b\r\n"))

        let requestBytes = Array(request.utf8)
        var requestParser = HTTP1RequestHeadParser(limits: limits)
        guard case .head(let requestHead) = requestBytes.withUnsafeBytes({ requestParser.parse($0) }) else {
            Issue.record("request not parsed")
            return
        }
        var upstream = ByteBufferAllocator().buffer(capacity: 0)
        let requestEdits = HeadWriter.RequestEdits(
            clientIP: "127.0.0.1", scheme: "http", traceID: "t", traceparent: nil, passUpgrade: false, dropExpect: false)
        requestBytes.withUnsafeBytes { HeadWriter.request(requestHead, bytes: $0, edits: requestEdits, into: &upstream) }
        #expect(String(buffer: upstream).contains("a899: b\r\n"))
    }

    @Test func aWriterThatRunsOutOfRoomDropsTheAppendAndSaysSo() {
        var storage = [UInt8](repeating: 0, count: 8)
        let (count, overflowed, bytes) = storage.withUnsafeMutableBytes { raw -> (Int, Bool, [UInt8]) in
            var w = RawHeadWriter(raw)
            w.append("12345")
            w.append("6789")  // does not fit: dropped
            w.append(byte: UInt8(ascii: "!"))
            return (w.count, w.overflowed, Array(raw[0..<w.count]))
        }
        #expect(count == 6 && overflowed)
        #expect(String(decoding: bytes, as: UTF8.self) == "12345!")
    }

    /// A buffer allocated at the writer's bound is written in place: no regrowth (an
    /// allocation and a copy per request on the hot path).
    @Test func aBufferAllocatedAtTheBoundIsNotRegrown() throws {
        let (head, bytes) = try parseRequest("GET /p HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n")
        let edits = HeadWriter.RequestEdits(
            clientIP: "127.0.0.1", scheme: "http", traceID: "abcdefghijk",
            traceparent: .incoming("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"), passUpgrade: false, dropExpect: false)
        let bound = HeadWriter.requestBound(head, edits: edits)
        var out = ByteBufferAllocator().buffer(capacity: bound)
        let capacity = out.capacity
        bytes.withUnsafeBytes { HeadWriter.request(head, bytes: $0, edits: edits, into: &out) }
        #expect(out.capacity == capacity, "bound \(bound), capacity \(capacity) → \(out.capacity), written \(out.readableBytes)")
    }

    @Test func decimalDigits() {
        var storage = [UInt8](repeating: 0, count: 64)
        let written = storage.withUnsafeMutableBytes { raw -> [UInt8] in
            var w = RawHeadWriter(raw)
            for v in [0, 7, 10, 200, 999, Int.max] {
                w.append(decimal: v)
                w.append(byte: UInt8(ascii: ","))
            }
            return Array(raw[0..<w.count])
        }
        #expect(String(decoding: written, as: UTF8.self) == "0,7,10,200,999,\(Int.max),")
    }
}
