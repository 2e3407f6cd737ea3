import NIOCore
import SentinelTLS

extension TLSEngine {
    /// The ciphertext the engine has queued, consumed into one buffer from `allocator` (nil:
    /// nothing queued). Both TLS handlers write their output this way.
    func takePendingOutput(_ allocator: ByteBufferAllocator) -> ByteBuffer? {
        let count = pendingOutputCount
        guard count > 0 else { return nil }
        var out = allocator.buffer(capacity: count)
        _ = withPendingOutput { out.writeBytes($0) }
        consumeOutput(count)
        return out
    }

    /// Writes the queued ciphertext on `context` without flushing; completes `promise` with that
    /// write, or at once when nothing is queued.
    func writePendingOutput(to context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        guard let out = takePendingOutput(context.channel.allocator) else {
            promise?.succeed()
            return
        }
        context.write(NIOAny(out), promise: promise)
    }

    /// Writes and flushes the queued ciphertext, if any.
    func flushPendingOutput(to context: ChannelHandlerContext) {
        guard pendingOutputCount > 0 else { return }
        writePendingOutput(to: context, promise: nil)
        context.flush()
    }

    /// Feeds the readable bytes of `bytes` to the engine, the plaintext it yields (at most
    /// `chunk` bytes) written into a new buffer from `allocator`; moves `bytes`' reader index by
    /// what the engine consumed.
    func receive(
        _ bytes: inout ByteBuffer, chunk: Int, allocator: ByteBufferAllocator
    ) throws(TLSError) -> (result: ReceiveResult, plaintext: ByteBuffer) {
        var plaintext = allocator.buffer(capacity: chunk)
        var result = ReceiveResult()
        do {
            try bytes.withUnsafeReadableBytes { input in
                _ = try plaintext.writeWithUnsafeMutableBytes(minimumWritableBytes: chunk) { out in
                    result = try self.receive(input, into: UnsafeMutableRawBufferPointer(rebasing: out.prefix(chunk)))
                    return result.plaintext
                }
            }
        } catch {
            throw error as? TLSError ?? TLSError(.internal, "\(error)")
        }
        bytes.moveReaderIndex(forwardBy: result.consumed)
        return (result, plaintext)
    }

    /// Encrypts the readable bytes of `buffer` and writes the records on `context` (the last
    /// write completes `promise`); a buffer larger than the engine takes at once is written in
    /// pieces as it goes. On an error nothing completes `promise`: the caller fails it.
    func sendAndWrite(_ buffer: ByteBuffer, to context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) throws(TLSError) {
        do {
            var offset = 0
            try buffer.withUnsafeReadableBytes { bytes in
                while offset < bytes.count {
                    offset += try send(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
                    if offset < bytes.count { writePendingOutput(to: context, promise: nil) }
                }
            }
        } catch {
            throw error as? TLSError ?? TLSError(.internal, "\(error)")
        }
        writePendingOutput(to: context, promise: promise)
    }

    /// The peer sent close_notify: answers with ours and closes the channel (half-closed TLS
    /// connections are kept by neither handler).
    func answerPeerClose(on context: ChannelHandlerContext) {
        close()
        flushPendingOutput(to: context)
        context.close(promise: nil)
    }

    /// `bytes` behind what an earlier read left unconsumed (`leftover`, emptied).
    static func joining(_ leftover: inout ByteBuffer?, _ bytes: ByteBuffer) -> ByteBuffer {
        guard var rest = leftover else { return bytes }
        leftover = nil
        var bytes = bytes
        rest.writeBuffer(&bytes)
        return rest
    }
}

/// The inbound step both TLS handlers share once a receive's handshake part is done: pass the
/// plaintext on, answer the peer's close_notify.
protocol TLSChannelEnd: AnyObject {
    var engine: TLSEngine { get }
    var closing: Bool { get set }
}

extension TLSChannelEnd {
    /// Fires `plaintext` up the pipeline (when the receive yielded any) and answers a
    /// close_notify by closing. False: the connection is closing now (feed no more records).
    func pass(_ result: TLSEngine.ReceiveResult, _ plaintext: ByteBuffer, context: ChannelHandlerContext) -> Bool {
        if result.plaintext > 0 {
            context.fireChannelRead(NIOAny(plaintext))
            // The handler above may have closed the connection in between.
            if closing { return false }
        }
        guard result.peerClosed else { return true }
        // close_notify: answer with ours and close, as a plain connection's end of file closes
        // it (half-closed TLS connections are kept on neither side).
        closing = true
        engine.answerPeerClose(on: context)
        return false
    }
}
