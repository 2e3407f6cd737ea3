import SentinelHTTP1
import Testing

/// One request the parser must refuse, with the rule and the status.
struct Rejection: CustomTestStringConvertible, Sendable {
    var name: String
    var request: String
    var code: HTTP1ParseError.Code
    var status: Int
    var testDescription: String { name }

    init(_ name: String, _ request: String, _ code: HTTP1ParseError.Code, _ status: Int = 400) {
        self.name = name
        self.request = request
        self.code = code
        self.status = status
    }
}

let longName = String(repeating: "n", count: 257)
let longValue = String(repeating: "v", count: 4097)
let manyFields = (0..<101).map { "X-\($0): v\r\n" }.joined()
let bigSection = (0..<90).map { "X-\($0): \(String(repeating: "a", count: 90))\r\n" }.joined()

/// Every rejection rule of the brief, with its status. `H` is a valid Host line.
let rejections: [Rejection] = {
    let h = "Host: example.com\r\n"
    return [
        Rejection(
            "CL with TE",
            "POST / HTTP/1.1\r\n\(h)Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            .contentLengthWithTransferEncoding
        ),
        Rejection(
            "TE with CL",
            "POST / HTTP/1.1\r\n\(h)Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
            .contentLengthWithTransferEncoding
        ),
        Rejection(
            "two CL differing",
            "POST / HTTP/1.1\r\n\(h)Content-Length: 5\r\nContent-Length: 6\r\n\r\n",
            .conflictingContentLength
        ),
        Rejection(
            "two CL equal",
            "POST / HTTP/1.1\r\n\(h)Content-Length: 5\r\nContent-Length: 5\r\n\r\n",
            .conflictingContentLength
        ),
        Rejection("CL list differing", "POST / HTTP/1.1\r\n\(h)Content-Length: 5, 6\r\n\r\n", .invalidContentLength),
        Rejection("CL list equal", "POST / HTTP/1.1\r\n\(h)Content-Length: 5, 5\r\n\r\n", .invalidContentLength),
        Rejection("CL non-digit", "POST / HTTP/1.1\r\n\(h)Content-Length: 5a\r\n\r\n", .invalidContentLength),
        Rejection("CL sign", "POST / HTTP/1.1\r\n\(h)Content-Length: +5\r\n\r\n", .invalidContentLength),
        Rejection("CL negative", "POST / HTTP/1.1\r\n\(h)Content-Length: -1\r\n\r\n", .invalidContentLength),
        Rejection("CL empty", "POST / HTTP/1.1\r\n\(h)Content-Length:\r\n\r\n", .invalidContentLength),
        Rejection("CL inner space", "POST / HTTP/1.1\r\n\(h)Content-Length: 1 2\r\n\r\n", .invalidContentLength),
        Rejection(
            "CL overflow",
            "POST / HTTP/1.1\r\n\(h)Content-Length: 18446744073709551616\r\n\r\n",
            .invalidContentLength
        ),
        Rejection("CL hex", "POST / HTTP/1.1\r\n\(h)Content-Length: 0x10\r\n\r\n", .invalidContentLength),
        Rejection(
            "TE gzip, chunked",
            "POST / HTTP/1.1\r\n\(h)Transfer-Encoding: gzip, chunked\r\n\r\n",
            .unsupportedTransferCoding,
            501
        ),
        Rejection(
            "TE chunked, gzip",
            "POST / HTTP/1.1\r\n\(h)Transfer-Encoding: chunked, gzip\r\n\r\n",
            .chunkedNotFinal
        ),
        Rejection(
            "TE xchunked",
            "POST / HTTP/1.1\r\n\(h)Transfer-Encoding: xchunked\r\n\r\n",
            .unsupportedTransferCoding,
            501
        ),
        Rejection(
            "TE chunkedx",
            "POST / HTTP/1.1\r\n\(h)Transfer-Encoding: chunkedx\r\n\r\n",
            .unsupportedTransferCoding,
            501
        ),
        Rejection(
            "TE identity",
            "POST / HTTP/1.1\r\n\(h)Transfer-Encoding: identity\r\n\r\n",
            .unsupportedTransferCoding,
            501
        ),
        Rejection(
            "TE chunked twice",
            "POST / HTTP/1.1\r\n\(h)Transfer-Encoding: chunked, chunked\r\n\r\n",
            .invalidTransferEncoding
        ),
        Rejection(
            "TE two fields chunked",
            "POST / HTTP/1.1\r\n\(h)Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            .invalidTransferEncoding
        ),
        Rejection(
            "TE two fields gzip last",
            "POST / HTTP/1.1\r\n\(h)Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n",
            .chunkedNotFinal
        ),
        Rejection("TE empty", "POST / HTTP/1.1\r\n\(h)Transfer-Encoding:\r\n\r\n", .invalidTransferEncoding),
        Rejection(
            "TE trailing comma",
            "POST / HTTP/1.1\r\n\(h)Transfer-Encoding: chunked,\r\n\r\n",
            .invalidTransferEncoding
        ),
        Rejection(
            "TE parameter",
            "POST / HTTP/1.1\r\n\(h)Transfer-Encoding: chunked;q=1\r\n\r\n",
            .invalidTransferEncoding
        ),
        Rejection(
            "TE quoted",
            "POST / HTTP/1.1\r\n\(h)Transfer-Encoding: \"chunked\"\r\n\r\n",
            .invalidTransferEncoding
        ),
        Rejection("TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", .transferEncodingInHTTP10),
        Rejection(
            "TE vertical tab",
            "POST / HTTP/1.1\r\n\(h)Transfer-Encoding: \u{0B}chunked\r\n\r\n",
            .controlCharacter
        ),
        Rejection("obs-fold", "GET / HTTP/1.1\r\n\(h)X-A: a\r\n b\r\n\r\n", .obsFold),
        Rejection("obs-fold tab", "GET / HTTP/1.1\r\n\(h)X-A: a\r\n\tb\r\n\r\n", .obsFold),
        Rejection("first field folded", "GET / HTTP/1.1\r\n \(h)\r\n", .obsFold),
        Rejection(
            "space before colon",
            "GET / HTTP/1.1\r\n\(h)Transfer-Encoding : chunked\r\n\r\n",
            .whitespaceBeforeColon
        ),
        Rejection("tab before colon", "GET / HTTP/1.1\r\n\(h)X-A\t: b\r\n\r\n", .whitespaceBeforeColon),
        Rejection("empty name", "GET / HTTP/1.1\r\n\(h): b\r\n\r\n", .emptyFieldName),
        Rejection("no colon", "GET / HTTP/1.1\r\n\(h)X-A b\r\n\r\n", .whitespaceBeforeColon),
        Rejection("no colon token", "GET / HTTP/1.1\r\n\(h)X-A\r\n\r\n", .missingColon),
        Rejection("non-token name", "GET / HTTP/1.1\r\n\(h)X(A): b\r\n\r\n", .invalidFieldName),
        Rejection("non-ASCII name", "GET / HTTP/1.1\r\n\(h)X-\u{E9}: b\r\n\r\n", .invalidFieldName),
        Rejection("NUL in value", "GET / HTTP/1.1\r\n\(h)X-A: a\u{0}b\r\n\r\n", .controlCharacter),
        Rejection("DEL in value", "GET / HTTP/1.1\r\n\(h)X-A: a\u{7F}b\r\n\r\n", .controlCharacter),
        Rejection("ESC in value", "GET / HTTP/1.1\r\n\(h)X-A: a\u{1B}b\r\n\r\n", .controlCharacter),
        Rejection("NUL in name", "GET / HTTP/1.1\r\n\(h)X\u{0}A: b\r\n\r\n", .controlCharacter),
        Rejection("bare LF request line", "GET / HTTP/1.1\n\(h)\r\n", .bareLineFeed),
        Rejection("bare LF field", "GET / HTTP/1.1\r\n\(h)X-A: b\n\r\n", .bareLineFeed),
        Rejection("bare LF end", "GET / HTTP/1.1\r\n\(h)\n", .bareLineFeed),
        Rejection("bare CR in value", "GET / HTTP/1.1\r\n\(h)X-A: b\rc\r\n\r\n", .bareCarriageReturn),
        Rejection("bare CR end", "GET / HTTP/1.1\r\n\(h)\rX", .bareCarriageReturn),
        Rejection("two SP after method", "GET  / HTTP/1.1\r\n\(h)\r\n", .invalidRequestLine),
        Rejection("two SP before version", "GET /  HTTP/1.1\r\n\(h)\r\n", .invalidRequestLine),
        Rejection("trailing SP", "GET / HTTP/1.1 \r\n\(h)\r\n", .invalidRequestLine),
        Rejection("leading SP", " GET / HTTP/1.1\r\n\(h)\r\n", .invalidRequestLine),
        Rejection("tab separator", "GET\t/ HTTP/1.1\r\n\(h)\r\n", .invalidMethod),
        Rejection("HTTP/0.9 line", "GET /\r\n\r\n", .invalidRequestLine),
        Rejection("method only", "GET\r\n\r\n", .invalidRequestLine),
        Rejection("invalid method", "G(T / HTTP/1.1\r\n\(h)\r\n", .invalidMethod),
        Rejection("method too long", "\(String(repeating: "A", count: 33)) / HTTP/1.1\r\n\(h)\r\n", .invalidMethod),
        Rejection("HTTP/1.2", "GET / HTTP/1.2\r\n\(h)\r\n", .unsupportedVersion, 505),
        Rejection("HTTP/2.0", "GET / HTTP/2.0\r\n\(h)\r\n", .unsupportedVersion, 505),
        Rejection("HTTP/0.9 version", "GET / HTTP/0.9\r\n\(h)\r\n", .unsupportedVersion, 505),
        Rejection("h2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", .unsupportedVersion, 505),
        Rejection("lowercase version", "GET / http/1.1\r\n\(h)\r\n", .invalidVersion),
        Rejection("version garbage", "GET / HTTP/1.1x\r\n\(h)\r\n", .invalidVersion),
        Rejection("version two digits", "GET / HTTP/10.1\r\n\(h)\r\n", .invalidVersion),
        Rejection("version missing minor", "GET / HTTP/1\r\n\(h)\r\n", .invalidVersion),
        Rejection("fragment", "GET /a#b HTTP/1.1\r\n\(h)\r\n", .invalidTarget),
        Rejection("non-ASCII target", "GET /caf\u{E9} HTTP/1.1\r\n\(h)\r\n", .invalidTarget),
        Rejection("tab in target", "GET /a\tb HTTP/1.1\r\n\(h)\r\n", .invalidTarget),
        Rejection("NUL in target", "GET /a\u{0}b HTTP/1.1\r\n\(h)\r\n", .controlCharacter),
        Rejection("asterisk for GET", "GET * HTTP/1.1\r\n\(h)\r\n", .targetFormMismatch),
        Rejection("origin for CONNECT", "CONNECT / HTTP/1.1\r\n\(h)\r\n", .targetFormMismatch),
        Rejection("authority for GET", "GET example.com:80 HTTP/1.1\r\n\(h)\r\n", .invalidTarget),
        Rejection("CONNECT without port", "CONNECT example.com HTTP/1.1\r\n\(h)\r\n", .invalidTarget),
        Rejection("absolute ftp", "GET ftp://example.com/ HTTP/1.1\r\n\(h)\r\n", .invalidTarget),
        Rejection(
            "absolute userinfo",
            "GET http://u@example.com/ HTTP/1.1\r\nHost: u@example.com\r\n\r\n",
            .invalidTarget
        ),
        Rejection("absolute empty authority", "GET http:///a HTTP/1.1\r\n\(h)\r\n", .invalidTarget),
        Rejection(
            "absolute host mismatch",
            "GET http://a.example/ HTTP/1.1\r\nHost: b.example\r\n\r\n",
            .hostAuthorityMismatch
        ),
        Rejection("URI too long", "GET /\(String(repeating: "a", count: 8192)) HTTP/1.1\r\n\(h)\r\n", .uriTooLong, 414),
        Rejection("URI too long, incomplete", "GET /\(String(repeating: "a", count: 8300))", .uriTooLong, 414),
        Rejection("missing Host", "GET / HTTP/1.1\r\nX-A: b\r\n\r\n", .missingHost),
        Rejection("two Hosts", "GET / HTTP/1.1\r\n\(h)\(h)\r\n", .duplicateHost),
        Rejection("empty Host", "GET / HTTP/1.1\r\nHost:\r\n\r\n", .invalidHost),
        Rejection("Host with path", "GET / HTTP/1.1\r\nHost: example.com/a\r\n\r\n", .invalidHost),
        Rejection("Host with userinfo", "GET / HTTP/1.1\r\nHost: u@example.com\r\n\r\n", .invalidHost),
        Rejection("Host with space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", .invalidHost),
        Rejection("Host empty port", "GET / HTTP/1.1\r\nHost: example.com:\r\n\r\n", .invalidHost),
        Rejection("Host big port", "GET / HTTP/1.1\r\nHost: example.com:65536\r\n\r\n", .invalidHost),
        Rejection("Host two ports", "GET / HTTP/1.1\r\nHost: a:1:2\r\n\r\n", .invalidHost),
        Rejection("Host bad IPv6", "GET / HTTP/1.1\r\nHost: [zz::1]\r\n\r\n", .invalidHost),
        Rejection("Host percent", "GET / HTTP/1.1\r\nHost: a%2fb\r\n\r\n", .invalidHost),
        Rejection("Host list", "GET / HTTP/1.1\r\nHost: a, b\r\n\r\n", .invalidHost),
        Rejection("header section too large", "GET / HTTP/1.1\r\n\(h)\(bigSection)\r\n", .headerSectionTooLarge, 431),
        Rejection(
            "header section too large, incomplete",
            "GET / HTTP/1.1\r\n\(h)\(bigSection)",
            .headerSectionTooLarge,
            431
        ),
        Rejection("too many fields", "GET / HTTP/1.1\r\n\(h)\(manyFields)\r\n", .tooManyFields, 431),
        Rejection("name too long", "GET / HTTP/1.1\r\n\(h)\(longName): v\r\n\r\n", .fieldNameTooLong, 431),
        Rejection("value too long", "GET / HTTP/1.1\r\n\(h)X-A: \(longValue)\r\n\r\n", .fieldValueTooLong, 431),
        Rejection("two leading CRLF", "\r\n\r\nGET / HTTP/1.1\r\n\(h)\r\n", .tooManyEmptyLines),
        Rejection("leading bare LF", "\nGET / HTTP/1.1\r\n\(h)\r\n", .bareLineFeed),
        Rejection(
            "Connection: content-length",
            "POST / HTTP/1.1\r\n\(h)Content-Length: 1\r\nConnection: content-length\r\n\r\n",
            .protectedConnectionOption
        ),
        Rejection(
            "Connection: host",
            "GET / HTTP/1.1\r\n\(h)Connection: close, Host\r\n\r\n",
            .protectedConnectionOption
        ),
        Rejection("Connection non-token", "GET / HTTP/1.1\r\n\(h)Connection: a b\r\n\r\n", .invalidConnection),
        Rejection("two Upgrades", "GET / HTTP/1.1\r\n\(h)Upgrade: a\r\nUpgrade: b\r\n\r\n", .duplicateUpgrade),
    ]
}()

