/// A JSON value from a token header, a claim set or a JWKS.
public enum JSONClaim: Sendable, Equatable, Decodable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONClaim])
    case object([String: JSONClaim])

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONClaim].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONClaim].self)) }
    }

    public var string: String? { if case .string(let s) = self { return s }; return nil }
    public var number: Double? { if case .number(let n) = self { return n }; return nil }
    public subscript(key: String) -> JSONClaim? { if case .object(let o) = self { return o[key] }; return nil }

    /// The text an identity header carries: strings as they are, numbers and booleans printed,
    /// arrays of strings joined with commas; nil for objects and null.
    public var headerText: String? {
        switch self {
        case .string(let s): return s
        case .bool(let b): return b ? "true" : "false"
        case .number(let n): return n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : String(n)
        case .array(let items):
            let parts = items.compactMap { $0.headerText }
            return parts.count == items.count ? parts.joined(separator: ",") : nil
        case .null, .object: return nil
        }
    }
}
