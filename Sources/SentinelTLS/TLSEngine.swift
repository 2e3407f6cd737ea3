internal import COpenSSL
internal import CSentinelTLS

/// One TLS connection, sans I/O: the host hands it ciphertext from the peer and gets plaintext
/// and events back; ciphertext for the peer accumulates in `pendingOutput`, which the host
/// writes to its socket when it likes. No socket, timer, thread or event loop inside, so the
/// same engine runs behind a NIO handler today and under Sentinel's own loop later.
///
/// Confined to one thread at a time (not Sendable). Bounds: `TLSLimits` (handshake bytes, peer
/// certificate chain, pending output); the handshake *timeout* belongs to the host, which reads
/// `isHandshaking` and drops the connection when its timer fires.
public final class TLSEngine {
    public enum State: Sendable, Equatable {
        case handshaking
        case open
        /// The peer sent close_notify; nothing more will arrive.
        case closed
        case failed(TLSError)
    }

    /// What one `receive` call did.
    public struct ReceiveResult: Sendable, Equatable {
        /// Bytes of the input the engine took. Less than offered only when `plaintext` filled
        /// up or the connection ended: offer the rest again.
        public var consumed = 0
        /// Plaintext bytes written into the caller's buffer.
        public var plaintext = 0
        /// The handshake completed in this call (`facts` is set from now on).
        public var handshakeCompleted = false
        /// close_notify arrived in this call.
        public var peerClosed = false

        public init() {}
    }

    let ssl: OpaquePointer
    public let role: TLSRole
    let contexts: TLSContextSet?
    let clientContext: TLSClientContext?
    let limits: TLSLimits
    public private(set) var state: State = .handshaking
    /// Set after the handshake.
    public private(set) var facts: TLSConnectionFacts?

    // The input window of the current `receive` call (read by the BIO).
    var input = UnsafeRawBufferPointer(start: nil, count: 0)
    var inputWindow = 0
    var inputOffset = 0
    // Ciphertext for the peer: output[outputHead...].
    var output: [UInt8] = []
    var outputHead = 0
    var handshakeBytes = 0
    /// A failure a callback decided (it wins over OpenSSL's generic "callback failed").
    var callbackFailure: TLSError?

    // Server side, set by the ClientHello callback.
    var host: TLSContextSet.Host?
    public internal(set) var serverName: String?
    /// A ticket decrypted fine but was minted for another listener, name or policy.
    public internal(set) var ticketRefusedByBinding = false
    // Client side.
    /// The latest session the server gave (TLS 1.3: after the handshake, in `receive`).
    public internal(set) var session: TLSSession?
    let expectedName: String?

    /// A server engine for one accepted connection.
    public init(server contexts: TLSContextSet) throws(TLSError) {
        ERR_clear_error()
        guard let ssl = SSL_new(contexts.defaultHost.ctx) else { throw TLSError.drain(.internal, "SSL_new") }
        self.ssl = ssl
        role = .server
        self.contexts = contexts
        clientContext = nil
        limits = contexts.limits
        expectedName = nil
        SSL_set_accept_state(ssl)
        attach()
    }

    /// A client engine for one upstream connection. `serverName` is sent as SNI (unless it is
    /// an IP literal) and verified against the certificate; `session` resumes an earlier one;
    /// `alpn` replaces the context's ALPN list for this connection (a gRPC health probe offers
    /// `h2` on the upstream's context, which offers `http/1.1`).
    public init(client context: TLSClientContext, serverName: String?, session: TLSSession? = nil, alpn: [String]? = nil) throws(TLSError) {
        ERR_clear_error()
        guard let ssl = SSL_new(context.ctx) else { throw TLSError.drain(.internal, "SSL_new") }
        self.ssl = ssl
        role = .client
        contexts = nil
        clientContext = context
        limits = context.configuration.limits
        expectedName = serverName
        SSL_set_connect_state(ssl)
        attach()
        try context.prepare(ssl, serverName: serverName, session: session)
        if let alpn {
            let wire = try alpnWireFormat(alpn)
            // SSL_set_alpn_protos returns 0 on success.
            guard SSL_set_alpn_protos(ssl, wire, UInt32(wire.count)) == 0 else { throw TLSError.drain(.configuration, "client ALPN") }
        }
    }

