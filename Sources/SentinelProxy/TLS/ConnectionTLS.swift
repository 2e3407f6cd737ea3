public import SentinelTLS

/// A fact of the client's connection a route's `request-headers` policy can write into a
/// header value (`{tls_client_subject}`; the config module's `HeaderVariable`, mapped one to one
/// by the snapshot builder).
public enum ConnectionVariable: Int, CaseIterable, Sendable, Hashable {
    case tlsClientSubject, tlsClientIssuer, tlsClientSAN, tlsClientFingerprint, tlsClientSerial, tlsClientVerify
    case tlsVersion, tlsCipher, tlsSNI
}

/// The TLS facts of one downstream connection, handed by `TLSServerHandler` to the HTTP handler
/// as a user event when the handshake completes (before the first plaintext), so the HTTP side
/// (header policies, the access log; agents and filters later) reads them without looking the
/// TLS handler up. The header-variable values are computed on first use, once per connection.
///
/// Values are sanitised for a header field: control bytes, DEL and non-ASCII bytes become
/// `\xHH` (an RFC 2253 subject already escapes most), so a certificate can never add a line to
/// the upstream request; a value longer than `maxValueBytes` after that is not used at all (the
/// field is left out rather than cut, so no upstream acts on a truncated name).
public final class ConnectionTLS {
    public let facts: TLSConnectionFacts
    private var values: [[UInt8]?]?

    /// Bound of one variable's expansion.
    public static let maxValueBytes = 2048

    public init(facts: TLSConnectionFacts) {
        self.facts = facts
    }

    /// The sanitised bytes of `variable`; empty when the connection has no such fact; nil when
    /// the value exceeds `maxValueBytes`.
    func value(_ variable: ConnectionVariable) -> [UInt8]? {
        if values == nil { values = ConnectionVariable.allCases.map { Self.sanitised(Self.raw($0, facts)) } }
        return values![variable.rawValue]
    }

    /// The value of a variable on a connection without TLS: `tls_client_verify` is "none",
    /// every other one is empty.
    static func plainValue(_ variable: ConnectionVariable) -> [UInt8] {
        variable == .tlsClientVerify ? noneBytes : []
    }

    private static let noneBytes = Array("none".utf8)

    static func raw(_ v: ConnectionVariable, _ f: TLSConnectionFacts) -> String {
        switch v {
        case .tlsClientSubject: f.peerCertificate?.subject ?? ""
        case .tlsClientIssuer: f.peerCertificate?.issuer ?? ""
        case .tlsClientSAN: f.peerCertificate?.subjectAltNames.joined(separator: ",") ?? ""
        case .tlsClientFingerprint: f.peerCertificate?.sha256Fingerprint ?? ""
        case .tlsClientSerial: f.peerCertificate?.serialNumber ?? ""
        case .tlsClientVerify: f.clientCertificateStatus.rawValue
        case .tlsVersion: f.versionName
        case .tlsCipher: f.cipher
        case .tlsSNI: f.serverName ?? ""
        }
    }

    /// `s` for a header value: control bytes, DEL and bytes above 0x7F as `\xHH`; nil above
    /// `maxValueBytes`.
    static func sanitised(_ s: String) -> [UInt8]? {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        for b in s.utf8 {
            if b < 0x20 || b >= 0x7F {
                out += [UInt8(ascii: "\\"), UInt8(ascii: "x"), hex[Int(b >> 4)], hex[Int(b & 15)]]
            } else {
                out.append(b)
            }
            if out.count > maxValueBytes { return nil }
        }
        return out
    }
}
