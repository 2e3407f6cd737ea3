/// A fixed-capacity byte buffer the reactor reads into and writes from. A reference type so a
/// driver can forward the very buffer it received to another endpoint (`DriverIO.write`)
/// without copying: a relayed byte is read once and written once. The readable bytes are
/// `readerIndex..<writerIndex`; the capacity never grows, so every buffer is bounded by
/// construction.
///
/// A buffer either owns its memory (`init(capacity:)`: the pool's buffers) or *borrows*
/// read-only bytes that another object keeps alive (`init(borrowing:owner:)`: e.g. a host's
/// own buffer type handed to `DriverAction.write` without a copy). A borrowed buffer is never
/// written into, never pooled, and holds `owner` until the reactor has sent its bytes.
///
/// Confined to one reactor thread (not Sendable).
public final class IOBuffer {
    public let capacity: Int
    let base: UnsafeMutableRawPointer
    public var readerIndex = 0
    public var writerIndex = 0
    /// What keeps borrowed bytes alive (nil: the buffer owns its memory).
    public let owner: AnyObject?

    public init(capacity: Int) {
        precondition(capacity > 0, "an IOBuffer needs room")
        self.capacity = capacity
        base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        owner = nil
    }

    /// Bytes owned by `owner`, which must not change them while this buffer lives (a
    /// copy-on-write storage the caller holds a reference to qualifies: its next writer copies).
    /// The buffer is full from the start (`writableBytes` is 0) and only ever read.
    public init(borrowing bytes: UnsafeRawBufferPointer, owner: AnyObject) {
        precondition(bytes.count > 0 && bytes.baseAddress != nil, "a borrowed IOBuffer needs bytes")
        capacity = bytes.count
        base = UnsafeMutableRawPointer(mutating: bytes.baseAddress!)
        writerIndex = bytes.count
        self.owner = owner
    }

    deinit { if owner == nil { base.deallocate() } }

    public var isBorrowed: Bool { owner != nil }
    public var readableBytes: Int { writerIndex - readerIndex }
    public var writableBytes: Int { owner == nil ? capacity - writerIndex : 0 }
    public var isEmpty: Bool { readerIndex == writerIndex }

    /// Forgets the content (the pool does this before handing a buffer out again). A borrowed
    /// buffer only forgets its bytes (it never becomes writable).
    public func clear() {
        if owner != nil {
            readerIndex = writerIndex
            return
        }
        readerIndex = 0
        writerIndex = 0
    }

    /// The readable bytes.
    public var readable: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + readerIndex, count: writerIndex - readerIndex)
    }

    /// The free space after the readable bytes (fill it, then `commit`).
    public var writable: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: base + writerIndex, count: writableBytes)
    }

    /// Marks `count` bytes of `writable` as filled.
    public func commit(_ count: Int) {
        precondition(count >= 0 && count <= writableBytes, "commit beyond capacity")
        writerIndex += count
    }

    /// Marks `count` readable bytes as used.
    public func consume(_ count: Int) {
        precondition(count >= 0 && count <= readableBytes, "consume beyond readable bytes")
        readerIndex += count
        if readerIndex == writerIndex { clear() }
    }

    /// Copies as much of `bytes` as fits; returns how many were copied.
    @discardableResult
    public func append(_ bytes: UnsafeRawBufferPointer) -> Int {
        let n = min(bytes.count, writableBytes)
        if n > 0, let src = bytes.baseAddress { (base + writerIndex).copyMemory(from: src, byteCount: n) }
        writerIndex += n
        return n
    }

    @discardableResult
    public func append(_ bytes: [UInt8]) -> Int { bytes.withUnsafeBytes { append($0) } }

    @discardableResult
    public func append(_ text: String) -> Int {
        var text = text
        return text.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    /// The readable bytes as an array (tests and slow paths).
    public var bytes: [UInt8] { Array(readable) }
}

/// The reactor's free list of equally sized buffers. Bounded in both directions: it keeps at
/// most `maxPooled` idle buffers (memory returned to the allocator beyond that), and a buffer
/// is never larger than `bufferSize`. Reads take a buffer only when the socket is readable and
/// give it back when the read found nothing, so idle connections hold no buffer at all (the
/// memory per idle connection is the session objects only).
public final class BufferPool {
    public let bufferSize: Int
    public let maxPooled: Int
    private var free: [IOBuffer] = []

    public init(bufferSize: Int = 16 * 1024, maxPooled: Int = 256) {
        self.bufferSize = bufferSize
        self.maxPooled = maxPooled
        free.reserveCapacity(maxPooled)
    }

    public var pooledCount: Int { free.count }

    /// An empty buffer of `bufferSize` bytes.
    public func take() -> IOBuffer {
        if let b = free.popLast() { return b }
        return IOBuffer(capacity: bufferSize)
    }

    /// Returns a buffer nobody else holds. A buffer still referenced elsewhere (a driver kept
    /// it) is left alone: it is freed when its last holder lets go.
    public func give(_ buffer: inout IOBuffer) {
        guard buffer.capacity == bufferSize, !buffer.isBorrowed, free.count < maxPooled, isKnownUniquelyReferenced(&buffer)
        else { return }
        buffer.clear()
        free.append(buffer)
    }
}
