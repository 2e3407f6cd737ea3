/// The WAF agent's settings, as JSON (the agent's `config { }` block delivered by Configure, or a
/// file given with `--config`). Keys are the KDL spellings; an unknown key is an error.
///
/// ```kdl
/// config {
///     paranoia-level 2
///     anomaly-threshold 5
///     detect-only #false
///     disabled-rules "100104"
///     exclusion rule-ids="100108" path-prefix="/search"
///     rule id="900001" targets="header:x-debug" operator="contains" value="1" score=5
/// }
/// ```
public struct WAFSettings: Sendable, Decodable {
    public var paranoiaLevel = 1
    public var anomalyThreshold = 5
    public var detectOnly = false
    public var blockStatus = 403
    public var starterRules = true
    public var disabledRules: [String] = []
    public var exclusions: [WAFExclusion] = []
    public var customRules: [WAFRuleSpec] = []
    /// A JSON file of further rules (`{"rule": [ … ]}`), read by the agent.
    public var rulesFile: String?
    /// Bodies are inspected up to this many bytes (the rest is not looked at).
    public var maxBodyBytes = 1_048_576

    public init() {}

    static let keys = ["paranoia-level", "anomaly-threshold", "detect-only", "block-status", "starter-rules",
                       "disabled-rules", "exclusion", "rule", "rules-file", "max-body-bytes"]

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        try c.refuseUnknown(Self.keys, in: "WAF settings")
        paranoiaLevel = try c.decodeIfPresent(Int.self, forKey: AnyKey("paranoia-level")) ?? 1
        anomalyThreshold = try c.decodeIfPresent(Int.self, forKey: AnyKey("anomaly-threshold")) ?? 5
        detectOnly = try c.decodeIfPresent(Bool.self, forKey: AnyKey("detect-only")) ?? false
        blockStatus = try c.decodeIfPresent(Int.self, forKey: AnyKey("block-status")) ?? 403
        starterRules = try c.decodeIfPresent(Bool.self, forKey: AnyKey("starter-rules")) ?? true
        disabledRules = try c.decodeIfPresent(OneOrMany<String>.self, forKey: AnyKey("disabled-rules"))?.values ?? []
        exclusions = try c.decodeIfPresent(OneOrMany<ExclusionSpec>.self, forKey: AnyKey("exclusion"))?.values.map(\.exclusion) ?? []
        customRules = try c.decodeIfPresent(OneOrMany<WAFRuleSpec>.self, forKey: AnyKey("rule"))?.values ?? []
        rulesFile = try c.decodeIfPresent(String.self, forKey: AnyKey("rules-file"))
        maxBodyBytes = try c.decodeIfPresent(Int.self, forKey: AnyKey("max-body-bytes")) ?? 1_048_576
    }

    /// Checks the ranges and builds the policy (starter rules first, then `extraRules`, then the
    /// settings' own rules, each in order).
    public func policy(extraRules: [WAFRuleSpec] = []) throws(WAFRuleError) -> WAFPolicy {
        guard (1...4).contains(paranoiaLevel) else { throw WAFRuleError("paranoia-level must be 1 to 4 (got \(paranoiaLevel))") }
        guard anomalyThreshold >= 1 else { throw WAFRuleError("anomaly-threshold must be at least 1 (got \(anomalyThreshold))") }
        guard (400...599).contains(blockStatus) else { throw WAFRuleError("block-status must be 400 to 599 (got \(blockStatus))") }
        guard maxBodyBytes >= 1 && maxBodyBytes <= 16 << 20 else {
            throw WAFRuleError("max-body-bytes must be 1 to 16777216 (got \(maxBodyBytes))")
        }
        var rules = starterRules ? try WAFStarterRules.rules() : []
        for spec in extraRules + customRules { rules.append(try spec.rule()) }
        var seen = Set<String>()
        for r in rules where !seen.insert(r.id).inserted { throw WAFRuleError("two rules have the id \"\(r.id)\"") }
        for id in disabledRules where !seen.contains(id) { throw WAFRuleError("disabled-rules names an unknown rule \"\(id)\"") }
        let disabled = Set(disabledRules)
        return WAFPolicy(rules: rules.filter { !disabled.contains($0.id) }, paranoia: paranoiaLevel,
                         threshold: anomalyThreshold, detectOnly: detectOnly, exclusions: exclusions)
    }
}

/// A rule as written in settings or a rules file.
public struct WAFRuleSpec: Sendable, Decodable {
    public var id: String
    public var description: String
    public var targets: [String]
    public var op: String
    public var value: String
    public var score: Int
    public var paranoia: Int
    public var tags: [String]
    public var transforms: [String]

