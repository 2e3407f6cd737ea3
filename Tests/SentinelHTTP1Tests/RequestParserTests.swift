import SentinelHTTP1
import Testing

@Test func typicalGet() throws {
    let text = "GET /search?q=swift&x=1 HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent: t\r\nAccept:  */*  \r\n\r\n"
    let head = try #require(parseRequest(text).head)
    #expect(head.method == .get)
    #expect(text[bytes: head.methodRange] == "GET")
    #expect(text[bytes: head.target] == "/search?q=swift&x=1")
    #expect(head.targetForm == .origin)
    #expect(text[bytes: head.path] == "/search")
    #expect(text[bytes: head.query] == "q=swift&x=1")
    #expect(head.authority == nil)
    #expect(head.version == .http1_1)
    #expect(head.fields.count == 3)
    #expect(text[bytes: head.fields[2].nameRange] == "Accept")
    #expect(text[bytes: head.fields[2].valueRange] == "*/*")
    #expect(head.fields[0].name == .host)
    #expect(text[bytes: head.host] == "example.com:8080")
    #expect(head.headLength == text.utf8.count)
    #expect(head.framing == .none)
    #expect(head.keepAlive)
    #expect(!head.expect100Continue)
    #expect(head.upgrade == nil)
    #expect(Array(head.hopByHopFieldIndices).isEmpty)
}

@Test func everyKnownMethod() throws {
    let methods: [(String, HTTP1Method)] = [
        ("GET", .get), ("HEAD", .head), ("POST", .post), ("PUT", .put), ("DELETE", .delete),
        ("PATCH", .patch), ("TRACE", .trace), ("OPTIONS", .options), ("PROPFIND", .other), ("get", .other),
        ("M-SEARCH", .other),
    ]
    for (token, method) in methods {
        let text = "\(token) /x HTTP/1.1\r\nHost: a\r\n\r\n"
        let head = try #require(parseRequest(text).head, "\(token)")
        #expect(head.method == method)
        #expect(text[bytes: head.methodRange] == token)
    }
}

@Test func targetForms() throws {
    let absolute = "GET HTTP://Example.com:81/p/q?x=%20 HTTP/1.1\r\nHost: example.com:81\r\n\r\n"
    var head = try #require(parseRequest(absolute).head)
    #expect(head.targetForm == .absolute)
    #expect(absolute[bytes: head.authority] == "Example.com:81")
    #expect(absolute[bytes: head.path] == "/p/q")
    #expect(absolute[bytes: head.query] == "x=%20")

    let bare = "GET https://[::1]:8443?a HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n"
    head = try #require(parseRequest(bare).head)
    #expect(bare[bytes: head.authority] == "[::1]:8443")
    #expect(head.path.isEmpty)
    #expect(bare[bytes: head.query] == "a")

    let connect = "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
    head = try #require(parseRequest(connect).head)
    #expect(head.method == .connect)
    #expect(head.targetForm == .authority)
    #expect(connect[bytes: head.authority] == "example.com:443")

    let star = "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"
    head = try #require(parseRequest(star).head)
    #expect(head.targetForm == .asterisk)
    #expect(star[bytes: head.path] == "*")

    let emptyQuery = "GET /a? HTTP/1.1\r\nHost: a\r\n\r\n"
    head = try #require(parseRequest(emptyQuery).head)
    #expect(head.query == 7..<7)
}

@Test func framing() throws {
    var head = try #require(parseRequest("POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 0042\r\n\r\n").head)
    #expect(head.framing == .contentLength(42))
    head = try #require(
        parseRequest("POST /u HTTP/1.1\r\nHost: a\r\ncontent-length: 18446744073709551615\r\n\r\n").head
    )
    #expect(head.framing == .contentLength(.max))
    head = try #require(parseRequest("POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:  CHUNKED \r\n\r\n").head)
    #expect(head.framing == .chunked)
    #expect(head.fields[1].isHopByHop)
    head = try #require(parseRequest("POST /u HTTP/1.0\r\nContent-Length: 3\r\n\r\n").head)
    #expect(head.framing == .contentLength(3))
}

@Test func keepAliveRules() throws {
    func keepAlive(_ version: String, _ extra: String) throws -> Bool {
        try #require(parseRequest("GET / HTTP/\(version)\r\nHost: a\r\n\(extra)\r\n").head).keepAlive
    }
    #expect(try keepAlive("1.1", ""))
    #expect(try !keepAlive("1.1", "Connection: close\r\n"))
    #expect(try !keepAlive("1.1", "Connection: Keep-Alive, CLOSE\r\n"))
    #expect(try !keepAlive("1.0", ""))
    #expect(try keepAlive("1.0", "Connection: keep-alive\r\n"))
    #expect(try !keepAlive("1.0", "Connection: keep-alive\r\nConnection: close\r\n"))
    // HTTP/1.0 without Host is fine.
    #expect(parseRequest("GET / HTTP/1.0\r\n\r\n").head?.keepAlive == false)
}

