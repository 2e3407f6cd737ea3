/// Where a rule looks in the request.
public enum WAFTarget: Hashable, Sendable, CustomStringConvertible {
    /// The request method.
    case method
    /// The path (the URI before `?`).
    case path
    /// The query string (after `?`, without it); empty when there is none.
    case query
    /// Every value of one header (lower-case name).
    case header(String)
    /// Every value of every header.
    case headers
    /// Every header name.
    case headerNames
    /// The request body (only in the body phase).
    case body

    /// Targets that only the request body can satisfy are evaluated when the body arrives.
    public var isBody: Bool { self == .body }

    public var description: String {
        switch self {
        case .method: return "method"
        case .path: return "path"
        case .query: return "query"
        case .header(let name): return "header:\(name)"
        case .headers: return "headers"
        case .headerNames: return "header-names"
        case .body: return "body"
        }
    }

    /// Parses `method`, `path`, `query`, `header:<name>`, `headers`, `header-names`, `body`.
    public init(parsing text: String) throws(WAFRuleError) {
        switch text {
        case "method": self = .method
        case "path": self = .path
        case "query", "args": self = .query
        case "headers": self = .headers
        case "header-names": self = .headerNames
        case "body": self = .body
        default:
            if text.hasPrefix("header:"), text.count > "header:".count {
                self = .header(String(text.dropFirst("header:".count)).lowercased())
            } else {
                throw WAFRuleError("unknown target \"\(text)\" (method, path, query, header:<name>, headers, header-names, body)")
            }
        }
    }
}

/// How a rule tests a (transformed) value.
public enum WAFOperator: Sendable {
    /// A POSIX extended regular expression, case-insensitive, found anywhere in the value.
    case regex(WAFPattern)
    /// A byte string found anywhere in the value, ASCII case-insensitive (stored lower-case).
    case contains([UInt8])
    /// The value is longer than this many bytes.
    case lengthAbove(Int)
    /// The value is shorter than this many bytes.
    case lengthBelow(Int)

    func test(_ value: [UInt8]) -> Bool {
        switch self {
        case .regex(let pattern): return pattern.matches(value)
        case .contains(let needle): return WAFOperator.containsFolded(value, needle)
        case .lengthAbove(let n): return value.count > n
        case .lengthBelow(let n): return value.count < n
        }
    }

    /// ASCII case-insensitive substring search; `needle` is lower-case.
    static func containsFolded(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        if needle.isEmpty { return true }
        if haystack.count < needle.count { return false }
        let first = needle[0]
        var i = 0
        let last = haystack.count - needle.count
        while i <= last {
            if lower(haystack[i]) == first {
                var j = 1
                while j < needle.count, lower(haystack[i + j]) == needle[j] { j += 1 }
                if j == needle.count { return true }
            }
            i += 1
        }
        return false
    }

    @inline(__always) static func lower(_ b: UInt8) -> UInt8 {
        (b >= 0x41 && b <= 0x5A) ? b | 0x20 : b
    }
}

/// One detection rule: where to look, how to normalise, what to test, and what a hit is worth.
public struct WAFRule: Sendable {
    /// Stable id reported in the audit data (`rule_ids`) and used by exclusions.
    public var id: String
    public var description: String
    public var targets: [WAFTarget]
    public var transforms: [WAFTransform]
    public var op: WAFOperator
    /// Anomaly score a hit adds (critical 5, error 4, warning 3, notice 2 by convention).
    public var score: Int
    /// The lowest paranoia level (1-4) at which the rule runs.
    public var paranoia: Int
    /// Tags reported in the audit data (`attack-sqli`, `paranoia-level/2`, …).
    public var tags: [String]

    public init(id: String, description: String, targets: [WAFTarget], transforms: [WAFTransform] = [],
                op: WAFOperator, score: Int = 5, paranoia: Int = 1, tags: [String] = []) {
        self.id = id
        self.description = description
        self.targets = targets
        self.transforms = transforms
        self.op = op
        self.score = score
        self.paranoia = paranoia
        self.tags = tags
    }
}

/// Turns rules off: every rule whose id or one of whose tags is listed, for requests whose path
/// starts with `pathPrefix` (every request when nil).
public struct WAFExclusion: Sendable, Equatable {
    public var ruleIDs: Set<String>
    public var tags: Set<String>
    public var pathPrefix: String?

    public init(ruleIDs: Set<String> = [], tags: Set<String> = [], pathPrefix: String? = nil) {
        self.ruleIDs = ruleIDs
        self.tags = tags
        self.pathPrefix = pathPrefix
    }

    func excludes(_ rule: WAFRule, path: Substring) -> Bool {
        if let prefix = pathPrefix, !path.hasPrefix(prefix) { return false }
        return ruleIDs.contains(rule.id) || rule.tags.contains(where: tags.contains)
    }
}
