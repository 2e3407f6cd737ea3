import SentinelHTTP1
import Testing

/// Inputs the fuzzer (Fuzz/fuzz-http1.sh) once failed on, kept so the properties of
/// `HTTP1Invariants` are re-checked on them in every test run. Byte 0 selects limits, method and
/// drip step (see `HTTP1Invariants`).
let fuzzRegressions: [(String, [UInt8])] = [
    // Invariant bug, not a parser bug: where a piecewise chunked run stops on error differs.
    ("chunked error consumed", Array("\u{6}CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n".utf8)),
    // Invariant bug: oversized trailers are 431 for a client's body, not 400.
    ("chunked trailer 431", [0x11] + Array("0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n".utf8)),
]

@Test(arguments: fuzzRegressions.indices)
func fuzzRegressionHoldsInvariants(_ index: Int) {
    let (name, input) = fuzzRegressions[index]
    #expect(HTTP1Invariants.check(input) == nil, "\(name)")
}

/// The seeds of the fuzz corpus hold the invariants too (a cheap smoke run of the fuzz target).
@Test func invariantsHoldOnHandwrittenInputs() {
    let samples = rejections.map { Array($0.request.utf8) } + differentialCorpus()
    for (i, sample) in samples.enumerated() {
        for selector: UInt8 in [UInt8(i % 256), 0x01, 0x10, 0x31] {
            #expect(
                HTTP1Invariants.check([selector] + sample) == nil,
                "\(String(decoding: sample, as: UTF8.self).debugDescription)"
            )
        }
    }
}
