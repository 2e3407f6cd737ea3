internal import COpenSSL
internal import CSentinelTLS
internal import Glibc

/// The C callbacks OpenSSL calls during a handshake. Each finds its `TLSEngine` through the
/// SSL's ex data (an unretained pointer: the engine owns the SSL, so it outlives every call).
enum TLSCallbacks {
    static let engineIndex: Int32 = sentinel_tls_ssl_ex_index()

    static func engine(_ ssl: OpaquePointer?) -> TLSEngine? {
        guard let ssl, let raw = SSL_get_ex_data(ssl, engineIndex) else { return nil }
        return Unmanaged<TLSEngine>.fromOpaque(raw).takeUnretainedValue()
    }

    /// Callbacks every server context gets.
    static func installServer(_ ctx: OpaquePointer) {
        sentinel_tls_ctx_ack_server_name(ctx)
        SSL_CTX_set_client_hello_cb(ctx, { ssl, alert, _ in
            guard let engine = TLSCallbacks.engine(ssl) else { return SSL_CLIENT_HELLO_ERROR }
            return engine.clientHello(alert: alert)
        }, nil)
        SSL_CTX_set_alpn_select_cb(ctx, { ssl, out, outlen, input, inlen, _ in
            guard let engine = TLSCallbacks.engine(ssl), let out, let outlen, let input else { return SSL_TLSEXT_ERR_ALERT_FATAL }
            return engine.selectALPN(out: out, outlen: outlen, offered: UnsafeBufferPointer(start: input, count: Int(inlen)))
        }, nil)
        _ = sentinel_tls_ctx_set_status_cb(ctx) { ssl, _ in
            guard let engine = TLSCallbacks.engine(ssl) else { return SSL_TLSEXT_ERR_NOACK }
            return engine.stapleOCSP()
        }
        _ = SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx) { ssl, name, iv, cipher, mac, enc in
            guard let engine = TLSCallbacks.engine(ssl), let ring = engine.contexts?.ticketKeys,
                  let name, let iv, let cipher, let mac else { return 0 }
            return ring.ticketKeyCallback(name: name, iv: iv, cipher: cipher, mac: mac, encrypt: enc == 1)
        }
        _ = SSL_CTX_set_session_ticket_cb(ctx, { ssl, _ in
            guard let engine = TLSCallbacks.engine(ssl), let ssl, let session = SSL_get_session(ssl) else { return 0 }
            let binding = engine.ticketBinding()
            return SSL_SESSION_set1_ticket_appdata(session, binding, binding.count)
        }, { ssl, session, _, _, status, _ in
            guard let engine = TLSCallbacks.engine(ssl) else { return SSL_TICKET_RETURN_ABORT }
            return engine.decryptedTicket(session: session, status: status)
        }, nil)
    }

    /// Callbacks every client context gets.
    static func installClient(_ ctx: OpaquePointer) {
        SSL_CTX_sess_set_new_cb(ctx) { ssl, session in
            guard let engine = TLSCallbacks.engine(ssl), let session else { return 0 }
            engine.newSession(session)
            return 1  // the engine keeps the reference
        }
    }
}

/// The engine's custom BIO: OpenSSL reads ciphertext straight from the buffer the host passed
/// to `receive` and writes records into the engine's output buffer.
enum EngineBIO {
    nonisolated(unsafe) static let method: OpaquePointer = {
        let m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "sentinel-engine")!
        _ = BIO_meth_set_write_ex(m) { bio, data, len, written in
            guard let bio, let data, let engine = EngineBIO.engine(bio) else { return 0 }
            engine.output.append(contentsOf: UnsafeRawBufferPointer(start: data, count: len))
            written?.pointee = len
            return 1
        }
        _ = BIO_meth_set_read_ex(m) { bio, data, len, read in
            guard let bio, let data, let engine = EngineBIO.engine(bio) else { return 0 }
            sentinel_tls_bio_clear_retry(bio)
            let available = engine.inputWindow - engine.inputOffset
            if available <= 0 {
                read?.pointee = 0
                sentinel_tls_bio_set_retry_read(bio)
                return 0
            }
            let n = min(available, len)
            memcpy(data, engine.input.baseAddress! + engine.inputOffset, n)
            engine.inputOffset += n
            read?.pointee = n
            return 1
        }
        _ = BIO_meth_set_ctrl(m) { _, cmd, _, _ in
            switch cmd {
            case BIO_CTRL_FLUSH: 1
            default: 0
            }
        }
        _ = BIO_meth_set_create(m) { bio in
            BIO_set_init(bio, 1)
            return 1
        }
        _ = BIO_meth_set_destroy(m) { bio in
            BIO_set_data(bio, nil)
            BIO_set_init(bio, 0)
            return 1
        }
        return m
    }()

    static func engine(_ bio: OpaquePointer) -> TLSEngine? {
        guard let raw = BIO_get_data(bio) else { return nil }
        return Unmanaged<TLSEngine>.fromOpaque(raw).takeUnretainedValue()
    }
}
