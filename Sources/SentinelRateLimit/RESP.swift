/// The Redis serialization protocol (RESP2), as far as the rate limiter needs it: commands out
/// (arrays of bulk strings), replies in (simple strings, errors, integers, bulk strings, arrays),
/// decoded incrementally from whatever bytes have arrived, with bounds on every size.
public enum RESPValue: Sendable, Hashable {
    case simple(String)
    case error(String)
    case integer(Int64)
    /// nil: the null bulk string.
    case bulk([UInt8]?)
    /// nil: the null array.
    case array([RESPValue]?)
}

public enum RESP {
    /// A command as RESP: `*<n>\r\n` then `$<len>\r\n<bytes>\r\n` per argument.
    public static func command(_ arguments: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(16 + arguments.reduce(0) { $0 + $1.count + 16 })
        out.append(UInt8(ascii: "*"))
        out += Array(String(arguments.count).utf8)
        out += [13, 10]
        for a in arguments {
            out.append(UInt8(ascii: "$"))
            out += Array(String(a.count).utf8)
            out += [13, 10]
            out += a
            out += [13, 10]
        }
        return out
    }

    public static func command(_ arguments: String...) -> [UInt8] { command(arguments.map { Array($0.utf8) }) }

    public struct ProtocolError: Error, Hashable, CustomStringConvertible {
        public var description: String
    }

    /// Replies from a byte stream. Feed `append`, take complete replies with `next`.
    public struct Decoder: Sendable {
        /// The longest bulk string, line and array accepted (a reply beyond them is a protocol error).
        public var maxBulk = 1 << 20
        public var maxLine = 4096
        public var maxArray = 1024
        public var maxDepth = 4
        var buffer: [UInt8] = []
        var start = 0

        public init() {}

        public mutating func append(_ bytes: some Sequence<UInt8>) {
            if start > 4096, start * 2 > buffer.count {
                buffer.removeFirst(start)
                start = 0
            }
            buffer.append(contentsOf: bytes)
        }

        /// Bytes received and not yet part of a decoded reply.
        public var buffered: Int { buffer.count - start }

        /// The next complete reply, nil when more bytes are needed.
        public mutating func next() throws(ProtocolError) -> RESPValue? {
            var i = start
            guard let v = try parse(&i, depth: 0) else { return nil }
            start = i
            return v
        }

        private func line(_ i: inout Int) throws(ProtocolError) -> ArraySlice<UInt8>? {
            var j = i
            while j + 1 < buffer.count {
                if buffer[j] == 13, buffer[j + 1] == 10 {
                    let s = buffer[i..<j]
                    i = j + 2
                    return s
                }
                j += 1
                if j - i > maxLine { throw ProtocolError(description: "a reply line longer than \(maxLine) bytes") }
            }
            if buffer.count - i > maxLine { throw ProtocolError(description: "a reply line longer than \(maxLine) bytes") }
            return nil
        }

        private func integer(_ s: ArraySlice<UInt8>) throws(ProtocolError) -> Int64 {
            guard let n = Int64(String(decoding: s, as: UTF8.self)) else {
                throw ProtocolError(description: "not an integer: \(String(decoding: s.prefix(32), as: UTF8.self))")
            }
            return n
        }

        private func parse(_ i: inout Int, depth: Int) throws(ProtocolError) -> RESPValue? {
            guard i < buffer.count else { return nil }
            let kind = buffer[i]
            var j = i + 1
            guard let head = try line(&j) else { return nil }
            switch kind {
            case UInt8(ascii: "+"):
                i = j
                return .simple(String(decoding: head, as: UTF8.self))
            case UInt8(ascii: "-"):
                i = j
                return .error(String(decoding: head, as: UTF8.self))
            case UInt8(ascii: ":"):
                let n = try integer(head)
                i = j
                return .integer(n)
            case UInt8(ascii: "$"):
                let n = try integer(head)
                if n == -1 {
                    i = j
                    return .bulk(nil)
                }
                guard n >= 0, n <= maxBulk else { throw ProtocolError(description: "bulk string of \(n) bytes") }
                let end = j + Int(n)
                guard end + 2 <= buffer.count else { return nil }
                guard buffer[end] == 13, buffer[end + 1] == 10 else { throw ProtocolError(description: "bulk string not ended by CRLF") }
                i = end + 2
                return .bulk(Array(buffer[j..<end]))
            case UInt8(ascii: "*"):
                let n = try integer(head)
                if n == -1 {
                    i = j
                    return .array(nil)
                }
                guard n >= 0, n <= maxArray else { throw ProtocolError(description: "array of \(n) elements") }
                guard depth < maxDepth else { throw ProtocolError(description: "arrays nested deeper than \(maxDepth)") }
                var items: [RESPValue] = []
                for _ in 0..<n {
                    guard let v = try parse(&j, depth: depth + 1) else { return nil }
                    items.append(v)
                }
                i = j
                return .array(items)
            default:
                throw ProtocolError(description: "unknown reply type byte \(kind)")
            }
        }
    }
}
