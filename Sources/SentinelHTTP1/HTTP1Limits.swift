/// Size bounds applied while parsing HTTP/1.1 heads and chunked bodies.
///
/// Every buffer an attacker can grow has a bound here, so a slow or malicious peer can make
/// the proxy hold at most a few kilobytes per connection before it is answered with an error
/// (slowloris-style memory exhaustion, header-count CPU exhaustion, chunk-extension floods).
/// Defaults follow the `limits` block of the configuration (spec §3.8).
public struct HTTP1Limits: Hashable, Sendable {
    /// Bytes of the header section, from the first field line through the final CRLF. Over it: 431.
    public var maxHeaderBytes: Int
    /// Number of field lines. Over it: 431.
    public var maxHeaderCount: Int
    /// Bytes of one field name. Over it: 431. At most 65,535.
    public var maxHeaderNameBytes: Int
    /// Bytes of one field value after trimming. Over it: 431.
    public var maxHeaderValueBytes: Int
    /// Bytes of the request target. Over it: 414.
    public var maxURIBytes: Int
    /// Total bytes of chunk extensions over a whole chunked body (CVE-2024-22019-style floods).
    public var maxChunkExtensionBytes: Int

    public init(
        maxHeaderBytes: Int = 8192,
        maxHeaderCount: Int = 100,
        maxHeaderNameBytes: Int = 256,
        maxHeaderValueBytes: Int = 4096,
        maxURIBytes: Int = 8192,
        maxChunkExtensionBytes: Int = 4096
    ) {
        precondition(maxHeaderBytes > 0 && maxHeaderBytes <= 1 << 30, "maxHeaderBytes out of range")
        precondition(maxHeaderCount > 0, "maxHeaderCount must be positive")
        precondition(maxHeaderNameBytes > 0 && maxHeaderNameBytes <= Int(UInt16.max), "maxHeaderNameBytes out of range")
        precondition(maxHeaderValueBytes > 0, "maxHeaderValueBytes must be positive")
        precondition(maxURIBytes > 0 && maxURIBytes <= 1 << 30, "maxURIBytes out of range")
        precondition(maxChunkExtensionBytes >= 0, "maxChunkExtensionBytes must not be negative")
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
        self.maxHeaderNameBytes = maxHeaderNameBytes
        self.maxHeaderValueBytes = maxHeaderValueBytes
        self.maxURIBytes = maxURIBytes
        self.maxChunkExtensionBytes = maxChunkExtensionBytes
    }

    /// Longest method token accepted; registered methods are at most 17 bytes.
    static let maxMethodBytes = 32

    /// Longest request line the scanner waits for before answering 414:
    /// method, SP, target, SP, `HTTP/1.1`.
    var maxRequestLineBytes: Int { Self.maxMethodBytes + 1 + maxURIBytes + 1 + 8 }
}