    static let keys = ["id", "description", "targets", "operator", "value", "score", "paranoia", "tags", "transforms"]

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        try c.refuseUnknown(Self.keys, in: "a WAF rule")
        id = try c.decode(StringOrNumber.self, forKey: AnyKey("id")).text
        description = try c.decodeIfPresent(String.self, forKey: AnyKey("description")) ?? ""
        targets = try c.decode(OneOrMany<String>.self, forKey: AnyKey("targets")).values
        op = try c.decode(String.self, forKey: AnyKey("operator"))
        value = try c.decode(StringOrNumber.self, forKey: AnyKey("value")).text
        score = try c.decodeIfPresent(Int.self, forKey: AnyKey("score")) ?? 5
        paranoia = try c.decodeIfPresent(Int.self, forKey: AnyKey("paranoia")) ?? 1
        tags = try c.decodeIfPresent(OneOrMany<String>.self, forKey: AnyKey("tags"))?.values ?? []
        transforms = try c.decodeIfPresent(OneOrMany<String>.self, forKey: AnyKey("transforms"))?.values ?? []
    }

    public func rule() throws(WAFRuleError) -> WAFRule {
        guard !id.isEmpty else { throw WAFRuleError("a rule needs a non-empty id") }
        guard !targets.isEmpty else { throw WAFRuleError("rule \(id): targets is empty") }
        guard (1...4).contains(paranoia) else { throw WAFRuleError("rule \(id): paranoia must be 1 to 4") }
        guard score >= 0 else { throw WAFRuleError("rule \(id): score must not be negative") }
        var parsedTargets: [WAFTarget] = []
        for t in targets {
            do { parsedTargets.append(try WAFTarget(parsing: t)) } catch { throw WAFRuleError("rule \(id): \(error)") }
        }
        var parsedTransforms: [WAFTransform] = []
        for t in transforms {
            guard let x = WAFTransform(rawValue: t) else {
                let known = WAFTransform.allCases.map(\.rawValue).joined(separator: ", ")
                throw WAFRuleError("rule \(id): unknown transform \"\(t)\" (\(known))")
            }
            parsedTransforms.append(x)
        }
        let parsedOp: WAFOperator
        switch op {
        case "regex":
            do { parsedOp = .regex(try WAFPattern(value)) } catch { throw WAFRuleError("rule \(id): \(error)") }
        case "contains":
            parsedOp = .contains(Array(value.lowercased().utf8))
        case "length-above", "length-below":
            guard let n = Int(value), n >= 0 else { throw WAFRuleError("rule \(id): \(op) needs a byte count") }
            parsedOp = op == "length-above" ? .lengthAbove(n) : .lengthBelow(n)
        default:
            throw WAFRuleError("rule \(id): unknown operator \"\(op)\" (regex, contains, length-above, length-below)")
        }
        return WAFRule(id: id, description: description, targets: parsedTargets, transforms: parsedTransforms,
                       op: parsedOp, score: score, paranoia: paranoia, tags: tags)
    }
}

struct ExclusionSpec: Decodable {
    var exclusion: WAFExclusion

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        try c.refuseUnknown(["rule-ids", "tags", "path-prefix"], in: "a WAF exclusion")
        let ids = try c.decodeIfPresent(OneOrMany<StringOrNumber>.self, forKey: AnyKey("rule-ids"))?.values.map(\.text) ?? []
        let tags = try c.decodeIfPresent(OneOrMany<String>.self, forKey: AnyKey("tags"))?.values ?? []
        let prefix = try c.decodeIfPresent(String.self, forKey: AnyKey("path-prefix"))
        if ids.isEmpty && tags.isEmpty {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "an exclusion needs rule-ids or tags"))
        }
        exclusion = WAFExclusion(ruleIDs: Set(ids), tags: Set(tags), pathPrefix: prefix)
    }
}

/// A JSON value that may be one item or an array of them (KDL `key "a"` versus `key "a" "b"`).
struct OneOrMany<T: Decodable>: Decodable {
    var values: [T]
    init(from decoder: any Decoder) throws {
        if let many = try? [T](from: decoder) { values = many } else { values = [try T(from: decoder)] }
    }
}

/// Rule ids written as numbers (`rule-ids=100108`) or strings.
struct StringOrNumber: Decodable {
    var text: String
    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) { text = s } else if let i = try? c.decode(Int.self) { text = String(i) } else {
            text = String(try c.decode(Double.self))
        }
    }
}

struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}

extension KeyedDecodingContainer where Key == AnyKey {
    func refuseUnknown(_ known: [String], in what: String) throws {
        for k in allKeys where !known.contains(k.stringValue) {
            throw DecodingError.dataCorrupted(.init(
                codingPath: codingPath + [k],
                debugDescription: "unknown key \"\(k.stringValue)\" in \(what) (known: \(known.joined(separator: ", ")))"))
        }
    }
}
