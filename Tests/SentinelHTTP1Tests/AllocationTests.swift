import CHeapUsage
import SentinelHTTP1
import Testing

/// Heap in use must not grow while the same parsers handle 10,000 requests: parsed heads keep
/// only offsets, and the parsers reuse their storage. (Exact allocation counts, zero per typical
/// request, are checked by `sentinel-h1-bench`, which interposes malloc; tests run in parallel
/// in one process, so here only growth is measured, so the quietest of ten rounds is taken.)
@Test func parsingTenThousandRequestsDoesNotGrowTheHeap() {
    let request = Array(
        ("GET /api/items?id=42 HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: test\r\n"
            + "Accept: */*\r\nConnection: keep-alive, X-A\r\nX-A: 1\r\nCookie: s=1\r\n\r\n").utf8
    )
    let response = Array("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\n".utf8)
    let body = Array("5\r\nhello\r\n0\r\n\r\n".utf8)
    var requests = HTTP1RequestHeadParser()
    var responses = HTTP1ResponseHeadParser()
    var heads = 0
    func round(_ n: Int) {
        for _ in 0..<n {
            if case .head = request.withUnsafeBytes({ requests.parse($0) }) { heads += 1 }
            if case .head = response.withUnsafeBytes({ responses.parse($0, requestMethod: .get) }) { heads += 1 }
            var decoder = ChunkedDecoder()
            if case .data = body.withUnsafeBytes({ decoder.decode($0) }) { heads += 1 }
        }
    }
    round(100)
    // Ten rounds of 1,000: a leak grows the heap in every round (one retained allocation per
    // request is at least 16 KB a round), while other tests' allocations come and go.
    var growth: [Int] = []
    for _ in 0..<10 {
        let before = sentinel_heap_in_use()
        round(1000)
        growth.append(Int(sentinel_heap_in_use()) - Int(before))
    }
    #expect(heads == 30_300)
    #expect(growth.min()! < 8 * 1024, "\(growth)")
}
