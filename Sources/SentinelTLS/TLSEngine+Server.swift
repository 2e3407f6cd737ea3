internal import COpenSSL
internal import CSentinelTLS
internal import Glibc

// The server engine's side of OpenSSL's callbacks (TLSCallbacks calls these).
extension TLSEngine {
    static let maxServerNameBytes = 253

    /// ClientHello: read SNI, pick the host, switch to its SSL_CTX and apply its policy.
    func clientHello(alert: UnsafeMutablePointer<Int32>?) -> Int32 {
        guard let contexts else { return SSL_CLIENT_HELLO_ERROR }
        var name: String?
        var ext: UnsafePointer<UInt8>?
        var extLen = 0
        if SSL_client_hello_get0_ext(ssl, UInt32(TLSEXT_TYPE_server_name), &ext, &extLen) == 1, let ext {
            switch Self.parseServerName(UnsafeBufferPointer(start: ext, count: extLen)) {
            case .malformed:
                callbackFailure = TLSError(.protocolError, "handshake: malformed server_name extension")
                alert?.pointee = Int32(SSL_AD_DECODE_ERROR)
                return SSL_CLIENT_HELLO_ERROR
            case .name(let n): name = n
            case .unusable: name = nil
            }
        }
        serverName = name
        var chosen = name.flatMap { contexts.host(for: $0) }
        if chosen == nil {
            if name != nil, contexts.unknownServerName == .reject {
                callbackFailure = TLSError(.unknownServerName, "handshake: no certificate for server name \"\(name!)\"")
                alert?.pointee = Int32(SSL_AD_UNRECOGNIZED_NAME)
                return SSL_CLIENT_HELLO_ERROR
            }
            chosen = contexts.defaultHost
        }
        let host = chosen!
        self.host = host
        if host !== contexts.defaultHost, SSL_set_SSL_CTX(ssl, host.ctx) == nil {
            callbackFailure = TLSError.drain(.internal, "handshake: switch context")
            alert?.pointee = Int32(SSL_AD_INTERNAL_ERROR)
            return SSL_CLIENT_HELLO_ERROR
        }
        // SSL_set_SSL_CTX swaps certificates, not policy: copy the host's verify mode and bind
        // sessions to it.
        SSL_set_verify(ssl, host.verifyMode, nil)
        _ = host.sessionIDContext.withUnsafeBufferPointer { SSL_set_session_id_context(ssl, $0.baseAddress, UInt32($0.count)) }
        return SSL_CLIENT_HELLO_SUCCESS
    }

    enum ServerNameParse: Equatable {
        case name(String)
        /// Well-formed but not a DNS host name we can match (IP literal, odd bytes, too long).
        case unusable
        case malformed
    }

