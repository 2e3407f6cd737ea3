import NIOCore
import SentinelHTTP1

/// Counts (and bounds) a request body that Sentinel consumes itself, by its framing.
struct BodyCounter {
    var framing: RequestFraming
    var remaining: UInt64
    var chunked: ChunkedDecoder?
    var limit: Int
    var seen: UInt64 = 0
    /// Body bytes taken so far, framing included (what the minimum body rate counts).
    var received: UInt64 = 0
    var failed = false
    var limitIsBody413 = false

    static let empty = BodyCounter(framing: .none, limit: 0, limits: HTTP1Limits())

    init(framing: RequestFraming, limit: Int, limits: HTTP1Limits) {
        self.framing = framing
        self.limit = limit
        switch framing {
        case .none: remaining = 0
        case .contentLength(let n): remaining = n
        case .chunked:
            remaining = 0
            chunked = ChunkedDecoder(limits: limits, sender: .client)
        }
    }

    var isEmpty: Bool { framing == .none || framing == .contentLength(0) }

    var declaredLength: UInt64? {
        if case .contentLength(let n) = framing { return n }
        return nil
    }

    var declaredTooLarge: Bool { declaredLength.map { $0 > UInt64(limit) } ?? false }

    var isComplete: Bool {
        switch framing {
        case .none: return true
        case .contentLength: return remaining == 0
        case .chunked: return chunked?.isComplete ?? true
        }
    }

    /// Consumes body bytes from the front of `buffer`; true once the body is complete.
    mutating func consume(_ buffer: inout ByteBuffer) -> Bool {
        while !isComplete, buffer.readableBytes > 0 {
            guard let n = take(&buffer) else { return false }
            buffer.moveReaderIndex(forwardBy: n)
        }
        return isComplete
    }

    /// How many bytes at the front of `buffer` belong to the body (they are validated, and the
    /// data counted against the limit); nil when the body is invalid or over the limit.
    mutating func take(_ buffer: inout ByteBuffer) -> Int? {
        switch framing {
        case .none:
            return 0
        case .contentLength:
            let n = Int(min(remaining, UInt64(buffer.readableBytes)))
            remaining -= UInt64(n)
            seen += UInt64(n)
            received += UInt64(n)
            return n
        case .chunked:
            var consumed = 0
            var dataBytes = 0
            var bad = false
            buffer.withUnsafeReadableBytes { p in
                while consumed < p.count, !bad {
                    switch chunked!.decode(UnsafeRawBufferPointer(rebasing: p[consumed...])) {
                    case .data(let r):
                        dataBytes += r.count
                        consumed += r.upperBound
                    case .needMore(let c):
                        consumed += c
                        return
                    case .done(let c):
                        consumed += c
                        return
                    case .error:
                        bad = true
                    }
                }
            }
            seen += UInt64(dataBytes)
            received += UInt64(consumed)
            if bad || seen > UInt64(limit) {
                failed = true
                return nil
            }
            return consumed
        }
    }
}
