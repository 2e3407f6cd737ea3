import NIOCore
import SentinelReactor
import Testing

@testable import SentinelProxy

/// `ReactorBytes`: how the exchange's `ByteBuffer`s reach the reactor without a copy, and how
/// the size of the next read adapts (`ReadSize`).
@Suite struct ReactorBytesTests {
    private func emitted(_ buffers: [ByteBuffer], pool: BufferPool) -> [IOBuffer] {
        var out: [IOBuffer] = []
        var tail: IOBuffer?
        for b in buffers { ReactorBytes.handOver(b, pool: pool, tail: &tail) { out.append($0) } }
        if let tail { out.append(tail) }
        return out
    }

    @Test func smallBuffersShareOnePooledBuffer() {
        let pool = BufferPool(bufferSize: 16 * 1024, maxPooled: 4)
        let out = emitted([ByteBuffer(string: "HTTP/1.1 200 OK\r\n\r\n"), ByteBuffer(string: "hello")], pool: pool)
        #expect(out.count == 1)
        #expect(!out[0].isBorrowed)
        #expect(String(decoding: out[0].readable, as: UTF8.self) == "HTTP/1.1 200 OK\r\n\r\nhello")
    }

    @Test func largeBuffersAreBorrowedInOrder() {
        let pool = BufferPool(bufferSize: 16 * 1024, maxPooled: 4)
        let body = ByteBuffer(bytes: Array(repeating: UInt8(ascii: "b"), count: 40_000))
        let out = emitted([ByteBuffer(string: "head"), body, ByteBuffer(string: "tail")], pool: pool)
        #expect(out.map(\.isBorrowed) == [false, true, false])
        #expect(out.map(\.readableBytes) == [4, 40_000, 4])
        body.withUnsafeReadableBytes { #expect($0.baseAddress == out[1].readable.baseAddress, "the body was copied") }
    }

    /// A small buffer that does not fit the pooled buffer's rest continues in a second one.
    @Test func smallBuffersSpillIntoANextPooledBuffer() {
        let pool = BufferPool(bufferSize: 1024, maxPooled: 4)
        let a = ByteBuffer(bytes: Array(repeating: 1, count: 1000))
        let b = ByteBuffer(bytes: Array(repeating: 2, count: 1000))
        let out = emitted([a, b], pool: pool)
        #expect(out.map(\.readableBytes) == [1024, 976])
        #expect(out.flatMap(\.bytes) == Array(repeating: 1, count: 1000) + Array(repeating: 2, count: 1000))
    }

    /// Ownership: the borrowed bytes stay as they were handed over even when the exchange writes
    /// into its buffer afterwards (copy-on-write), and stay valid after it dropped the buffer.
    @Test func borrowedBytesSurviveTheirBuffersNextWriter() {
        var body = ByteBuffer(bytes: Array(repeating: UInt8(ascii: "a"), count: 4096))
        body.reserveCapacity(8192)
        let borrowed = ReactorBytes.borrow(body)
        body.setBytes(Array(repeating: UInt8(ascii: "z"), count: 4096), at: body.readerIndex)
        body.writeString("more")
        #expect(borrowed.bytes == Array(repeating: UInt8(ascii: "a"), count: 4096))
        body = ByteBuffer()
        #expect(borrowed.bytes == Array(repeating: UInt8(ascii: "a"), count: 4096))
        #expect(borrowed.writableBytes == 0)
    }

    @Test func readsIntoAByteBuffer() {
        var size = ReadSize()
        var read = SocketRead(scripted: Array("abc".utf8))
        let bytes = ReactorBytes.read(&read, size: &size, allocator: ByteBufferAllocator())
        #expect(bytes.map { String(buffer: $0) } == "abc")
        var end = SocketRead(scripted: [])
        #expect(ReactorBytes.read(&end, size: &size, allocator: ByteBufferAllocator()) == nil)
    }

    @Test func theReadSizeGrowsOnFullReadsAndShrinksAfterTwoSmallOnes() {
        var size = ReadSize()
        #expect(size.next == ReadSize.minimum)
        size.record(2048, offered: 2048)
        #expect(size.next == 4096)
        for _ in 0..<10 { size.record(size.next, offered: size.next) }
        #expect(size.next == ReadSize.maximum)
        // A 64 KiB response read as 64 KiB then its last few hundred bytes: stays.
        size.record(300, offered: ReadSize.maximum)
        size.record(ReadSize.maximum, offered: ReadSize.maximum)
        size.record(300, offered: ReadSize.maximum)
        #expect(size.next == ReadSize.maximum)
        // Small requests in a row: down to the minimum.
        for _ in 0..<20 { size.record(100, offered: size.next) }
        #expect(size.next == ReadSize.minimum)
    }
}
