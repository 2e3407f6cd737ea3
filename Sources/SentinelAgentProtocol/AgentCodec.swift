import FoundationEssentials

/// JSON for agent frames. Objects are written with their keys in byte order at every depth
/// (as the original proxy's events are), slashes unescaped, no whitespace.
public enum AgentCodec {
    /// Writes `message` as compact JSON with sorted keys.
    public static func encode(_ message: some Encodable) throws -> [UInt8] {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try e.encode(message))
    }

    /// Reads a payload as `type`. Unknown fields are ignored; missing required fields throw.
    public static func decode<T: Decodable>(_ type: T.Type, from payload: some Collection<UInt8>) throws -> T {
        try JSONDecoder().decode(type, from: Data(payload))
    }

    /// One frame carrying `message` as JSON.
    public static func frame(_ type: AgentMessageType, _ message: some Encodable) throws -> AgentFrame {
        let payload = try encode(message)
        guard payload.count <= AgentFrame.maxPayload else { throw AgentFrameError.payloadTooLarge(payload.count) }
        return AgentFrame(type: type, payload: payload)
    }

    /// The handshake request in its declaration order (`supported_versions`, `proxy_id`,
    /// `proxy_version`, `config`, `supported_encodings`), as the original writes it.
    public static func encodeHandshake(_ h: HandshakeRequest) throws -> [UInt8] {
        var out = Array("{\"supported_versions\":[".utf8)
        out += Array(h.supportedVersions.map(String.init).joined(separator: ",").utf8)
        out += Array("],\"proxy_id\":".utf8)
        out += try encode(h.proxyID)
        out += Array(",\"proxy_version\":".utf8)
        out += try encode(h.proxyVersion)
        out += Array(",\"config\":".utf8)
        out += try h.config.map { try encode($0) } ?? Array("null".utf8)
        if !h.supportedEncodings.isEmpty {
            out += Array(",\"supported_encodings\":".utf8)
            out += try encode(h.supportedEncodings)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }
}
