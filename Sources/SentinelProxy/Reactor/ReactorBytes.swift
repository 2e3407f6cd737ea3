import NIOCore
import SentinelReactor

/// How bytes cross between the reactor's `IOBuffer`s and the exchange's `ByteBuffer`s without
/// copying them (issue 13, rx-perf):
/// - **In**: the HTTP/1 driver and the upstream links read each readable socket straight into
///   a `ByteBuffer` (`ConnectionDriver.receive`), sized by `ReadSize`; the exchange gets that
///   buffer as it is.
/// - **Out**: a `ByteBuffer` of at least `borrowThreshold` bytes is handed to the reactor as a
///   borrowed `IOBuffer` over its storage (the buffer's storage is retained until the bytes are
///   in the kernel; a later writer to that storage copies it first, as ByteBuffer is
///   copy-on-write). Smaller ones (heads, short bodies) are copied into one pooled buffer
///   together: a copy of a few hundred bytes costs less than the borrowed buffer's allocation,
///   and a head with a short body leaves in one iovec.
enum ReactorBytes {
    /// From this size on a `ByteBuffer` is borrowed rather than copied.
    static let borrowThreshold = 2048

    /// Hands `buffer`'s readable bytes to `emit` in order: small ones copied into `tail` (a
    /// pooled buffer still being filled, emitted when full or before a borrowed one; the caller
    /// emits what is left in it at the end), large ones borrowed.
    static func handOver(_ buffer: ByteBuffer, pool: BufferPool, tail: inout IOBuffer?, emit: (IOBuffer) -> Void) {
        let count = buffer.readableBytes
        guard count > 0 else { return }
        if count >= borrowThreshold {
            if let t = tail {
                tail = nil
                emit(t)
            }
            emit(borrow(buffer))
            return
        }
        buffer.withUnsafeReadableBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let target: IOBuffer
                if let t = tail, t.writableBytes > 0 {
                    target = t
                } else {
                    if let full = tail { emit(full) }
                    target = pool.take()
                    tail = target
                }
                offset += target.append(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
            }
        }
    }

    /// An `IOBuffer` over `buffer`'s readable bytes that keeps its storage alive (no copy).
    static func borrow(_ buffer: ByteBuffer) -> IOBuffer {
        buffer.withUnsafeReadableBytesWithStorageManagement { bytes, storage in
            IOBuffer(borrowing: bytes, owner: storage.takeUnretainedValue())
        }
    }

    /// Reads once from `read` into a new `ByteBuffer` of about `size.next` bytes and records the
    /// outcome in `size`. Nil at end of file or on an error (the reactor reports those).
    static func read(_ read: inout SocketRead, size: inout ReadSize, allocator: ByteBufferAllocator) -> ByteBuffer? {
        var bytes = allocator.buffer(capacity: size.next)
        let n = bytes.writeWithUnsafeMutableBytes(minimumWritableBytes: 0) { max(0, read.read(into: $0)) }
        guard n > 0 else { return nil }
        size.record(n, offered: read.offered)
        return bytes
    }
}

/// The size of the next read of one socket, adapted to what its reads bring: doubled (up to
/// `maximum`) after a read that filled its buffer, halved (down to `minimum`) after two reads in
/// a row that used less than a quarter of it. A keep-alive connection carrying 64 KiB
/// responses settles at 64 KiB reads (one or two per response, not four 16 KiB ones); one
/// carrying small requests settles at the minimum (an idle connection holds no read buffer at
/// all: the buffer is the request's).
struct ReadSize {
    static let minimum = 2048
    static let maximum = 64 * 1024

    private(set) var next: Int
    private var smallReads = 0

    init(initial: Int = ReadSize.minimum) {
        next = min(max(initial, Self.minimum), Self.maximum)
    }

    mutating func record(_ n: Int, offered: Int) {
        if n >= offered {
            next = min(max(next, offered) * 2, Self.maximum)
            smallReads = 0
        } else if n < offered / 4 {
            smallReads += 1
            if smallReads >= 2 {
                next = max(next / 2, Self.minimum)
                smallReads = 0
            }
        } else {
            smallReads = 0
        }
    }
}