    private func attach() {
        let me = Unmanaged.passUnretained(self).toOpaque()
        SSL_set_ex_data(ssl, TLSCallbacks.engineIndex, me)
        let bio = BIO_new(EngineBIO.method)
        BIO_set_data(bio, me)
        SSL_set_bio(ssl, bio, bio)
    }

    deinit {
        // SSL_free marks the session of a connection that sent no close_notify as not
        // resumable (ssl_clear_bad_session), which would spoil every session handed to the
        // host by a connection simply dropped from a pool. Only a failed connection's session
        // is given up (RFC 5246 §7.2.2); for the others OpenSSL is told the shutdown happened.
        if case .failed = state {} else {
            SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN)
        }
        SSL_free(ssl)
    }

    public var isHandshaking: Bool { state == .handshaking }

    // MARK: Input

    /// Offers ciphertext from the peer (possibly empty: a client starts its handshake that way,
    /// and buffered plaintext is drained that way). Decrypts into `plaintext` as far as it goes.
    /// Check `pendingOutputCount` afterwards: handshake flights, alerts and key updates queue
    /// output. On a failure the state becomes `.failed` and the error is thrown; any alert for
    /// the peer is still in the pending output.
    @discardableResult
    public func receive(_ bytes: UnsafeRawBufferPointer, into plaintext: UnsafeMutableRawBufferPointer) throws(TLSError) -> ReceiveResult {
        switch state {
        case .failed(let e): throw e
        case .closed: return ReceiveResult()
        case .handshaking, .open: break
        }
        ERR_clear_error()
        input = bytes
        inputOffset = 0
        inputWindow = bytes.count
        defer {
            input = UnsafeRawBufferPointer(start: nil, count: 0)
            inputWindow = 0
        }
        var result = ReceiveResult()
        if state == .handshaking {
            // Never read past the handshake budget.
            inputWindow = min(bytes.count, max(0, limits.maxHandshakeBytes - handshakeBytes))
            let rc = SSL_do_handshake(ssl)
            handshakeBytes += inputOffset
            if rc == 1 {
                state = .open
                facts = TLSConnectionFacts(engine: self)
                // TLS 1.2 clients get no new-session callback on a resumption, even when the
                // server renewed the ticket: take the session (with the renewed ticket) here.
                if role == .client, facts?.resumed == true, facts?.version != .tls1_3, let s = SSL_get1_session(ssl) {
                    session = TLSSession(taking: s)
                }
                result.handshakeCompleted = true
                inputWindow = bytes.count
            } else {
                let err = SSL_get_error(ssl, rc)
                if err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE {
                    if handshakeBytes >= limits.maxHandshakeBytes {
                        throw fail(TLSError(.handshakeTooLarge, "handshake larger than \(limits.maxHandshakeBytes) bytes"))
                    }
                    result.consumed = inputOffset
                    return result
                }
                throw fail(errorFor(err, "handshake"))
            }
        }
        let out = plaintext.baseAddress
        while result.plaintext < plaintext.count, let out {
            var n = 0
            let rc = SSL_read_ex(ssl, out + result.plaintext, plaintext.count - result.plaintext, &n)
            if rc == 1 {
                result.plaintext += n
                continue
            }
            let err = SSL_get_error(ssl, rc)
            if err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE { break }
            if err == SSL_ERROR_ZERO_RETURN {
                state = .closed
                result.peerClosed = true
                break
            }
            result.consumed = inputOffset
            throw fail(errorFor(err, "read"))
        }
        result.consumed = inputOffset
        return result
    }

    /// The transport reached end of file. Without a close_notify first, that is a truncation.
    public func transportClosed() -> TLSError? {
        switch state {
        case .closed: return nil
        case .failed(let e): return e
        case .handshaking, .open:
            let e = TLSError(.unexpectedEOF, state == .handshaking ? "connection closed during the handshake" : "connection closed without close_notify")
            state = .failed(e)
            return e
        }
    }

    // MARK: Output

    /// Encrypts plaintext for the peer into the pending output. Returns how much was taken:
    /// all of it unless the pending output reached `TLSLimits.maxPendingOutput` (write it out,
    /// then offer the rest).
    public func send(_ plaintext: UnsafeRawBufferPointer) throws(TLSError) -> Int {
        switch state {
        case .failed(let e): throw e
        case .handshaking: throw TLSError(.invalidState, "send before the handshake completed")
        case .closed, .open: break
        }
        guard let base = plaintext.baseAddress else { return 0 }
        ERR_clear_error()
        var taken = 0
        while taken < plaintext.count, pendingOutputCount < limits.maxPendingOutput {
            let chunk = min(plaintext.count - taken, 16_384)
            var n = 0
            let rc = SSL_write_ex(ssl, base + taken, chunk, &n)
            guard rc == 1 else { throw fail(errorFor(SSL_get_error(ssl, rc), "write")) }
            taken += n
        }
        return taken
    }

    /// Queues a close_notify (idempotent). The host writes the pending output, then closes.
    public func close() {
        if case .failed = state { return }
        ERR_clear_error()
        if SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN == 0, state != .handshaking {
            _ = SSL_shutdown(ssl)
        }
        ERR_clear_error()
    }

    public var pendingOutputCount: Int { output.count - outputHead }

    /// The ciphertext waiting for the peer; `consumeOutput` after writing some of it.
    public func withPendingOutput<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let head = outputHead
        return try output.withUnsafeBytes { all in try body(UnsafeRawBufferPointer(rebasing: all[head...])) }
    }

    public func consumeOutput(_ count: Int) {
        precondition(count >= 0 && count <= pendingOutputCount, "consumeOutput beyond the pending output")
        outputHead += count
        if outputHead == output.count {
            output.removeAll(keepingCapacity: output.capacity <= 32 * 1024)
            outputHead = 0
        } else if outputHead >= 32 * 1024 {
            output.removeFirst(outputHead)
            outputHead = 0
        }
    }

    /// Takes all pending output (a copy; tests and simple hosts).
    public func takeOutput() -> [UInt8] {
        let out = Array(output[outputHead...])
        consumeOutput(pendingOutputCount)
        return out
    }

    // MARK: Failures

    func fail(_ error: TLSError) -> TLSError {
        state = .failed(error)
        return error
    }

    func errorFor(_ sslError: Int32, _ what: String) -> TLSError {
        var e = TLSError.drain(sslError == SSL_ERROR_SSL ? .protocolError : .internal, what, role: role)
        if let decided = callbackFailure {
            e.reason = decided.reason
            e.context = decided.context
        } else if role == .server, e.reason == .badClientCertificate || e.reason == .protocolError {
            let verify = SSL_get_verify_result(ssl)
            if verify != X509_V_OK, let text = X509_verify_cert_error_string(verify) {
                e.reason = .badClientCertificate
                e.context += ": client certificate: " + String(cString: text)
            }
        } else if role == .client, e.reason == .badServerCertificate {
            let verify = SSL_get_verify_result(ssl)
            if verify != X509_V_OK, let text = X509_verify_cert_error_string(verify) {
                // "certificate verify failed: hostname mismatch", "…: certificate has expired", …
                e.context += ": certificate verify failed: " + String(cString: text)
            }
        }
        if sslError == SSL_ERROR_SYSCALL, e.details.isEmpty { e.reason = .unexpectedEOF }
        return e
    }
}
