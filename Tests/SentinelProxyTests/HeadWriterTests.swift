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
        // A long authority in absolute form and no Host field: the authority is written twice
        // (Host and X-Forwarded-Host); many prior X-Forwarded-For fields each gain ", ".
        let authority = String(repeating: "a", count: 60) + "." + String(repeating: "b", count: 60) + ".example:8080"
        var text = "GET http://\(authority)/p?q=1 HTTP/1.1\r\nHost: \(authority)\r\n"
        for _ in 0..<200 { text += "X-Forwarded-For: 1\r\n" }
        text += "\r\n"
        let (head, bytes) = try parseRequest(text)
        let policy = HeaderEdits(
            rename: [(from: "x-forwarded-for", to: String(repeating: "R", count: 100))], set: [("X-Set", "v")],
            add: [("X-Add", String(repeating: "w", count: 500))], remove: [])
        let edits = HeadWriter.RequestEdits(
            clientIP: "2001:db8::1", scheme: "http", traceID: String(repeating: "t", count: 128),
            traceparent: .incoming("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"), passUpgrade: false, dropExpect: false,
            policy: policy)
        var out = ByteBufferAllocator().buffer(capacity: 0)
        bytes.withUnsafeBytes { HeadWriter.request(head, bytes: $0, edits: edits, into: &out) }
        let written = String(buffer: out)
        #expect(written.hasPrefix("GET /p?q=1 HTTP/1.1\r\nHost: \(authority)\r\n"))
        #expect(written.contains("X-Forwarded-For: " + String(repeating: "1, ", count: 200) + "2001:db8::1\r\n"))
        #expect(written.contains("X-Forwarded-Host: \(authority)\r\n"))
        #expect(written.contains("X-Add: " + String(repeating: "w", count: 500) + "\r\n"))
        #expect(written.hasSuffix("traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n"))
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
        #expect(
            String(buffer: out)
                == "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nX-A: b\r\nX-Fallback-Used: true\r\n"
                + "Set-Cookie: s=1; Path=/\r\nConnection: close\r\nX-Correlation-Id: abc\r\n\r\n")
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
