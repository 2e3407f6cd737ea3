internal import COpenSSL
internal import CSentinelTLS

/// Everything that can fail in SentinelTLS: what failed (`context`), why (`reason`, classified
/// for metrics and logs) and the OpenSSL error queue that was drained into it (`details`).
public struct TLSError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Failure classes the data plane counts and logs (metrics label values).
    public enum Reason: String, Sendable, Hashable, CaseIterable {
        /// No cipher suite, group or signature algorithm in common with the peer.
        case noSharedCipher = "no_shared_cipher"
        /// The client named a host this listener has no certificate for (strict SNI).
        case unknownServerName = "unknown_sni"
        /// The peer offered only versions outside min/max (TLS 1.0/1.1 among them).
        case protocolVersion = "protocol_version"
        /// The client offered ALPN protocols, none of them ours.
        case noApplicationProtocol = "no_alpn"
        /// A client certificate was required and none was sent.
        case clientCertificateRequired = "client_cert_required"
        /// The client's certificate did not verify (unknown CA, expired, revoked…).
        case badClientCertificate = "bad_client_cert"
        /// Client role: the server's certificate did not verify or did not match the host name.
        case badServerCertificate = "bad_server_cert"
        /// The peer sent a fatal alert.
        case peerAlert = "peer_alert"
        /// The handshake needed more bytes than `TLSLimits.maxHandshakeBytes`.
        case handshakeTooLarge = "handshake_too_large"
        /// Plain HTTP sent to a TLS port.
        case plainHTTP = "plain_http"
        /// Malformed records or handshake messages, unexpected messages.
        case protocolError = "protocol_error"
        /// The transport closed without a close_notify.
        case unexpectedEOF = "unexpected_eof"
        /// The host's handshake deadline passed (the engine has no timers; its host sets this).
        case handshakeTimeout = "timeout"
        /// Called in a state that does not allow it (send before the handshake, after close).
        case invalidState = "invalid_state"
        /// A setting OpenSSL refused or Sentinel does not allow.
        case configuration = "configuration"
        /// A certificate, key, CA bundle, CRL or OCSP response that cannot be used.
        case certificate = "certificate"
        /// OpenSSL failed in a way that says nothing about the peer (allocation…).
        case `internal` = "internal"
    }

    public var reason: Reason
    /// What Sentinel was doing: "handshake", "load certificate chain /etc/…/site.pem", …
    public var context: String
    /// OpenSSL's error queue, oldest first ("error:0A0000C1:SSL routines::no shared cipher").
    public var details: [String]

    public init(_ reason: Reason, _ context: String, details: [String] = []) {
        self.reason = reason
        self.context = context
        self.details = details
    }

    /// One line for an access log or a probe verdict: the context without its leading
    /// "handshake: ", and OpenSSL's first reason text when the context names no cause
    /// ("certificate verify failed: hostname mismatch", "peer_alert: tlsv13 alert certificate required").
    public var summary: String {
        var text = context
        if text.hasPrefix("handshake: ") { text.removeFirst("handshake: ".count) }
        if text == "handshake" || text == "read" || text == "write" {
            // OpenSSL's text: "error:0A00045C:SSL routines::tlsv13 alert certificate required".
            let cause = details.first.map { d in d.split(separator: ":", omittingEmptySubsequences: false).last.map(String.init) ?? d }
            text = reason.rawValue + (cause.map { ": " + $0 } ?? "")
        }
        return text
    }

    public var description: String {
        var s = "TLS \(reason.rawValue): \(context)"
        if !details.isEmpty { s += " (" + details.joined(separator: "; ") + ")" }
        return s
    }

    /// Drains this thread's OpenSSL error queue into an error, classifying the first SSL reason
    /// that names a class. `fallback` is used when nothing in the queue does.
    static func drain(_ fallback: Reason, _ context: String, role: TLSRole? = nil) -> TLSError {
        var details: [String] = []
        var classified: Reason?
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            if details.count < 8 {
                var buf = [CChar](repeating: 0, count: 256)
                ERR_error_string_n(code, &buf, buf.count)
                details.append(String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
            if classified == nil, sentinel_tls_err_lib(code) == ERR_LIB_SSL {
                classified = classify(sslReason: sentinel_tls_err_reason(code), role: role)
            }
        }
        return TLSError(classified ?? fallback, context, details: details)
    }

    static func classify(sslReason r: Int32, role: TLSRole?) -> Reason? {
        switch r {
        case SSL_R_NO_SHARED_CIPHER, SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM, SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
            return .noSharedCipher
        case SSL_R_UNSUPPORTED_PROTOCOL, SSL_R_VERSION_TOO_LOW, SSL_R_NO_PROTOCOLS_AVAILABLE,
             SSL_R_TLSV1_ALERT_PROTOCOL_VERSION, SSL_R_WRONG_VERSION_NUMBER, SSL_R_TLSV1_ALERT_INAPPROPRIATE_FALLBACK:
            return .protocolVersion
        case SSL_R_NO_APPLICATION_PROTOCOL, SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL:
            return .noApplicationProtocol
        case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE, SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
            return .clientCertificateRequired
        case SSL_R_CERTIFICATE_VERIFY_FAILED:
            return role == .client ? .badServerCertificate : .badClientCertificate
        case SSL_R_TLSV1_UNRECOGNIZED_NAME:
            return .unknownServerName
        case SSL_R_UNEXPECTED_EOF_WHILE_READING:
            return .unexpectedEOF
        case SSL_R_HTTP_REQUEST:
            return .plainHTTP
        case Int32(SSL_AD_REASON_OFFSET)...:
            return .peerAlert
        default:
            return nil
        }
    }
}

/// Which end of the connection an engine plays.
public enum TLSRole: Sendable, Hashable {
    case server
    case client
}

/// Protocol versions. Servers accept TLS 1.2 and 1.3 only; the legacy ones exist so a test or
/// an interop client can show they are refused.
public enum TLSVersion: Int32, Sendable, Hashable, Comparable, CustomStringConvertible {
    case tls1_0 = 0x0301
    case tls1_1 = 0x0302
    case tls1_2 = 0x0303
    case tls1_3 = 0x0304

    public static func < (a: TLSVersion, b: TLSVersion) -> Bool { a.rawValue < b.rawValue }

    public var description: String {
        switch self {
        case .tls1_0: "TLSv1"
        case .tls1_1: "TLSv1.1"
        case .tls1_2: "TLSv1.2"
        case .tls1_3: "TLSv1.3"
        }
    }
}
