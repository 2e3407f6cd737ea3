/// Facts of the client's connection a `request-headers` policy can forward upstream, written
/// `{name}` inside a `set` or `add` value: `set { X-Client-Subject "{tls_client_subject}" }`.
///
/// They exist so an upstream can trust what the proxy verified (the client certificate of an
/// mTLS listener) without terminating TLS itself. The data plane expands them from the
/// connection's TLS facts, computed once per connection.
public enum HeaderVariable: String, CaseIterable, Sendable, Hashable {
    /// RFC 2253 subject of the verified client certificate ("CN=client-one,O=Example").
    case tlsClientSubject = "tls_client_subject"
    /// RFC 2253 issuer of the verified client certificate.
    case tlsClientIssuer = "tls_client_issuer"
    /// Its subjectAltNames, comma-separated and typed ("DNS:a.example,email:one@example").
    case tlsClientSAN = "tls_client_san"
    /// SHA-256 of the certificate (DER), lower-case hex.
    case tlsClientFingerprint = "tls_client_fingerprint"
    /// Its serial number, lower-case hex.
    case tlsClientSerial = "tls_client_serial"
    /// "verified" when the client presented a certificate (it verified, or the handshake would
    /// have failed), else "none" (also on plain HTTP listeners).
    case tlsClientVerify = "tls_client_verify"
    /// "TLSv1.3".
    case tlsVersion = "tls_version"
    /// The negotiated cipher suite.
    case tlsCipher = "tls_cipher"
    /// The SNI name the client sent.
    case tlsSNI = "tls_sni"
}

/// A header value with variables: literal text and `{name}` references.
public enum HeaderValuePart: Sendable, Hashable {
    case literal(String)
    case variable(HeaderVariable)
}

enum HeaderValueTemplate {
    enum ParseError: Error, Equatable {
        case unknownVariable(String)
    }

    /// The parts of `value`, or nil when it refers to no variable (a plain value, sent as
    /// written). `{name}` with `name` made of lower-case letters, digits and `_` is a variable
    /// (an unknown one is an error); `{{` is a literal `{`; any other `{` is literal text.
    static func parse(_ value: String) -> Result<[HeaderValuePart]?, ParseError> {
        guard value.utf8.contains(UInt8(ascii: "{")) else { return .success(nil) }
        var parts: [HeaderValuePart] = []
        var literal: [UInt8] = []
        var sawVariable = false
        var sawEscape = false
        let bytes = Array(value.utf8)
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            guard b == UInt8(ascii: "{") else {
                literal.append(b)
                i += 1
                continue
            }
            if i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "{") {
                literal.append(b)
                sawEscape = true
                i += 2
                continue
            }
            var j = i + 1
            while j < bytes.count, isNameByte(bytes[j]) { j += 1 }
            guard j > i + 1, j < bytes.count, bytes[j] == UInt8(ascii: "}") else {
                literal.append(b)
                i += 1
                continue
            }
            let name = String(decoding: bytes[(i + 1)..<j], as: UTF8.self)
            guard let variable = HeaderVariable(rawValue: name) else { return .failure(.unknownVariable(name)) }
            if !literal.isEmpty { parts.append(.literal(String(decoding: literal, as: UTF8.self))) }
            literal = []
            parts.append(.variable(variable))
            sawVariable = true
            i = j + 1
        }
        if !literal.isEmpty { parts.append(.literal(String(decoding: literal, as: UTF8.self))) }
        if sawVariable { return .success(parts) }
        // Only `{{` escapes: a plain value with the escapes resolved.
        return .success(sawEscape ? parts : nil)
    }

    private static func isNameByte(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "_")
    }

    static var known: String { HeaderVariable.allCases.map { "{\($0.rawValue)}" }.joined(separator: ", ") }
}
