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
    public var rules: [WAFRule]
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
        self.paranoia = paranoia
        self.threshold = threshold
        self.detectOnly = detectOnly
        self.exclusions = exclusions
    }

    /// Runs the rules in order over one phase of a request. In blocking mode evaluation stops
    /// once the threshold is reached (the answer cannot change); detect-only runs every rule.
    public func evaluate(_ request: WAFRequest, phase: WAFPhase, body: [UInt8] = [],
                         carry: inout WAFCarry) -> WAFVerdict {
        let path = request.path
        var matches: [WAFMatch] = []
        for rule in rules {
            if !detectOnly && carry.score >= threshold { break }
            guard rule.paranoia <= paranoia, !carry.matched.contains(rule.id) else { continue }
            if exclusions.contains(where: { $0.excludes(rule, path: path) }) { continue }
            for target in rule.targets where target.isBody == (phase == .body) {
                if let hit = firstHit(rule, target, request, body) {
                    matches.append(WAFMatch(ruleID: rule.id, description: rule.description, tags: rule.tags,
                                            score: rule.score, target: hit))
                    carry.score += rule.score
                    carry.matched.insert(rule.id)
                    break
                }
            }
        }
        let over = carry.score >= threshold
        return WAFVerdict(matches: matches, score: carry.score, overThreshold: over, block: over && !detectOnly)
    }

    private func firstHit(_ rule: WAFRule, _ target: WAFTarget, _ request: WAFRequest, _ body: [UInt8]) -> String? {
        func test(_ raw: [UInt8]) -> Bool {
            var value = raw
            for t in rule.transforms { value = t.apply(value) }
            return rule.op.test(value)
        }
        switch target {
        case .method: return test(Array(request.method.utf8)) ? target.description : nil
        case .path: return test(Array(request.path.utf8)) ? target.description : nil
        case .query: return test(Array(request.query.utf8)) ? target.description : nil
        case .body: return test(body) ? target.description : nil
        case .header(let name):
            for h in request.headers where h.name == name {
                if test(Array(h.value.utf8)) { return target.description }
            }
            return nil
        case .headers:
            for h in request.headers where test(Array(h.value.utf8)) { return "header:\(h.name)" }
            return nil
        case .headerNames:
            for h in request.headers where test(Array(h.name.utf8)) { return "header-names" }
            return nil
        }
    }

    /// Whether any enabled rule looks at the body (an agent then asks for the body).
    public var inspectsBody: Bool {
        rules.contains { $0.paranoia <= paranoia && $0.targets.contains(.body) }
    }
}
