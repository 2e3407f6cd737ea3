import NIOCore
import SentinelTLS

extension TLSEngine {
    /// The ciphertext the engine has queued, consumed into one buffer from `allocator` (nil:
    /// nothing queued). Both TLS handlers write their output this way.
    func takePendingOutput(_ allocator: ByteBufferAllocator) -> ByteBuffer? {
        let count = pendingOutputCount
        guard count > 0 else { return nil }
        var out = allocator.buffer(capacity: count)
        withPendingOutput { out.writeBytes($0) }
        consumeOutput(count)
        return out
    }
}
