/// The request-head checks that run before routing, as one pure function.
///
/// It exists so the limits of §3.8 map to the right status codes (the original answered 500)
/// and are tested without sockets: over-long URI → 414, too many or too large headers → 431,
/// HTTP/1.1 without Host → 400, declared body above the limit → 413.
public enum RequestLimits {
    public struct Head: Sendable {
        public var uriBytes: Int
        /// Sum over headers of name + value + 4 (": " and CRLF), as on the wire.
        public var headerBytes: Int
        public var headerCount: Int
        public var isHTTP11OrLater: Bool
        public var hasHost: Bool
        /// nil when absent; -1 when present but unparseable or conflicting.
        public var contentLength: Int?

        public init(
            uriBytes: Int, headerBytes: Int, headerCount: Int, isHTTP11OrLater: Bool, hasHost: Bool, contentLength: Int?
        ) {
            self.uriBytes = uriBytes
            self.headerBytes = headerBytes
            self.headerCount = headerCount
            self.isHTTP11OrLater = isHTTP11OrLater
            self.hasHost = hasHost
            self.contentLength = contentLength
        }
    }

    /// The error status for `head`, or nil when it is within limits.
    public static func violation(_ head: Head, limits: ServerSnapshot.Limits) -> Int? {
        if head.uriBytes > limits.maxURIBytes { return 414 }
        if head.headerCount > limits.maxHeaderCount || head.headerBytes > limits.maxHeaderBytes { return 431 }
        if head.isHTTP11OrLater && !head.hasHost { return 400 }
        if let length = head.contentLength {
            if length < 0 { return 400 }
            if length > limits.maxBodyBytes { return 413 }
        }
        return nil
    }

    /// Parses `Content-Length` values: all must be the same decimal number (RFC 9110 §8.6), else -1.
    public static func contentLength(_ values: [String]) -> Int? {
        guard let first = values.first else { return nil }
        var result: Int?
        for raw in values {
            for part in raw.split(separator: ",", omittingEmptySubsequences: false) {
                let trimmed = part.trimmingSpaces
                guard !trimmed.isEmpty, trimmed.utf8.count <= 18, trimmed.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
                    let n = Int(trimmed)
                else { return -1 }
                if let previous = result, previous != n { return -1 }
                result = n
            }
        }
        _ = first
        return result
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return s
    }
}
