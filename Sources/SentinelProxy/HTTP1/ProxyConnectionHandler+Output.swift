import NIOCore

/// Output to the client: writes and flushes, and the reusable head buffers.
extension ProxyConnectionHandler {
    /// Larger head buffers are not kept (memory per idle connection stays small).
    static let spareHeadCapacity = 4096

    /// An empty buffer of at least `capacity` bytes, reusing `spare` when possible.
    func headBuffer(_ spare: inout ByteBuffer?, capacity: Int) -> ByteBuffer {
        guard var buffer = spare else { return host.allocator.buffer(capacity: capacity) }
        spare = nil
        buffer.clear(minimumCapacity: capacity)
        return buffer
    }

    /// Keeps `buffer` for reuse by the next head (when small enough).
    func keepHeadBuffer(_ buffer: ByteBuffer, in spare: inout ByteBuffer?) {
        spare = buffer.capacity <= Self.spareHeadCapacity ? buffer : nil
    }

    func write(_ buffer: ByteBuffer) {
        unflushed = true
        host.write(buffer)
    }

    func writeAndFlush(_ buffer: ByteBuffer) {
        unflushed = false
        host.write(buffer)
        host.flush()
    }

    func flush() {
        guard unflushed else { return }
        unflushed = false
        host.flush()
    }
}
