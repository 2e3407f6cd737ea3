/// What the WAF sees of a request. Header names are lower-case (as agents receive them).
public struct WAFRequest: Sendable {
    public var method: String
    /// Path and query, as received (`/a/b?x=1`).
    public var uri: String
    public var headers: [(name: String, value: String)]

    public init(method: String, uri: String, headers: [(name: String, value: String)]) {
        self.method = method
        self.uri = uri
        self.headers = headers
    }

    public var path: Substring {
        if let q = uri.firstIndex(of: "?") { return uri[..<q] }
        return uri[...]
    }

    public var query: Substring {
        if let q = uri.firstIndex(of: "?") { return uri[uri.index(after: q)...] }
        return ""
    }
}

/// Which part of a request a pass looks at: the head (everything but the body) or the body.
public enum WAFPhase: Sendable {
    case head
    case body
}

/// One rule that matched.
public struct WAFMatch: Sendable, Equatable {
    public var ruleID: String
    public var description: String
    public var tags: [String]
    public var score: Int
    /// Where it matched (`query`, `header:user-agent`, …).
    public var target: String
}

/// The result of a pass, with the score carried over from earlier passes of the same request.
public struct WAFVerdict: Sendable, Equatable {
    public var matches: [WAFMatch]
    /// The request's anomaly score so far (earlier phases included).
    public var score: Int
    /// The score reached the threshold.
    public var overThreshold: Bool
    /// The request must be refused (over the threshold and not detect-only).
    public var block: Bool

    public init(matches: [WAFMatch], score: Int, overThreshold: Bool, block: Bool) {
        self.matches = matches
        self.score = score
        self.overThreshold = overThreshold
        self.block = block
    }

    public var ruleIDs: [String] { matches.map(\.ruleID) }
    /// Every matched rule's tags, each once, in match order.
    public var tags: [String] {
        var seen = Set<String>()
        return matches.flatMap(\.tags).filter { seen.insert($0).inserted }
    }
}

/// What one request's earlier passes leave for its later ones: the score and the rules that
/// already matched (a rule scores at most once per request).
public struct WAFCarry: Sendable, Equatable {
    public var score: Int = 0
    public var matched: Set<String> = []
    public init() {}
}

/// A rule set with its scoring policy. Immutable once built; `evaluate` is pure.
public struct WAFPolicy: Sendable {
    /// The rules, in evaluation order (fixed at init: the value slots below are derived from them).
    public let rules: [WAFRule]
    /// For each rule, for each of its targets: the index of its (target, transforms) pair among
    /// the policy's distinct pairs, so one pass normalises each pair once (an array lookup, no
    /// hashing per rule).
    let slots: [[Int]]
    let slotCount: Int
    /// Rules above this level are skipped (1-4).
    public var paranoia: Int
    /// Requests whose score reaches this are refused.
    public var threshold: Int
    /// Report what would be refused, refuse nothing.
    public var detectOnly: Bool
    public var exclusions: [WAFExclusion]

    public init(rules: [WAFRule], paranoia: Int = 1, threshold: Int = 5, detectOnly: Bool = false,
                exclusions: [WAFExclusion] = []) {
        self.rules = rules
        var index: [ValueKey: Int] = [:]
        slots = rules.map { rule in
            rule.targets.map { target in
                let key = ValueKey(target: target, transforms: rule.transforms)
                if let i = index[key] { return i }
                index[key] = index.count
                return index.count - 1
            }
        }
        slotCount = index.count
        self.paranoia = paranoia
        self.threshold = threshold
        self.detectOnly = detectOnly
        self.exclusions = exclusions
    }

    /// Runs the rules in order over one phase of a request. In blocking mode evaluation stops
    /// once the threshold is reached (the answer cannot change); detect-only runs every rule.
    /// Each target is normalised once per distinct transform list (rules share a few lists), not
    /// once per rule.
    public func evaluate(_ request: WAFRequest, phase: WAFPhase, body: [UInt8] = [],
                         carry: inout WAFCarry) -> WAFVerdict {
        let path = request.path
        var matches: [WAFMatch] = []
        var cache = [[(label: String, bytes: [UInt8])]?](repeating: nil, count: slotCount)
        for (r, rule) in rules.enumerated() {
            if !detectOnly && carry.score >= threshold { break }
            guard rule.paranoia <= paranoia, carry.matched.isEmpty || !carry.matched.contains(rule.id) else { continue }
            if exclusions.contains(where: { $0.excludes(rule, path: path) }) { continue }
            targets: for (t, target) in rule.targets.enumerated() where target.isBody == (phase == .body) {
                let slot = slots[r][t]
                let values: [(label: String, bytes: [UInt8])]
                if let cached = cache[slot] {
                    values = cached
                } else {
                    values = Self.values(of: target, request, body).map { v in
                        (v.label, rule.transforms.reduce(v.bytes) { $1.apply($0) })
                    }
                    cache[slot] = values
                }
                for v in values where rule.op.test(v.bytes) {
                    matches.append(WAFMatch(ruleID: rule.id, description: rule.description, tags: rule.tags,
                                            score: rule.score, target: v.label))
                    carry.score += rule.score
                    carry.matched.insert(rule.id)
                    break targets
                }
            }
        }
        let over = carry.score >= threshold
        return WAFVerdict(matches: matches, score: carry.score, overThreshold: over, block: over && !detectOnly)
    }

    struct ValueKey: Hashable {
        var target: WAFTarget
        var transforms: [WAFTransform]
    }

    /// The raw values a target names, each with the label a match reports.
    static func values(of target: WAFTarget, _ request: WAFRequest, _ body: [UInt8]) -> [(label: String, bytes: [UInt8])] {
        switch target {
        case .method: return [(target.description, Array(request.method.utf8))]
        case .path: return [(target.description, Array(request.path.utf8))]
        case .query: return [(target.description, Array(request.query.utf8))]
        case .body: return [(target.description, body)]
        case .header(let name):
            return request.headers.filter { $0.name == name }.map { (target.description, Array($0.value.utf8)) }
        case .headers:
            return request.headers.map { ("header:\($0.name)", Array($0.value.utf8)) }
        case .headerNames:
            return request.headers.map { ("header-names", Array($0.name.utf8)) }
        }
    }

    /// Whether any enabled rule looks at the body (an agent then asks for the body).
    public var inspectsBody: Bool {
        rules.contains { $0.paranoia <= paranoia && $0.targets.contains(.body) }
    }
}
