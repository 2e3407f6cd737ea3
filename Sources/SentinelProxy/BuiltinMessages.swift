/// A request as the builtin handlers see it, independent of any HTTP codec.
///
/// It exists so handler logic is pure and tested without sockets, and so the later
/// purpose-built HTTP/1 path can reuse the handlers unchanged.
public struct BuiltinRequest: Sendable {
    public var method: String
    public var path: String
    public var query: String
    /// Header pairs in arrival order; names as sent.
    public var headers: [(name: String, value: String)]

    public init(method: String, path: String, query: String = "", headers: [(name: String, value: String)] = []) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
    }

    /// First value of a header, name compared case-insensitively.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name }?.value
    }
}

/// A complete response from a builtin handler or an error path.
public struct BuiltinResponse: Sendable, Equatable {
    public var status: Int
    /// Header pairs; `Content-Length` is added when serialising.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    public var bodyString: String { String(decoding: body, as: UTF8.self) }

    public static func == (a: Self, b: Self) -> Bool {
        a.status == b.status && a.body == b.body && a.headers.elementsEqual(b.headers) { $0 == $1 }
    }

    /// HTTP/1.1 wire bytes. Header names and values here come only from this module, never from
    /// the client unvalidated (trace ids are checked by `TraceID.isAcceptable`), so no CR/LF can leak in.
    /// `date`: the `Date` field line of the moment (`HTTPDateCache`): every response Sentinel
    /// produces itself carries one (RFC 9110 §6.6.1).
    /// `http10KeepAlive`: the client speaks HTTP/1.0 and the connection stays open, which it
    /// only knows from an explicit `Connection: keep-alive`.
    func serialized(includeBody: Bool, close: Bool, date: [UInt8], http10KeepAlive: Bool = false) -> [UInt8] {
        var text = "HTTP/1.1 \(status) \(HTTPReason.phrase(status))\r\n"
        text += String(decoding: date, as: UTF8.self)
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        text += "Content-Length: \(body.count)\r\n"
        if close {
            text += "Connection: close\r\n"
        } else if http10KeepAlive {
            text += "Connection: keep-alive\r\n"
        }
        text += "\r\n"
        var bytes = Array(text.utf8)
        if includeBody { bytes += body }
        return bytes
    }
}

enum HTTPReason {
    static func phrase(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 101: "Switching Protocols"
        case 103: "Early Hints"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 206: "Partial Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 303: "See Other"
        case 304: "Not Modified"
        case 307: "Temporary Redirect"
        case 308: "Permanent Redirect"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 411: "Length Required"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 417: "Expectation Failed"
        case 421: "Misdirected Request"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: "Unknown"
        }
    }
}
