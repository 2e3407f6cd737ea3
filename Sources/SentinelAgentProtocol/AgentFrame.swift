/// One frame of agent protocol v2 over a Unix stream socket:
///
///     u32 big-endian length (= 1 type byte + payload) | type byte | payload (JSON)
///
/// The length is at least 1 and at most `AgentFrame.maxLength` (16 MiB).
public struct AgentFrame: Sendable, Hashable {
    /// The largest valid `length` field: type byte plus payload, 16 MiB.
    public static let maxLength: UInt32 = 16 * 1024 * 1024
    /// The largest payload a frame can carry.
    public static let maxPayload = Int(maxLength) - 1
    /// Bytes before the payload: the length prefix and the type byte.
    public static let headerSize = 5

    public var type: AgentMessageType
    public var payload: [UInt8]

    public init(type: AgentMessageType, payload: [UInt8]) {
        self.type = type
        self.payload = payload
    }

    /// The frame's bytes on the wire. Throws `payloadTooLarge` rather than write a frame the
    /// peer must reject.
    public func encoded() throws(AgentFrameError) -> [UInt8] {
        var out: [UInt8] = []
        try AgentFrame.append(type: type, payload: payload, to: &out)
        return out
    }

    /// Appends one frame to `out` (no intermediate copy of the payload).
    public static func append(type: AgentMessageType, payload: some Collection<UInt8>, to out: inout [UInt8]) throws(AgentFrameError) {
        guard payload.count <= maxPayload else { throw .payloadTooLarge(payload.count) }
        let length = UInt32(payload.count + 1)
        out.reserveCapacity(out.count + headerSize + payload.count)
        out.append(UInt8(truncatingIfNeeded: length >> 24))
        out.append(UInt8(truncatingIfNeeded: length >> 16))
        out.append(UInt8(truncatingIfNeeded: length >> 8))
        out.append(UInt8(truncatingIfNeeded: length))
        out.append(type.rawValue)
        out.append(contentsOf: payload)
    }
}

/// Why a byte stream is not valid agent protocol v2 framing. Every case ends the connection.
public enum AgentFrameError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A length prefix of 0 (a frame needs at least its type byte).
    case zeroLength
    /// A length prefix above 16 MiB; raised before any of the frame's body is read.
    case tooLarge(UInt32)
    /// A type byte that is not one of `AgentMessageType`; raised before the payload is read.
    case unknownType(UInt8)
    /// The stream ended inside a frame (after `buffered` of its bytes).
    case truncated(buffered: Int)
    /// An encoder was asked to write a payload above `AgentFrame.maxPayload`.
    case payloadTooLarge(Int)

    public var description: String {
        switch self {
        case .zeroLength: return "zero-length agent frame"
        case .tooLarge(let n): return "agent frame of \(n) bytes exceeds the 16 MiB limit"
        case .unknownType(let t): return "unknown agent frame type 0x\(String(t, radix: 16))"
        case .truncated(let n): return "agent stream ended inside a frame (\(n) bytes buffered)"
        case .payloadTooLarge(let n): return "agent payload of \(n) bytes exceeds the 16 MiB frame limit"
        }
    }
}
