// libFuzzer target for SentinelHTTP1: the request parser (with pipelining), the response parser
// and the chunked decoder, each whole and drip-fed with split points taken from the input.
// Built by Fuzz/fuzz-http1.sh together with Sources/SentinelHTTP1/*.swift and the shared
// Tests/SentinelHTTP1Tests/HTTP1Invariants.swift, as one module.

@_cdecl("LLVMFuzzerTestOneInput")
public func sentinelHTTP1FuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    if let violation = HTTP1Invariants.check(input) {
        fatalError("invariant violated: \(violation)")
    }
    return 0
}
