import SentinelHTTP1
import Testing

@Test func typicalResponse() throws {
    let text = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\n"
    let head = try #require(parseResponse(text).head)
    #expect(head.status == 200)
    #expect(text[bytes: head.reason] == "OK")
    #expect(head.framing == .contentLength(12))
    #expect(head.keepAlive)
    #expect(head.headLength == text.utf8.count)
    #expect(head.fields.count == 2)
    #expect(!head.isInterim)
}

@Test func statusLineShapes() throws {
    #expect(parseResponse("HTTP/1.1 204\r\n\r\n").head?.reason.isEmpty == true)
    #expect(parseResponse("HTTP/1.1 204 \r\n\r\n").head?.reason.isEmpty == true)
    #expect(parseResponse("HTTP/1.0 404 Not  Found\r\n\r\n").head?.status == 404)
    let bad = [
        "HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n", "HTTP/1.1 099 X\r\n\r\n", "HTTP/1.1 600 X\r\n\r\n",
        "HTTP/1.1  200 OK\r\n\r\n", "HTTP/2.0 200 OK\r\n\r\n", "http/1.1 200 OK\r\n\r\n", "HTTP/1.1 2x0 OK\r\n\r\n",
        "HTTP/1.1 200 OK\n\r\n", "HTTP/1.1 200 O\u{1}K\r\n\r\n", "ICY 200 OK\r\n\r\n",
    ]
    for text in bad {
        let error = parseResponse(text).error
        #expect(error != nil, "\(text.debugDescription)")
        #expect(error?.status == 502)
    }
}

@Test func responseFramingFollowsRFC9112Section6_3() throws {
    func framing(_ text: String, _ method: HTTP1Method = .get) -> ResponseFraming? {
        parseResponse(text, method: method).head?.framing
    }
    let cl = "Content-Length: 5\r\n"
    #expect(framing("HTTP/1.1 200 OK\r\n\(cl)\r\n", .head) == ResponseFraming.none)
    #expect(framing("HTTP/1.1 100 Continue\r\n\r\n") == ResponseFraming.none)
    #expect(framing("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n") == ResponseFraming.none)
    #expect(framing("HTTP/1.1 204 No Content\r\n\(cl)\r\n") == ResponseFraming.none)
    #expect(framing("HTTP/1.1 304 Not Modified\r\n\(cl)\r\n") == ResponseFraming.none)
    #expect(framing("HTTP/1.1 200 OK\r\n\r\n", .connect) == .tunnel)
    #expect(framing("HTTP/1.1 407 Auth\r\n\(cl)\r\n", .connect) == .contentLength(5))
    #expect(framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") == .chunked)
    #expect(framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n") == .chunked)
    #expect(framing("HTTP/1.1 200 OK\r\n\(cl)\r\n") == .contentLength(5))
    #expect(framing("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\(cl)\r\n") == .contentLength(5))
    #expect(framing("HTTP/1.1 200 OK\r\n\r\n") == .untilClose)
    #expect(parseResponse("HTTP/1.1 200 OK\r\n\r\n").head?.keepAlive == false)
    #expect(parseResponse("HTTP/1.1 200 OK\r\n\r\n", method: .connect).head?.keepAlive == false)
}

@Test func ambiguousResponsesAreRefused() {
    let cases: [(String, HTTP1ParseError.Code)] = [
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            .contentLengthWithTransferEncoding
        ),
        ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", .conflictingContentLength),
        ("HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", .conflictingContentLength),
        ("HTTP/1.1 200 OK\r\nContent-Length: five\r\n\r\n", .invalidContentLength),
        ("HTTP/1.1 200 OK\r\nContent-Length: 5,\r\n\r\n", .invalidContentLength),
        ("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", .transferEncodingInHTTP10),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", .invalidTransferEncoding),
        // Regression: codings other than a single chunked were forwarded without their
        // Transfer-Encoding (gzip-coded bytes the client could not know about).
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", .unsupportedTransferCoding),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", .unsupportedTransferCoding),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", .unsupportedTransferCoding),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n", .unsupportedTransferCoding),
        ("HTTP/1.1 200 OK\r\nX : y\r\n\r\n", .whitespaceBeforeColon),
        ("HTTP/1.1 200 OK\r\nX: y\r\n z\r\n\r\n", .obsFold),
        ("HTTP/1.1 200 OK\r\nX: y\r\r\n\r\n", .bareCarriageReturn),
    ]
    for (text, code) in cases {
        let error = parseResponse(text).error
        #expect(error?.code == code, "\(text.debugDescription)")
        #expect(error?.status == 502)
    }
}

@Test func interimAndUpgradeResponses() throws {
    let continueHead = try #require(parseResponse("HTTP/1.1 100 Continue\r\n\r\n").head)
    #expect(continueHead.isInterim)
    let hints = try #require(parseResponse("HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n").head)
    #expect(hints.isInterim)
    let text = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
    let upgrade = try #require(parseResponse(text).head)
    #expect(upgrade.isUpgrade101)
    #expect(!upgrade.isInterim)
    #expect(text[bytes: upgrade.upgrade] == "websocket")
    #expect(parseResponse("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n").head?.isUpgrade101 == false)
}

@Test func interimThenFinalResponseInOneBuffer() throws {
    let bytes = Array(
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close, X-A\r\nX-A: 1\r\n\r\nok"
            .utf8
    )
    var parser = HTTP1ResponseHeadParser()
    let first = try #require(bytes.withUnsafeBytes { parser.parse($0, requestMethod: .post) }.head)
    #expect(first.isInterim)
    let rest = Array(bytes[first.headLength...])
    let second = try #require(rest.withUnsafeBytes { parser.parse($0, requestMethod: .post) }.head)
    #expect(second.status == 200)
    #expect(!second.keepAlive)
    #expect(Array(second.hopByHopFieldIndices) == [1, 2])
    #expect(rest.count - second.headLength == 2)
}

@Test func responseDripFeedingMatchesWhole() {
    let text = Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX: 1\r\n\r\n".utf8)
    var whole = HTTP1ResponseHeadParser()
    let expected = text.withUnsafeBytes { whole.parse($0, requestMethod: .get) }
    var drip = HTTP1ResponseHeadParser()
    var result = ResponseParseResult.needMore
    for end in 1...text.count {
        result = Array(text[..<end]).withUnsafeBytes { drip.parse($0, requestMethod: .get) }
        if result != .needMore { break }
    }
    #expect(result == expected)
    #expect(expected.head?.framing == .chunked)
}

@Test func responseLimits() {
    let tiny = HTTP1Limits(maxHeaderBytes: 40, maxHeaderCount: 2)
    let longStatus = "HTTP/1.1 200 \(String(repeating: "k", count: 40))\r\n\r\n"
    #expect(parseResponse(longStatus, limits: tiny).error?.code == .headerSectionTooLarge)
    #expect(
        parseResponse("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits: tiny).error?.code == .tooManyFields
    )
    #expect(
        parseResponse("HTTP/1.1 200 OK\r\nA: \(String(repeating: "v", count: 40))\r\n\r\n", limits: tiny).error?.status
            == 502
    )
}

@Test func responseConnectionOptionsAreHopByHop() throws {
    let text =
        "HTTP/1.1 200 OK\r\nConnection: X-Internal\r\nX-Internal: secret\r\nContent-Length: 0\r\nKeep-Alive: timeout=5\r\n\r\n"
    let head = try #require(parseResponse(text).head)
    #expect(Array(head.hopByHopFieldIndices) == [0, 1, 3])
    #expect(head.fields[1].isListedInConnection)
    #expect(head.framing == .contentLength(0))
}
