/// The bytes of a `grpc.health.v1.Health/Check` call (§5.7 `type "grpc"`): the protobuf
/// `HealthCheckRequest { string service = 1; }`, the `HealthCheckResponse { ServingStatus status = 1; }`
/// and gRPC's length-prefixed message framing, hand-coded.
///
/// It exists so the probe needs no protobuf or gRPC library for two one-field messages, and so every
/// decoding step is a pure function over bytes with explicit bounds: a response comes from a network
/// peer and is input like any other. Decoding follows proto3: unknown fields are skipped, a missing
/// `status` is its default (0, UNKNOWN), and anything malformed is an error, never a guess.
public enum GRPCHealthCodec {
    /// The method path of the standard health service.
    public static let path = "/grpc.health.v1.Health/Check"
    /// Largest gRPC message or whole response body a probe accepts.
    public static let maxMessageBytes = 64 * 1024

    /// `grpc.health.v1.HealthCheckResponse.ServingStatus`.
    public enum ServingStatus: Equatable, Sendable, CustomStringConvertible {
        case unknown
        case serving
        case notServing
        case serviceUnknown
        /// A value this build does not know (a newer server); never healthy.
        case other(UInt64)

        init(_ raw: UInt64) {
            switch raw {
            case 0: self = .unknown
            case 1: self = .serving
            case 2: self = .notServing
            case 3: self = .serviceUnknown
            default: self = .other(raw)
            }
        }

        public var description: String {
            switch self {
            case .unknown: return "UNKNOWN"
            case .serving: return "SERVING"
            case .notServing: return "NOT_SERVING"
            case .serviceUnknown: return "SERVICE_UNKNOWN"
            case .other(let v): return "status \(v)"
            }
        }
    }

    public enum DecodeError: Error, Equatable, Sendable, CustomStringConvertible {
        case truncated
        case varintTooLong
        case invalidWireType(UInt8)
        case fieldNumberZero
        case statusNotVarint
        case compressed
        case invalidFlag(UInt8)
        case tooLarge(Int)

        public var description: String {
            switch self {
            case .truncated: return "truncated protobuf message"
            case .varintTooLong: return "protobuf varint longer than 10 bytes"
            case .invalidWireType(let t): return "protobuf wire type \(t) not allowed"
            case .fieldNumberZero: return "protobuf field number 0"
            case .statusNotVarint: return "HealthCheckResponse.status is not a varint"
            case .compressed: return "compressed gRPC message (none was offered)"
            case .invalidFlag(let f): return "gRPC message flag \(f)"
            case .tooLarge(let n): return "gRPC message of \(n) bytes exceeds \(GRPCHealthCodec.maxMessageBytes)"
            }
        }
    }

    // MARK: - Protobuf

    /// `HealthCheckRequest { service = 1 }`; an empty service (the whole server) is the empty message,
    /// as proto3 omits default values.
    public static func encodeRequest(service: String) -> [UInt8] {
        let bytes = Array(service.utf8)
        guard !bytes.isEmpty else { return [] }
        var out: [UInt8] = [0x0A]  // field 1, wire type 2 (length-delimited)
        appendVarint(UInt64(bytes.count), to: &out)
        out += bytes
        return out
    }

    static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    /// Reads a varint at `i`, advancing it. At most 10 bytes (64 bits); bits past 64 are dropped as
    /// protobuf parsers do.
    static func readVarint(_ bytes: [UInt8], _ i: inout Int) throws(DecodeError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        for _ in 0..<10 {
            guard i < bytes.count else { throw .truncated }
            let b = bytes[i]
            i += 1
            result |= UInt64(b & 0x7F) << shift  // bits past 64 shift out
            if b & 0x80 == 0 { return result }
            shift += 7
        }
        throw .varintTooLong
    }

    /// `HealthCheckResponse.status`. Unknown fields of every valid wire type are skipped; a repeated
    /// `status` keeps the last value (proto3 semantics for scalars); groups are refused.
    public static func decodeResponse(_ bytes: [UInt8]) throws(DecodeError) -> ServingStatus {
        guard bytes.count <= maxMessageBytes else { throw .tooLarge(bytes.count) }
        var i = 0
        var status: UInt64 = 0
        while i < bytes.count {
            let key = try readVarint(bytes, &i)
            let wireType = UInt8(key & 0x7)
            let field = key >> 3
            guard field != 0 else { throw .fieldNumberZero }
            switch wireType {
            case 0:
                let v = try readVarint(bytes, &i)
                if field == 1 { status = v }
            case 1, 5:
                if field == 1 { throw .statusNotVarint }
                let width = wireType == 1 ? 8 : 4
                guard bytes.count - i >= width else { throw .truncated }
                i += width
            case 2:
                if field == 1 { throw .statusNotVarint }
                let length = try readVarint(bytes, &i)
                guard length <= UInt64(bytes.count - i) else { throw .truncated }
                i += Int(length)
            default:
                throw .invalidWireType(wireType)
            }
        }
        return ServingStatus(status)
    }

    // MARK: - gRPC framing

    /// One length-prefixed message: flag 0 (not compressed), 4-byte big-endian length, the bytes.
    public static func frame(_ message: [UInt8]) -> [UInt8] {
        let n = UInt32(message.count)
        return [0, UInt8(n >> 24), UInt8((n >> 16) & 0xFF), UInt8((n >> 8) & 0xFF), UInt8(n & 0xFF)] + message
    }

    /// Reassembles length-prefixed messages from DATA frames, however they are split.
    public struct MessageReader: Sendable {
        private var buffer: [UInt8] = []
        private var start = 0
        /// Total bytes appended; bounded by `maxMessageBytes` plus one prefix per message.
        public private(set) var received = 0

        public init() {}

        /// Adds received bytes; throws when the whole body would exceed the probe's bound.
        public mutating func append<C: Collection<UInt8>>(_ bytes: C) throws(DecodeError) {
            received += bytes.count
            guard received <= GRPCHealthCodec.maxMessageBytes + 5 else { throw .tooLarge(received) }
            buffer.append(contentsOf: bytes)
        }

        /// The next complete message, nil when more bytes are needed.
        public mutating func next() throws(DecodeError) -> [UInt8]? {
            let available = buffer.count - start
            guard available >= 5 else { return nil }
            let flag = buffer[start]
            if flag == 1 { throw .compressed }
            guard flag == 0 else { throw .invalidFlag(flag) }
            let length = Int(buffer[start + 1]) << 24 | Int(buffer[start + 2]) << 16 | Int(buffer[start + 3]) << 8 | Int(buffer[start + 4])
            guard length <= GRPCHealthCodec.maxMessageBytes else { throw .tooLarge(length) }
            guard available - 5 >= length else { return nil }
            let message = Array(buffer[(start + 5)..<(start + 5 + length)])
            start += 5 + length
            if start == buffer.count {
                buffer.removeAll(keepingCapacity: true)
                start = 0
            }
            return message
        }

        /// Bytes received that do not form a complete message (a truncated body when the stream ended).
        public var pendingBytes: Int { buffer.count - start }
    }

    // MARK: - Status codes

    /// The canonical name of a gRPC status code, for logs.
    public static func statusName(_ code: Int) -> String {
        let names = [
            "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
            "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
            "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
        ]
        return names.indices.contains(code) ? names[code] : "code \(code)"
    }
}
