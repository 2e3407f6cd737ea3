/// Case-insensitive header-name tests on raw bytes, without allocating.
enum HeaderBytes {
    /// ASCII lowercase of one byte.
    @inline(__always)
    static func lower(_ b: UInt8) -> UInt8 { (b >= 0x41 && b <= 0x5A) ? b | 0x20 : b }

    /// True when `bytes[range]` equals `lowercaseName` ignoring ASCII case.
    @inline(__always)
    static func equals(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ lowercaseName: StaticString) -> Bool {
        guard range.count == lowercaseName.utf8CodeUnitCount else { return false }
        let name = lowercaseName.utf8Start
        var i = 0
        for index in range {
            if lower(bytes[index]) != name[i] { return false }
            i += 1
        }
        return true
    }

    static func equals(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, lowercase name: [UInt8]) -> Bool {
        guard range.count == name.count else { return false }
        var i = 0
        for index in range {
            if lower(bytes[index]) != name[i] { return false }
            i += 1
        }
        return true
    }

    static func lowercased(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> [UInt8] {
        range.map { lower(bytes[$0]) }
    }

    static func string(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    /// Hop-by-hop fields (RFC 9110 §7.6.1) plus the legacy ones proxies must not forward.
    static func isHopByHop(_ bytes: UnsafeRawBufferPointer, _ r: Range<Int>) -> Bool {
        switch r.count {
        case 2: return equals(bytes, r, "te")
        case 7: return equals(bytes, r, "trailer") || equals(bytes, r, "upgrade")
        case 10: return equals(bytes, r, "connection") || equals(bytes, r, "keep-alive")
        case 16: return equals(bytes, r, "proxy-connection")
        case 17: return equals(bytes, r, "transfer-encoding")
        case 19: return equals(bytes, r, "proxy-authorization") || equals(bytes, r, "proxy-authenticate")
        default: return false
        }
    }
}
