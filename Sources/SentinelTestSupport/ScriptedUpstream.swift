import Foundation
public import NIOCore
import NIOPosix
import Synchronization

/// A test upstream on 127.0.0.1, port 0, that records every request byte for byte and answers
/// with scripted raw bytes, so tests can check exactly what the proxy forwarded and can make the
/// upstream misbehave on purpose.
public final class ScriptedUpstream: Sendable {
    /// One request as received: the head and body bytes exactly as they arrived.
    public struct Request: Sendable {
        public var head: String
        public var body: [UInt8]
        public var connection: Int

        /// The request line, e.g. `GET /x HTTP/1.1`.
        public var requestLine: String { head.components(separatedBy: "\r\n").first ?? "" }

        /// Values of a header, by case-insensitive name.
        public func header(_ name: String) -> [String] {
            head.components(separatedBy: "\r\n").dropFirst().compactMap { line in
                guard let colon = line.firstIndex(of: ":") else { return nil }
                guard line[..<colon].lowercased() == name.lowercased() else { return nil }
                return Substring(line[line.index(after: colon)...]).trimmingCharacters()
            }
        }
    }

    /// What to do with a request.
    public enum Reply: Sendable {
        /// Write these bytes; keep the connection open.
        case bytes([UInt8])
        /// Write these bytes, then close.
        case bytesThenClose([UInt8])
        /// Close without answering.
        case close
        /// Answer nothing and keep the connection open (for timeouts).
        case hang

        /// A complete response with Content-Length.
        public static func ok(_ body: String, status: Int = 200, headers: [(String, String)] = []) -> Reply {
            var text = "HTTP/1.1 \(status) \(status == 200 ? "OK" : "Status")\r\n"
            for (n, v) in headers { text += "\(n): \(v)\r\n" }
            text += "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
            return .bytes(Array(text.utf8))
        }
    }

    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    private let state: Recorder
    public let port: Int

    /// Starts listening; `respond` picks the reply for each request. `prepare` adds handlers in
    /// front of the recorder on each accepted connection (a TLS server handler, say).
    public init(
        prepare: (@Sendable (any Channel) throws -> Void)? = nil, respond: @escaping @Sendable (Request) -> Reply
    ) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let state = Recorder()
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                let id = state.m.withLock { s -> Int in s.connections += 1; return s.connections }
                return channel.eventLoop.makeCompletedFuture {
                    try prepare?(channel)
                    try channel.pipeline.syncOperations.addHandler(
                        Handler(connection: id, respond: respond, record: { r in state.m.withLock { $0.requests.append(r) } }))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        self.group = group
        self.channel = channel
        self.state = state
        self.port = channel.localAddress!.port!
    }

    /// Requests received so far, in arrival order.
    public var requests: [Request] { state.m.withLock { $0.requests } }

    /// TCP connections accepted so far.
    public var connectionCount: Int { state.m.withLock { $0.connections } }

    public func shutdown() async {
        try? await channel.close()
        try? await group.shutdownGracefully()
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        let connection: Int
        let respond: @Sendable (Request) -> Reply
        let record: @Sendable (Request) -> Void
        var buffer: [UInt8] = []

        init(connection: Int, respond: @escaping @Sendable (Request) -> Reply, record: @escaping @Sendable (Request) -> Void) {
            self.connection = connection
            self.respond = respond
            self.record = record
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            buffer += unwrapInboundIn(data).readableBytesView
            while let request = takeRequest() {
                record(request)
                switch respond(request) {
                case .bytes(let b):
                    context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: b)), promise: nil)
                case .bytesThenClose(let b):
                    let channel = context.channel
                    context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(bytes: b))).whenComplete { _ in
                        channel.close(promise: nil)
                    }
                    return
                case .close:
                    context.close(promise: nil)
                    return
                case .hang:
                    break
                }
            }
        }

        /// One complete request from the front of the buffer (Content-Length or chunked body).
        func takeRequest() -> Request? {
            guard let end = find([13, 10, 13, 10], in: buffer, from: 0) else { return nil }
            let headBytes = Array(buffer[0..<end + 4])
            let head = String(decoding: headBytes, as: UTF8.self)
            var probe = Request(head: head, body: [], connection: connection)
            var bodyEnd = end + 4
            if probe.header("transfer-encoding").contains(where: { $0.lowercased().contains("chunked") }) {
                guard let last = find(Array("0\r\n\r\n".utf8), in: buffer, from: end + 4) else { return nil }
                bodyEnd = last + 5
            } else if let cl = probe.header("content-length").first.flatMap({ Int($0) }) {
                guard buffer.count >= end + 4 + cl else { return nil }
                bodyEnd = end + 4 + cl
            }
            probe.body = Array(buffer[(end + 4)..<bodyEnd])
            buffer.removeFirst(bodyEnd)
            return probe
        }

        func find(_ needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
            guard haystack.count >= needle.count else { return nil }
            var i = from
            while i + needle.count <= haystack.count {
                if haystack[i] == needle[0], Array(haystack[i..<i + needle.count]) == needle { return i }
                i += 1
            }
            return nil
        }
    }
}

extension Substring {
    func trimmingCharacters() -> String {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}

private final class Recorder: Sendable {
    let m = Mutex<(requests: [ScriptedUpstream.Request], connections: Int)>(([], 0))
}
