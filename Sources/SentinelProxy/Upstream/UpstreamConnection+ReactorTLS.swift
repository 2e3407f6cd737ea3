import NIOCore
import SentinelReactor
import SentinelTLS

/// Upstream TLS on the reactor: the `TLSEngine` client of one `ReactorUpstreamLink`, used as
/// `TLSClientHandler` uses it on NIO (the engine unchanged): ciphertext from the endpoint in,
/// plaintext to the connection; the connection's writes encrypted out; the handshake inside the
/// connect deadline; sessions kept per target in the pool's cache for the next connection; the
/// handshake and its failures counted under the upstream. The engine stays with the link when
/// the connection is parked and adopted by another session.
final class ReactorTLSClient {
    let engine: TLSEngine
    let tls: UpstreamTLS
    let serverName: String
    /// Ciphertext the engine did not take yet (a partial record).
    var leftover: ByteBuffer?
    private var lastSession: TLSSession?
    /// Plaintext arrived: a TLS failure after it is no handshake failure.
    var receivedPlaintext = false

    init(tls: UpstreamTLS, key: UpstreamPool.Key, pool: UpstreamPool) throws(TLSError) {
        self.tls = tls
        serverName = tls.serverNames[key.target]
        let session = pool.sessions.session(for: key, context: tls.context, serverName: serverName)
        engine = try TLSEngine(client: tls.context, serverName: serverName, session: session)
        lastSession = session
    }

    /// Keeps a session the server issued (or renewed) for the next connection to the target.
    func keepSession(_ key: UpstreamPool.Key, pool: UpstreamPool?) {
        guard let session = engine.session, session !== lastSession else { return }
        lastSession = session
        pool?.sessions.store(session, for: key, context: tls.context, serverName: serverName)
    }
}

@available(*, unavailable)
extension ReactorTLSClient: Sendable {}

extension ReactorUpstreamLink {
    /// Starts the handshake on a connected socket (the ClientHello goes out).
    func startTLS(_ tls: UpstreamTLS) {
        guard let pool else { return }
        do {
            tlsClient = try ReactorTLSClient(tls: tls, key: key, pool: pool)
        } catch {
            tlsFailed(error)
            return
        }
        var nothing = transport.allocator.buffer(capacity: 0)
        receiveTLS(&nothing)
    }

    /// Ciphertext from the upstream: decrypted as far as it goes, plaintext to the connection.
    func receiveTLS(_ input: inout ByteBuffer) {
        guard let client = tlsClient else { return }
        var bytes = TLSEngine.joining(&client.leftover, input)
        let chunk = TLSServerHandler.plaintextChunk
        while true {
            let result: TLSEngine.ReceiveResult
            let plaintext: ByteBuffer
            do {
                (result, plaintext) = try client.engine.receive(&bytes, chunk: chunk, allocator: transport.allocator)
            } catch {
                tlsFailed(error)
                return
            }
            writeCiphertext()
            client.keepSession(key, pool: pool)
            if result.handshakeCompleted {
                pool?.tlsMetrics?.handshake(upstream: client.tls.upstream, resumed: client.engine.facts?.resumed ?? false)
                established()
                guard isUsable else { return }
            }
            if result.plaintext > 0 {
                client.receivedPlaintext = true
                connection?.received(plaintext)
                guard isUsable else { return }
            }
            if result.peerClosed {
                // close_notify: as on NIO, the connection ends (no half-closed TLS).
                client.engine.close()
                writeCiphertext()
                peerEnded()
                return
            }
            if result.plaintext == chunk { continue }
            if result.handshakeCompleted, bytes.readableBytes > 0 { continue }
            if bytes.readableBytes == 0 || result.consumed == 0 { break }
        }
        if bytes.readableBytes > 0 { client.leftover = bytes }
        connection?.readComplete()
    }

    /// Encrypts plaintext for the upstream and queues the records.
    func sendTLS(_ buffer: ByteBuffer) {
        guard let client = tlsClient else { return }
        do {
            var offset = 0
            try buffer.withUnsafeReadableBytes { bytes in
                while offset < bytes.count {
                    offset += try client.engine.send(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
                    writeCiphertext()
                }
            }
        } catch {
            tlsFailed(error as? TLSError ?? TLSError(.internal, "\(error)"))
        }
    }

    /// A TLS failure: counted, the alert written, the connection closed; during the handshake
    /// the connect fails with it.
    func tlsFailed(_ error: TLSError) {
        let handshaking = state == .connecting
        if handshaking || tlsClient?.receivedPlaintext == false {
            pool?.tlsMetrics?.failure(upstream: tlsClient?.tls.upstream ?? "", reason: error.reason)
        }
        writeCiphertext()
        if handshaking {
            failConnect(.tlsHandshake(error), closing: .afterFlush)
        } else {
            connection?.failureCause = "TLS " + error.summary
            abort(closing: .afterFlush)
        }
    }
}
