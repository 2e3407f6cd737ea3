/// Any JSON value: the free-form parts of the protocol (the handshake's and Configure's
/// `config`, `audit.custom`). Objects keep their keys in a dictionary; the encoder sorts them.
public enum AgentJSON: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([AgentJSON])
    case object([String: AgentJSON])

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null; return }
        if let b = try? c.decode(Bool.self) { self = .bool(b); return }
        if let d = try? c.decode(Double.self) { self = .number(d); return }
        if let s = try? c.decode(String.self) { self = .string(s); return }
        if let a = try? c.decode([AgentJSON].self) { self = .array(a); return }
        if let o = try? c.decode([String: AgentJSON].self) { self = .object(o); return }
        throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a JSON value")
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let d):
            // Integral values print without a fraction, as serde_json prints integers.
            if d.rounded() == d, abs(d) < 9.007_199_254_740_992e15 { try c.encode(Int64(d)) } else { try c.encode(d) }
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    /// The string value, nil for every other kind.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The member `key` of an object, nil otherwise.
    public subscript(key: String) -> AgentJSON? {
        if case .object(let o) = self { return o[key] }
        return nil
    }
}
