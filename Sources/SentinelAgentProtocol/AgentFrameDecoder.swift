/// Incremental frame decoder: feed bytes as they arrive, take whole frames out.
///
/// It never reserves memory for a declared length: the buffer holds only bytes actually
/// received, so a hostile length costs nothing until its bytes arrive, and the length and type
/// checks happen as soon as the first five bytes are in. After an error the decoder stays
/// failed (a framing error ends the connection). Memory: at most one frame (16 MiB + 5) plus
/// the last `feed` when the caller drains frames after each feed.
public struct AgentFrameDecoder: Sendable {
    private var buffer: [UInt8] = []
    private var start = 0
    private var failure: AgentFrameError?
    /// The largest frame length accepted (`AgentFrame.maxLength` unless made smaller).
    public let maxLength: UInt32

    public init(maxLength: UInt32 = AgentFrame.maxLength) {
        self.maxLength = min(maxLength, AgentFrame.maxLength)
    }

    /// The buffer's allocated size (tests check that hostile lengths reserve nothing).
    var storageCapacity: Int { buffer.capacity }

    /// Bytes received and not yet returned as frames.
    public var bufferedCount: Int { buffer.count - start }

    /// Appends received bytes.
    public mutating func feed(_ bytes: some Sequence<UInt8>) {
        guard failure == nil else { return }
        compactIfUseful()
        buffer.append(contentsOf: bytes)
    }

    /// Appends received bytes from raw memory.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        guard failure == nil else { return }
        compactIfUseful()
        buffer.append(contentsOf: bytes)
    }

    /// The next whole frame, nil when more bytes are needed; throws on bad framing (and keeps
    /// throwing the same error afterwards).
    public mutating func next() throws(AgentFrameError) -> AgentFrame? {
        if let failure { throw failure }
        let available = buffer.count - start
        guard available >= 4 else { return nil }
        let length = UInt32(buffer[start]) << 24 | UInt32(buffer[start + 1]) << 16
            | UInt32(buffer[start + 2]) << 8 | UInt32(buffer[start + 3])
        if length == 0 { return try fail(.zeroLength) }
        if length > maxLength { return try fail(.tooLarge(length)) }
        guard available >= 5 else { return nil }
        guard let type = AgentMessageType(rawValue: buffer[start + 4]) else { return try fail(.unknownType(buffer[start + 4])) }
        let total = 4 + Int(length)
        guard available >= total else { return nil }
        let payload = Array(buffer[(start + 5)..<(start + total)])
        start += total
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 64 * 1024)
            start = 0
        }
        return AgentFrame(type: type, payload: payload)
    }

    /// Call at end of stream: throws `truncated` when a frame was cut off.
    public func finish() throws(AgentFrameError) {
        if let failure { throw failure }
        if buffer.count > start { throw .truncated(buffered: buffer.count - start) }
    }

    private mutating func fail(_ error: AgentFrameError) throws(AgentFrameError) -> AgentFrame? {
        failure = error
        buffer = []
        start = 0
        throw error
    }

    private mutating func compactIfUseful() {
        if start > 0, start >= buffer.count / 2 {
            buffer.removeSubrange(0..<start)
            start = 0
        }
    }
}
