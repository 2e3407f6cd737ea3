/// Whether one response is compressed: a pure decision on the facts of the request and the
/// response head, so every rule is testable without a socket.
///
/// A response is compressed only when all hold: the client accepts one of the filter's codings
/// (q > 0; no `Accept-Encoding` means no compression); the request is not HEAD; the status has
/// a body and is not 206 (a range of the identity body must stay a range of it); the response
/// has no `Content-Encoding` other than identity (never encode twice) and no `Content-Range`;
/// `Cache-Control` does not say `no-transform` (RFC 9110 §7.7); its media type is in the list;
/// and its length, when known, is at least the minimum.
public struct CompressionDecision: Sendable {
    /// What the filter is configured with.
    public struct Rule: Sendable, Equatable {
        /// Codings in preference order (ties in the client's q-values go to the earlier).
        public var codings: [ContentCoding]
        /// Responses whose known length is below this are sent as they are.
        public var minSize: UInt64
        /// zlib level 1...9.
        public var level: Int
        /// Media types (lower case, `type/subtype`; `type/*` matches a whole type).
        public var contentTypes: [String]

        public init(codings: [ContentCoding], minSize: UInt64, level: Int, contentTypes: [String]) {
            self.codings = codings
            self.minSize = minSize
            self.level = min(max(level, 1), 9)
            self.contentTypes = contentTypes.map { $0.lowercased() }
        }
    }

    /// The response facts the decision reads.
    public struct Response: Sendable, Equatable {
        public var status: Int
        /// A `Content-Encoding` other than `identity` is present.
        public var encoded = false
        /// A `Content-Range` is present.
        public var hasContentRange = false
        /// `Cache-Control` has `no-transform`.
        public var noTransform = false
        /// The media type (lower case, parameters removed); nil: no `Content-Type`.
        public var mediaType: String?
        /// The body's length when the head states it.
        public var contentLength: UInt64?

        public init(status: Int, mediaType: String?, contentLength: UInt64? = nil) {
            self.status = status
            self.mediaType = mediaType
            self.contentLength = contentLength
        }
    }

    /// Why a response was not compressed (a metric label: bounded).
    public enum Skip: String, Sendable, Equatable {
        case notAccepted = "not_accepted"
        case head
        case status
        case alreadyEncoded = "already_encoded"
        case range
        case noTransform = "no_transform"
        case contentType = "content_type"
        case tooSmall = "too_small"
    }

    public enum Outcome: Sendable, Equatable {
        case compress(ContentCoding)
        case skip(Skip)
    }

    public static func decide(rule: Rule, accepted: ContentCoding?, isHead: Bool, response r: Response) -> Outcome {
        guard let coding = accepted else { return .skip(.notAccepted) }
        if isHead { return .skip(.head) }
        if r.status < 200 || r.status == 204 || r.status == 304 { return .skip(.status) }
        if r.status == 206 || r.hasContentRange { return .skip(.range) }
        if r.encoded { return .skip(.alreadyEncoded) }
        if r.noTransform { return .skip(.noTransform) }
        guard let type = r.mediaType, matches(type, rule.contentTypes) else { return .skip(.contentType) }
        if let n = r.contentLength, n == 0 || n < rule.minSize { return .skip(.tooSmall) }
        return .compress(coding)
    }

    static func matches(_ type: String, _ list: [String]) -> Bool {
        for t in list {
            if t == type { return true }
            if t.hasSuffix("/*"), type.hasPrefix(t.dropLast()) { return true }
        }
        return false
    }
}
