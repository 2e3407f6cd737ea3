import SentinelHTTP1
import Testing

@Test func chunkedBodies() {
    let body = Array(
        "5\r\nhello\r\n1A;name=value;x=\"q s\"\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Sum: 1\r\n\r\nNEXT".utf8
    )
    let whole = decodeChunked(body)
    #expect(whole.done)
    #expect(whole.error == nil)
    #expect(String(decoding: whole.payload, as: UTF8.self) == "helloabcdefghijklmnopqrstuvwxyz")
    #expect(whole.consumed == body.count - 4)
    for piece in [1, 2, 3, 5, 8, 13] {
        #expect(decodeChunked(body, piece: piece) == whole, "piece \(piece)")
    }
    #expect(decodeChunked(Array("0\r\n\r\n".utf8)) == ChunkedOutcome(payload: [], consumed: 5, done: true))
    #expect(decodeChunked(Array("000\r\n\r\n".utf8)).done)
    // Names that merely start like a forbidden one are fine.
    #expect(decodeChunked(Array("0\r\nHosts: 1\r\nContent-Lengthy: 2\r\nHos: 3\r\n\r\n".utf8)).done)
    #expect(
        decodeChunked(Array("ffffffffffffffff\r\nab".utf8)) == ChunkedOutcome(payload: Array("ab".utf8), consumed: 20)
    )
}

@Test func malformedChunkedBodies() {
    let cases: [(String, HTTP1ParseError.Code)] = [
        ("\r\n", .invalidChunkSize),
        ("x\r\n", .invalidChunkSize),
        ("5 \r\nhello\r\n0\r\n\r\n", .invalidChunkSize),
        (" 5\r\nhello\r\n0\r\n\r\n", .invalidChunkSize),
        ("+5\r\nhello\r\n0\r\n\r\n", .invalidChunkSize),
        ("0x5\r\nhello\r\n0\r\n\r\n", .invalidChunkSize),
        ("5\nhello\r\n0\r\n\r\n", .invalidChunkSize),
        ("5\r\rhello\r\n0\r\n\r\n", .invalidChunkSize),
        ("10000000000000000\r\n", .invalidChunkSize),
        ("5\r\nhelloX\r\n0\r\n\r\n", .missingChunkDataCRLF),
        ("5\r\nhello\n0\r\n\r\n", .missingChunkDataCRLF),
        ("5\r\nhello\r0\r\n\r\n", .missingChunkDataCRLF),
        ("5;a\u{0}b\r\nhello\r\n0\r\n\r\n", .invalidChunkExtension),
        ("5;a\nb\r\nhello\r\n0\r\n\r\n", .invalidChunkExtension),
        ("0\r\nX : y\r\n\r\n", .invalidTrailer),
        ("0\r\n y\r\n\r\n", .invalidTrailer),
        ("0\r\n: y\r\n\r\n", .invalidTrailer),
        ("0\r\nX: a\u{1}\r\n\r\n", .invalidTrailer),
        ("0\r\nX: a\r\r\n", .invalidTrailer),
        ("0\r\n\rX", .invalidTrailer),
        ("0\r\nX\r\n\r\n", .invalidTrailer),
        ("0\r\nContent-Length: 5\r\n\r\n", .forbiddenTrailerField),
        ("0\r\nX: 1\r\ntransfer-ENCODING: chunked\r\n\r\n", .forbiddenTrailerField),
        ("0\r\nHost: evil\r\n\r\n", .forbiddenTrailerField),
        ("0\r\nConnection: close\r\n\r\n", .forbiddenTrailerField),
    ]
    for (text, code) in cases {
        let bytes = Array(text.utf8)
        let whole = decodeChunked(bytes)
        #expect(whole.error == code, "\(text.debugDescription): \(whole)")
        #expect(decodeChunked(bytes, piece: 1).error == code)
    }
}

@Test func chunkedLimits() {
    let limits = HTTP1Limits(maxHeaderBytes: 32, maxHeaderCount: 2, maxChunkExtensionBytes: 8)
    let ext = Array("1;12345678\r\na\r\n1;1\r\nb\r\n0\r\n\r\n".utf8)
    #expect(decodeChunked(ext, limits: limits).error == .chunkExtensionsTooLarge)
    #expect(decodeChunked(Array("1;1234567\r\na\r\n0\r\n\r\n".utf8), limits: limits).done)
    let trailers = Array("0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n".utf8)
    #expect(decodeChunked(trailers, limits: limits).error == .trailerSectionTooLarge)
    let longTrailer = Array("0\r\nA: \(String(repeating: "x", count: 40))\r\n\r\n".utf8)
    #expect(decodeChunked(longTrailer, limits: limits).error == .trailerSectionTooLarge)
}

@Test func chunkedErrorStatusDependsOnSender() {
    var client = ChunkedDecoder()
    var upstream = ChunkedDecoder(sender: .upstream)
    let bad = Array("z\r\n".utf8)
    guard case .error(let e1) = bad.withUnsafeBytes({ client.decode($0) }),
        case .error(let e2) = bad.withUnsafeBytes({ upstream.decode($0) })
    else {
        Issue.record("expected errors")
        return
    }
    #expect(e1.status == 400)
    #expect(e2.status == 502)
    // The decoder stays failed.
    #expect(Array("0\r\n\r\n".utf8).withUnsafeBytes { client.decode($0) } == .error(e1))
}