@Test func hopByHopAndConnectionOptions() throws {
    let text = """
        GET / HTTP/1.1\r
        Host: a\r
        Connection: keep-alive, X-Secret,,  upgrade\r
        Keep-Alive: timeout=5\r
        X-Secret: 1\r
        x-secret: 2\r
        Upgrade: websocket\r
        Proxy-Authorization: Basic eA==\r
        Proxy-Connection: keep-alive\r
        TE: trailers\r
        Trailer: X-T\r
        Expect: 100-Continue\r
        X-Keep: 1\r
        \r

        """
    let head = try #require(parseRequest(text).head)
    #expect(head.connectionOptions.map { text[bytes: $0] } == ["keep-alive", "X-Secret", "upgrade"])
    let stripped: [String] = head.hopByHopFieldIndices.map { text[bytes: head.fields[$0].nameRange] }
    #expect(
        stripped == [
            "Connection", "Keep-Alive", "X-Secret", "x-secret", "Upgrade", "Proxy-Authorization", "Proxy-Connection",
            "TE", "Trailer",
        ]
    )
    #expect(head.fields[2].isListedInConnection)
    #expect(text[bytes: head.upgrade] == "websocket")
    #expect(head.expect100Continue)
    #expect(head.keepAlive)
}

@Test func upgradeNeedsConnectionUpgrade() throws {
    let head = try #require(parseRequest("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\n\r\n").head)
    #expect(head.upgrade == nil)
    #expect(head.fields[1].isHopByHop)
}

@Test func valueBytesArePreserved() throws {
    // obs-text, tabs inside values, empty values and every tchar in names.
    let text = "GET / HTTP/1.1\r\nHost: a\r\nX-Utf8: caf\u{E9} \t\r\n!#$%&'*+-.^_`|~09az: x\ty\r\nX-Empty:\r\n\r\n"
    let head = try #require(parseRequest(text).head)
    #expect(text[bytes: head.fields[1].valueRange] == "caf\u{E9}")
    #expect(text[bytes: head.fields[2].nameRange] == "!#$%&'*+-.^_`|~09az")
    #expect(text[bytes: head.fields[2].valueRange] == "x\ty")
    #expect(head.fields[3].valueRange.isEmpty)
}

@Test func oneLeadingEmptyLineIsSkipped() throws {
    let text = "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"
    let head = try #require(parseRequest(text).head)
    #expect(head.methodRange == 2..<5)
    #expect(head.headLength == text.utf8.count)
}

@Test func manyFieldsSpillPastInlineStorage() throws {
    let fields = (0..<99).map { "X-\($0): \($0)\r\n" }.joined()
    let text = "GET / HTTP/1.1\r\nHost: a\r\n\(fields)\r\n"
    let head = try #require(parseRequest(text).head)
    #expect(head.fields.count == 100)
    #expect(text[bytes: head.fields[99].valueRange] == "98")
    #expect(text[bytes: head.fields[30].nameRange] == "X-29")
}

@Test func pipelinedRequests() throws {
    let requests = [
        "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n",
        "POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
        "PUT /3 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        "GET /4 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    ]
    let bytes = Array(requests.joined().utf8)
    var parser = HTTP1RequestHeadParser()
    var offset = 0
    var targets: [String] = []
    while offset < bytes.count {
        let slice = Array(bytes[offset...])
        let head = try #require(slice.withUnsafeBytes { parser.parse($0) }.head)
        targets.append(String(decoding: slice[head.target], as: UTF8.self))
        offset += head.headLength
        switch head.framing {
        case .none: break
        case .contentLength(let n): offset += Int(n)
        case .chunked:
            let body = decodeChunked(Array(bytes[offset...]))
            #expect(body.done && body.payload == Array("abc".utf8))
            offset += body.consumed
        }
    }
    #expect(targets == ["/1", "/2", "/3", "/4"])
    #expect(offset == bytes.count)
}

@Test func dripFeedingMatchesWholeParsing() {
    let samples =
        [
            "GET /a?b HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\n",
            "\r\nPOST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\nConnection: close, x\r\nX: 1\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\rb\r\n\r\n",
        ] + rejections.map(\.request)
    for sample in samples {
        let bytes = Array(sample.utf8)
        let whole = parseRequest(bytes)
        for step in [1, 2, 3, 7, 64] {
            #expect(parseRequestDripping(bytes, step: step) == whole, "step \(step): \(sample.debugDescription)")
        }
    }
}

@Test func parserIsReusableAfterErrorsAndHeads() throws {
    var parser = HTTP1RequestHeadParser()
    let bad = Array("GET / HTTP/1.1\r\nHost: a\r\nX : y\r\n\r\n".utf8)
    #expect(bad.withUnsafeBytes { parser.parse($0) }.error?.code == .whitespaceBeforeColon)
    let good = Array("GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
    #expect(good.withUnsafeBytes { parser.parse($0) }.head != nil)
    #expect(good.withUnsafeBytes { parser.parse($0) }.head != nil)
    // A shorter buffer than already scanned (a contract violation) restarts instead of misreading.
    #expect(Array(good[..<20]).withUnsafeBytes { parser.parse($0) } == .needMore)
    #expect(Array(good[..<3]).withUnsafeBytes { parser.parse($0) } == .needMore)
    #expect(good.withUnsafeBytes { parser.parse($0) }.head != nil)
}
