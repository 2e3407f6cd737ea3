/// Path checks that keep routing decisions honest.
///
/// Routes match the path as the client wrote it. If the path contains dot-segments (`/../`,
/// `/./`, also percent-encoded as `%2e`), the upstream may resolve it to a path that no route
/// would have allowed (`/public/../admin` matches a `/public/` prefix). Such requests are refused
/// with 400 rather than normalised: no legitimate client sends them, and a normalisation that
/// differs from the upstream's is itself a bypass.
enum PathSafety {
    static func hasDotSegment(_ p: UnsafeRawBufferPointer, _ path: Range<Int>) -> Bool {
        var i = path.lowerBound
        let end = path.upperBound
        var segmentStart = true
        while i < end {
            let b = p[i]
            if b == UInt8(ascii: "/") {
                segmentStart = true
                i += 1
                continue
            }
            if segmentStart {
                // Count a segment made only of '.' or "%2e"/"%2E", one or two of them.
                var j = i
                var dots = 0
                while j < end {
                    if p[j] == UInt8(ascii: ".") {
                        dots += 1
                        j += 1
                    } else if p[j] == UInt8(ascii: "%"), j + 2 < end, p[j + 1] == UInt8(ascii: "2"),
                        p[j + 2] | 0x20 == UInt8(ascii: "e")
                    {
                        dots += 1
                        j += 3
                    } else {
                        break
                    }
                }
                if (dots == 1 || dots == 2), j == end || p[j] == UInt8(ascii: "/") || p[j] == UInt8(ascii: "?") {
                    return true
                }
                if dots > 0 && j < end && p[j] == UInt8(ascii: "%") && j + 2 < end && p[j + 1] == UInt8(ascii: "2")
                    && (p[j + 2] | 0x20) == UInt8(ascii: "f")
                {
                    // "..%2f": a dot-segment followed by an encoded slash.
                    if dots <= 2 { return true }
                }
            }
            segmentStart = false
            i += 1
        }
        return false
    }
}
