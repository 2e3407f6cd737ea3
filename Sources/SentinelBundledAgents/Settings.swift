import Foundation
public import SentinelAgentProtocol

/// A setting an agent cannot use, with the reason (sent back in the Configure answer).
public struct SettingsError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Decodes an agent's settings from the JSON of its `config { }` block.
public func decodeSettings<T: Decodable>(_ type: T.Type, from config: AgentJSON) throws -> T {
    let data = try AgentCodec.encode(config)
    do { return try JSONDecoder().decode(type, from: Data(data)) } catch let e as DecodingError {
        throw SettingsError(describe(e))
    }
}

/// Decodes an agent's settings from a JSON file (`--config`).
public func decodeSettings<T: Decodable>(_ type: T.Type, file path: String) throws -> T {
    guard let data = FileManager.default.contents(atPath: path) else { throw SettingsError("cannot read \(path)") }
    do { return try JSONDecoder().decode(type, from: data) } catch let e as DecodingError {
        throw SettingsError("\(path): \(describe(e))")
    }
}

/// A decoding error as one line: where, and what was wrong.
func describe(_ e: DecodingError) -> String {
    func path(_ p: [any CodingKey]) -> String {
        p.isEmpty ? "" : p.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".") + ": "
    }
    switch e {
    case .dataCorrupted(let c): return path(c.codingPath) + c.debugDescription
    case .keyNotFound(let k, let c): return path(c.codingPath) + "missing \"\(k.stringValue)\""
    case .typeMismatch(let t, let c): return path(c.codingPath) + "expected \(t)"
    case .valueNotFound(let t, let c): return path(c.codingPath) + "expected \(t), found null"
    @unknown default: return "\(e)"
    }
}

struct SettingsKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension KeyedDecodingContainer where Key == SettingsKey {
    func refuseUnknown(_ known: [String], in what: String) throws {
        for k in allKeys where !known.contains(k.stringValue) {
            throw DecodingError.dataCorrupted(.init(codingPath: [k], debugDescription:
                "unknown key \"\(k.stringValue)\" in \(what) (known: \(known.joined(separator: ", ")))"))
        }
    }
}

func isHeaderNameByte(_ b: UInt8) -> Bool {
    switch b {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
         UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."): return true
    default: return false
    }
}