@Test(arguments: rejections)
func requestIsRejected(_ r: Rejection) {
    let whole = parseRequest(r.request)
    #expect(whole.error?.code == r.code, "\(whole)")
    #expect(whole.error?.status == r.status)
    // Drip-fed one byte at a time, the verdict (code and offset) is the same.
    #expect(parseRequestDripping(Array(r.request.utf8)) == whole)
}

@Test func errorsDescribeThemselvesWithoutInput() {
    let error = parseRequest("GET / HTTP/1.1\r\nHost: evil<script>\r\n\r\n").error
    #expect(error?.reason == "invalid Host or authority")
    #expect(error.map { "\($0)" } == "400 invalid Host or authority (at byte 22)")
}

@Test func smallLimitsAreHonoured() {
    let limits = HTTP1Limits(
        maxHeaderBytes: 64,
        maxHeaderCount: 2,
        maxHeaderNameBytes: 8,
        maxHeaderValueBytes: 8,
        maxURIBytes: 16
    )
    #expect(
        parseRequest("GET /12345678901234567 HTTP/1.1\r\nHost: a\r\n\r\n", limits: limits).error?.code == .uriTooLong
    )
    #expect(parseRequest("GET /123456789012345 HTTP/1.1\r\nHost: a\r\n\r\n", limits: limits).head != nil)
    #expect(
        parseRequest("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n", limits: limits).error?.code == .tooManyFields
    )
    #expect(
        parseRequest("GET / HTTP/1.1\r\nHost: a\r\nAbcdefghi: 1\r\n\r\n", limits: limits).error?.code
            == .fieldNameTooLong
    )
    #expect(
        parseRequest("GET / HTTP/1.1\r\nHost: a\r\nA: 123456789\r\n\r\n", limits: limits).error?.code
            == .fieldValueTooLong
    )
    #expect(parseRequest("GET / HTTP/1.1\r\nHost: a\r\nA: 12345678\r\n\r\n", limits: limits).head != nil)
    // Exactly at the section limit (64 bytes including the final CRLF) passes, one more fails.
    let fill = String(repeating: "x", count: 64 - "Host: a\r\nA: \r\n\r\n".utf8.count)
    let exact = "GET / HTTP/1.1\r\nHost: a\r\nA: \(fill)\r\n\r\n"
    let wide = HTTP1Limits(maxHeaderBytes: 64, maxHeaderValueBytes: 100)
    #expect(parseRequest(exact, limits: wide).head != nil)
    let over = "GET / HTTP/1.1\r\nHost: a\r\nA: \(fill)x\r\n\r\n"
    #expect(parseRequest(over, limits: wide).error?.code == .headerSectionTooLarge)
    #expect(parseRequestDripping(Array(over.utf8), limits: wide).error?.code == .headerSectionTooLarge)
}
