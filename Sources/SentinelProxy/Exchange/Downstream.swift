import NIOCore
import SentinelCompression
import SentinelHTTP1

/// The client side of a proxied exchange, as the exchange sees it: the one interface through
/// which `ProxyExchange` reads the request body, writes the response, ends, and learns about
/// the connection.
///
/// Each client protocol implements it once: HTTP/1 by its connection handler
/// (`HTTP1/ProxyConnectionHandler+Downstream.swift`), one exchange at a time per connection; an
/// HTTP/2 stream would be the next. The exchange holds its downstream as an `unowned` class
/// existential (a reference and a witness table: no box, no allocation, one indirect call per
/// use); the downstream owns the exchange, never the other way round. Not a generic parameter:
/// the exchange's upstream events arrive through `UpstreamConnectionDelegate`, and a generic
/// exchange ran its whole response path unspecialised behind that conformance (measured: about
/// 10% more CPU per 64 KiB response).
///
/// What is protocol-specific stays behind this line: how a head is encoded (HTTP/1 bytes, or
/// later HPACK), whether chunked framing passes through, whether the connection survives the
/// response (HTTP/1 keep-alive, quiesce), and how a whole error answer is serialised. Nothing
/// here mentions a channel or its pipeline, so an event loop other than NIO's can host it.
protocol Downstream: AnyObject {
    // MARK: Connection facts

    /// Who the client is and how it reached Sentinel (peer, scheme, TLS handshake facts).
    var connectionFacts: ConnectionFacts { get }

    // MARK: Request side

    /// Request bytes received and not consumed yet: the request body (still in its client
    /// framing, which the exchange's `BodyCounter` follows), or, in a tunnel, the client's bytes.
    var requestBytes: ByteBuffer { get set }

    /// The exchange can take more request bytes: read again if reading was held back.
    func resumeReading()

    // MARK: Response side

    /// The client is taking bytes (its send buffer is below the high watermark).
    var isWritable: Bool { get }

    /// Forwards an interim (1xx, not 100) response head, flushed. A downstream whose client
    /// must not get one (HTTP/1.0) drops it.
    func writeInterimHead(_ head: ResponseHead, bytes: UnsafeRawBufferPointer, edits: consuming ResponseHeadEdits)

    /// Writes the final response head, read from `bytes` (the upstream's head at its start),
    /// followed by the `inlineBody` bytes that follow the head in `bytes` (a small body sent in
    /// the head's write). Not flushed. `keepAlive`: the exchange would keep the client (the
    /// client asked for it and its request was read whole); the downstream may still decide
    /// to close. Returns how the response will be delivered.
    func writeResponseHead(
        _ head: ResponseHead, bytes: UnsafeRawBufferPointer, edits: consuming ResponseHeadEdits, keepAlive: Bool,
        inlineBody: Int
    ) -> ResponseDelivery

    /// Writes a 101 head that switches the exchange to a tunnel (`startTunnel` follows).
    func writeSwitchingHead(_ head: ResponseHead, bytes: UnsafeRawBufferPointer, edits: consuming ResponseHeadEdits)

    /// From now on the exchange relays raw bytes both ways.
    func startTunnel()

    /// Response body bytes, as `ResponseDelivery` said (chunk framing included unless stripped).
    func writeBody(_ buffer: ByteBuffer)

    /// Flushes what was written (a no-op when nothing is pending).
    func flush()

    /// Writes (and flushes) a whole answer Sentinel produced itself, e.g. an error before any
    /// response byte went out.
    func writeAnswer(_ response: BuiltinResponse, isHead: Bool, keepAlive: Bool)

    /// The exchange is over: go on with the next request (`keepAlive`) or close after the
    /// written bytes. `now`: a clock reading of the caller, when it has one.
    func finish(keepAlive: Bool, now: UInt64?)

    /// Aborts the client side at once (HTTP/1: closes the connection; the client sees a
    /// truncated response).
    func reset()

    // MARK: Deadlines

    /// Sets `exchange`'s deadline (absolute monotonic ns); the downstream calls the exchange's
    /// `timerFired()` once it has passed.
    func setExchangeDeadline(_ deadline: UInt64, of exchange: ProxyExchange, now: UInt64)

