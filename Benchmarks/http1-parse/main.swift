// Parse-speed and allocation benchmark for SentinelHTTP1.
//
//   swift run -c release sentinel-h1-bench [iterations]
//
// Prints ns per parse and heap allocations per parse for a typical ~300-byte browser-like
// request, a response head and a small chunked body, and exits 1 if a typical parse allocates
// (the checked-in budget is zero).
import CAllocationCounter
import Glibc
import SentinelHTTP1

let request = Array(
    ("GET /api/v1/items?id=42&sort=desc HTTP/1.1\r\n" + "Host: api.example.com\r\n"
        + "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
        + "Accept: application/json, text/plain, */*\r\n" + "Accept-Language: en-US,en;q=0.5\r\n"
        + "Accept-Encoding: gzip, deflate, br\r\n" + "Connection: keep-alive\r\n"
        + "Cookie: session=0123456789abcdef\r\n\r\n").utf8
)
let response = Array(
    ("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1234\r\n"
        + "Date: Wed, 25 Nov 2026 18:00:00 GMT\r\nServer: upstream\r\nCache-Control: no-store\r\n\r\n").utf8
)
let chunked = Array("400\r\n\(String(repeating: "x", count: 1024))\r\n10;e=1\r\n0123456789abcdef\r\n0\r\n\r\n".utf8)

let iterations = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 1_000_000 : 1_000_000

struct Measurement {
    var nanosecondsPerOp: Double
    var allocationsPerOp: Double
}

func measure(_ name: String, bytes: Int, _ body: (Int) -> Int) -> Measurement {
    var sink = body(1000)  // warm up
    let clock = ContinuousClock()
    let allocationsBefore = sentinel_allocation_count()
    let start = clock.now
    sink &+= body(iterations)
    let elapsed = clock.now - start
    let allocations = sentinel_allocation_count() - allocationsBefore
    let ns = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
    let m = Measurement(
        nanosecondsPerOp: ns / Double(iterations),
        allocationsPerOp: Double(allocations) / Double(iterations)
    )
    let mbps = Double(bytes) / (m.nanosecondsPerOp / 1e9) / 1e6
    print(
        "\(name): \(bytes) B, \(Int(m.nanosecondsPerOp.rounded())) ns/op, \(Int(mbps)) MB/s, \(m.allocationsPerOp) allocations/op (sink \(sink & 1))"
    )
    return m
}

// Parsers are locals of the measured closures: a top-level `var` would add dynamic
// exclusivity checks on every access and measure those instead.
let requestResult = request.withUnsafeBytes { bytes in
    measure("request head", bytes: request.count) { n in
        var parser = HTTP1RequestHeadParser()
        var total = 0
        for _ in 0..<n {
            if case .head(let head) = parser.parse(bytes) {
                total &+= head.headLength &+ head.fields.count
                for index in head.hopByHopFieldIndices { total &+= index }
            }
        }
        return total
    }
}

let responseResult = response.withUnsafeBytes { bytes in
    measure("response head", bytes: response.count) { n in
        var responseParser = HTTP1ResponseHeadParser()
        var total = 0
        for _ in 0..<n {
            if case .head(let head) = responseParser.parse(bytes, requestMethod: .get) { total &+= head.headLength }
        }
        return total
    }
}

let chunkedResult = chunked.withUnsafeBytes { bytes in
    measure("chunked body", bytes: chunked.count) { n in
        var total = 0
        for _ in 0..<n {
            var decoder = ChunkedDecoder()
            var offset = 0
            loop: while true {
                switch decoder.decode(UnsafeRawBufferPointer(rebasing: bytes[offset...])) {
                case .data(let r):
                    total &+= r.count
                    offset += r.upperBound
                case .done(let consumed):
                    total &+= consumed
                    break loop
                case .needMore, .error:
                    break loop
                }
            }
        }
        return total
    }
}

let typicalAllocations =
    requestResult.allocationsPerOp + responseResult.allocationsPerOp + chunkedResult.allocationsPerOp
if typicalAllocations > 0 {
    print("FAIL: typical parses allocate (budget 0)")
    exit(1)
}