    /// RFC 6066 server_name: list length (2), then entries of type (1), length (2), name.
    /// The first host_name entry counts; its name is lower-cased and a final dot dropped.
    static func parseServerName(_ ext: UnsafeBufferPointer<UInt8>) -> ServerNameParse {
        guard ext.count >= 2 else { return .malformed }
        let listLen = Int(ext[0]) << 8 | Int(ext[1])
        guard listLen == ext.count - 2, listLen >= 3 else { return .malformed }
        var i = 2
        while i < ext.count {
            guard i + 3 <= ext.count else { return .malformed }
            let type = ext[i]
            let len = Int(ext[i + 1]) << 8 | Int(ext[i + 2])
            i += 3
            guard len <= ext.count - i else { return .malformed }
            if type == 0 {
                var bytes = Array(ext[i..<(i + len)])
                if bytes.last == UInt8(ascii: ".") { bytes.removeLast() }
                guard !bytes.isEmpty, bytes.count <= maxServerNameBytes else { return .unusable }
                var allDigitsOrDots = true
                for (k, b) in bytes.enumerated() {
                    switch b {
                    case UInt8(ascii: "A")...UInt8(ascii: "Z"): bytes[k] = b + 32; allDigitsOrDots = false
                    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "-"), UInt8(ascii: "_"): allDigitsOrDots = false
                    case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."): break
                    default: return .unusable
                    }
                }
                if allDigitsOrDots { return .unusable }
                return .name(String(decoding: bytes, as: UTF8.self))
            }
            i += len
        }
        return .unusable
    }

    /// ALPN: the first of our protocols the client offers; none in common is fatal.
    func selectALPN(out: UnsafeMutablePointer<UnsafePointer<UInt8>?>, outlen: UnsafeMutablePointer<UInt8>,
                    offered: UnsafeBufferPointer<UInt8>) -> Int32 {
        guard let contexts else { return SSL_TLSEXT_ERR_ALERT_FATAL }
        let ours = UnsafeBufferPointer(rebasing: contexts.alpn[0..<contexts.alpnCount])
        var i = 0
        while i < ours.count {
            let len = Int(ours[i])
            let candidate = UnsafeBufferPointer(rebasing: ours[(i + 1)..<(i + 1 + len)])
            var j = 0
            while j < offered.count {
                let olen = Int(offered[j])
                guard j + 1 + olen <= offered.count else { break }
                if olen == len, memcmp(candidate.baseAddress!, offered.baseAddress! + j + 1, len) == 0 {
                    out.pointee = candidate.baseAddress
                    outlen.pointee = UInt8(len)
                    return SSL_TLSEXT_ERR_OK
                }
                j += 1 + olen
            }
            i += 1 + len
        }
        callbackFailure = TLSError(.noApplicationProtocol, "handshake: the client offered no protocol of \(contexts.listener)'s ALPN list")
        return SSL_TLSEXT_ERR_ALERT_FATAL
    }

    /// OCSP status request: staple the response of the certificate OpenSSL chose, if any.
    func stapleOCSP() -> Int32 {
        guard let host, !host.staples.isEmpty, let cert = SSL_get_certificate(ssl) else { return SSL_TLSEXT_ERR_NOACK }
        guard let staple = host.staples.first(where: { $0.leaf == cert }) else { return SSL_TLSEXT_ERR_NOACK }
        let ok = staple.der.withUnsafeBufferPointer { sentinel_tls_set_ocsp_response(ssl, $0.baseAddress, $0.count) }
        return ok == 1 ? SSL_TLSEXT_ERR_OK : SSL_TLSEXT_ERR_NOACK
    }

    /// What a ticket minted on this connection is bound to: the host's session-id context
    /// (listener, names, certificates, client-auth policy) and the exact SNI name.
    func ticketBinding() -> [UInt8] {
        var b = host?.sessionIDContext ?? contexts?.defaultHost.sessionIDContext ?? []
        b += Array("\0sni:\(serverName ?? "")".utf8)
        return sha256(b)
    }

    /// A ticket was opened (or not): resume only with a matching binding; renew tickets under
    /// older keys.
    func decryptedTicket(session: OpaquePointer?, status: Int32) -> Int32 {
        switch status {
        case SSL_TICKET_SUCCESS, SSL_TICKET_SUCCESS_RENEW:
            var data: UnsafeMutableRawPointer?
            var len = 0
            guard let session, SSL_SESSION_get0_ticket_appdata(session, &data, &len) == 1, let data,
                  len == 32, ticketBinding().withUnsafeBytes({ memcmp($0.baseAddress!, data, 32) }) == 0
            else {
                ticketRefusedByBinding = true
                return SSL_TICKET_RETURN_IGNORE_RENEW
            }
            // TLS 1.3: always a fresh ticket after a resumption (RFC 8446 §C.4: a client should
            // use a ticket once; without a new one it could only reuse the old ticket, which
            // links its connections). TLS 1.2: renew only tickets under a non-current key.
            if status == SSL_TICKET_SUCCESS_RENEW || SSL_version(ssl) == TLS1_3_VERSION { return SSL_TICKET_RETURN_USE_RENEW }
            return SSL_TICKET_RETURN_USE
        case SSL_TICKET_EMPTY, SSL_TICKET_NO_DECRYPT:
            return SSL_TICKET_RETURN_IGNORE_RENEW
        case SSL_TICKET_NONE:
            return SSL_TICKET_RETURN_IGNORE_RENEW
        default:
            return SSL_TICKET_RETURN_ABORT
        }
    }

    /// Client: OpenSSL hands over a new session (reference transferred).
    func newSession(_ session: OpaquePointer) {
        self.session = TLSSession(taking: session)
    }
}

/// A client session to resume later (a ticket and its secrets). Reference-counted by OpenSSL
/// and immutable once issued.
public final class TLSSession: @unchecked Sendable {
    let pointer: OpaquePointer

    init(taking pointer: OpaquePointer) { self.pointer = pointer }

    deinit { SSL_SESSION_free(pointer) }

    /// Whether the session can be offered again (has a ticket or id, not expired by OpenSSL).
    public var isResumable: Bool { SSL_SESSION_is_resumable(pointer) == 1 }

    /// SHA-256 of the (encrypted) ticket, hex; empty without a ticket. Tells a renewed ticket apart.
    public var ticketFingerprint: String {
        var tick: UnsafePointer<UInt8>?
        var len = 0
        SSL_SESSION_get0_ticket(pointer, &tick, &len)
        guard let tick, len > 0 else { return "" }
        return hex(sha256(Array(UnsafeBufferPointer(start: tick, count: len))))
    }
}

/// Internal parsers exposed for tests and the fuzz target (no OpenSSL state involved).
public enum TLSEngineTestHooks {
    public enum ServerName: Equatable, Sendable {
        case name(String)
        case unusable
        case malformed
    }

    public static func parseServerName(_ bytes: [UInt8]) -> ServerName {
        bytes.withUnsafeBufferPointer { buf in
            switch TLSEngine.parseServerName(buf) {
            case .name(let n): .name(n)
            case .unusable: .unusable
            case .malformed: .malformed
            }
        }
    }
}