    /// Clears `exchange`'s deadline (ignored when `exchange` is no longer the current one: a
    /// finished exchange must not clear the deadline of the one that followed it).
    func clearExchangeDeadline(of exchange: ProxyExchange)

    // MARK: Accounting

    /// Ends the request for the metrics and the access log, once. `log` is evaluated only when
    /// an access-log line is written.
    func requestEnded(
        route: String?, method: String, status: Int, seconds: Double, target: TargetSample?, log: () -> ExchangeLogFields)

    // MARK: Upstream side

    /// Where this client's exchanges keep their upstream connections: on Sentinel's reactor,
    /// the connection's session (`ReactorUpstreamSite`); nil on NIO (the default).
    var upstreamSite: (any UpstreamSite)? { get }
}

extension Downstream {
    var upstreamSite: (any UpstreamSite)? { nil }
}

/// Facts about the client connection an exchange runs on.
struct ConnectionFacts {
    /// The peer's address as text ("unknown" when the transport has none).
    var peer: String
    /// The peer's address bytes (4 or 16), when known.
    var peerBytes: [UInt8]?
    var peerIsIPv6: Bool
    /// "http" or "https".
    var scheme: String
    /// The TLS handshake (SNI, ALPN, client certificate, and the header variables drawn from
    /// them); nil on plain HTTP.
    var tls: ConnectionTLS?
}

/// How a final response travels to the client, as the downstream decided.
struct ResponseDelivery: Equatable {
    /// The client connection closes after this response.
    var closesConnection: Bool
    /// Body bytes go out without the upstream's chunk framing (the exchange writes only the
    /// chunks' data).
    var stripsChunking: Bool
}

/// The protocol-neutral edits of a forwarded response head: what Sentinel adds or changes
/// whatever the client protocol (each downstream applies them in its own encoding).
struct ResponseHeadEdits {
    var traceID: String
    /// The route's `response-headers` policy.
    var policy = HeaderEdits()
    /// A sticky-session cookie to set.
    var setCookie: String? = nil
    /// Fields Sentinel adds (fallback reporting).
    var extra: [(String, String)] = []
    /// The pseudonym of Sentinel's `Via` element; nil: none added.
    var via: [UInt8]? = nil
    /// Supplies `Date` when the upstream sent none (RFC 9110 §6.6.1); nil: not added.
    var date: HTTPDateCache? = nil
    /// The body goes out compressed with this coding (a `compress` filter): the head drops
    /// `Content-Length` and `Accept-Ranges`, weakens `ETag`, and gains `Content-Encoding` and
    /// `Vary: Accept-Encoding` (`Filters/CompressionExchange.swift`).
    var contentCoding: ContentCoding? = nil
}

/// What the access log records of a proxied exchange, beyond what the downstream knows.
struct ExchangeLogFields {
    var bodyBytes: Int
    var traceID: String
    var upstream: UpstreamLogFields?
    var error: ProxyError?
}

/// The upstream side of an access-log record.
struct UpstreamLogFields {
    var id: String
    var address: String?
    var attempts: Int
    var reused: Bool?
}

/// Settings an exchange takes from its listener and snapshot, computed once per snapshot by
/// the downstream that creates exchanges.
struct ExchangeSettings {
    /// Bounds of the upstream's response head and chunk framing.
    var responseLimits: HTTP1Limits
    /// The pseudonym of Sentinel's `Via` element on responses (nil: none).
    var via: [UInt8]?
    /// The minimum request body rate: nanoseconds per body byte (0: no minimum), after the grace.
    var bodyNanosPerByte: UInt64 = 0
    var bodyGraceNanos: UInt64 = 0
    /// How long a client may stop reading a response before the exchange gives up on it.
    var clientStallTimeout: Duration = .seconds(60)
}

extension ByteBuffer {
    /// An empty buffer without storage of its own, shared (never written to): what a consumed
    /// receive buffer is replaced with, so its storage can be reused without a fresh allocation.
    static let sharedEmpty = ByteBufferAllocator().buffer(capacity: 0)
}
