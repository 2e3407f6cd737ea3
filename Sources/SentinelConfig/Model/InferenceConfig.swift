import KDL

/// A route's `inference { … }` block: makes the route an LLM gateway with token-aware rate
/// limits, budgets, cost attribution, model-based routing and guardrails.
public struct InferenceConfig: Sendable, Hashable {
    /// `rate-limit { … }`: token-based rate limit per client.
    public struct TokenRateLimit: Sendable, Hashable {
        public enum Estimation: String, Sendable, Hashable {
            /// About one token per 4 characters (the default).
            case chars
            /// Based on the word count.
            case words
            /// The tiktoken tokenizer.
            case tiktoken
        }
        /// `tokens-per-minute` (required).
        public var tokensPerMinute: Int
        /// `requests-per-minute`: an additional request-count limit.
        public var requestsPerMinute: Int?
        /// `burst-tokens`: tokens allowed above the steady rate in a spike.
        public var burstTokens = 10_000
        /// `estimation-method`: how input tokens are estimated before the response reports usage.
        public var estimationMethod: Estimation = .chars
        public init(tokensPerMinute: Int) { self.tokensPerMinute = tokensPerMinute }
    }

    /// `budget { … }`: a token budget per tenant and period.
    public struct Budget: Sendable, Hashable {
        public enum Period: Sendable, Hashable {
            case hourly, daily, monthly
            case seconds(Int)
        }
        /// `period`: hourly, daily (default), monthly, or a number of seconds.
        public var period: Period = .daily
        /// `limit` (required): tokens per period.
        public var limit: Int
        /// `alert-thresholds`: fractions of the budget at which alerts fire.
        public var alertThresholds = [0.8, 0.9, 0.95]
        /// `enforce`: reject requests once the budget is spent (429); otherwise only alert.
        public var enforce = true
        /// `rollover`: carry unused tokens into the next period.
        public var rollover = false
        /// `burst-allowance`: fraction the budget may be exceeded by (0...1).
        public var burstAllowance: Double?
        /// `max-tenants`: tenants tracked at once.
        public var maxTenants = 10_000
        public init(limit: Int) { self.limit = limit }
    }

    /// `cost-attribution { … }`: estimated cost per request, in metrics and logs.
    public struct CostAttribution: Sendable, Hashable {
        /// `model "gpt-4*" input-cost-per-million=30.0 output-cost-per-million=60.0`.
        public struct Pricing: Sendable, Hashable {
            public var modelPattern: String
            public var inputCostPerMillion: Double
            public var outputCostPerMillion: Double
            public var currency: String?
        }
        public var enabled = true
        /// `default-input-cost`: per million input tokens for models without pricing.
        public var defaultInputCost = 1.0
        /// `default-output-cost`: per million output tokens for models without pricing.
        public var defaultOutputCost = 2.0
        public var currency = "USD"
        public var pricing: [Pricing] = []
        public init() {}
    }

    /// `routing { … }`: how targets of the upstream are chosen.
    public struct Routing: Sendable, Hashable {
        public enum Strategy: String, Sendable, Hashable {
            case leastTokensQueued = "least-tokens-queued"
            case roundRobin = "round-robin"
            case leastLatency = "least-latency"
        }
        public var strategy: Strategy = .leastTokensQueued
        /// `queue-depth-header`: response header through which targets report their queue.
        public var queueDepthHeader: String?
        public init() {}
    }

    /// `model-routing { model "gpt-4*" upstream="openai"; default-upstream "openai" }`.
    public struct ModelRouting: Sendable, Hashable {
        public struct Rule: Sendable, Hashable {
            /// Model name pattern (`*` wildcards).
            public var modelPattern: String
            public var upstream: ConfigReference
            /// Provider override for this upstream.
            public var provider: InferenceProvider?
        }
        /// First matching rule wins.
        public var rules: [Rule] = []
        /// Upstream for models no rule matches (else the route's `upstream`).
        public var defaultUpstream: ConfigReference?
        public init() {}
    }

    public enum GuardrailAction: String, Sendable, Hashable {
        /// Reject the request with `block-status`.
        case block
        /// Only log (the default).
        case log
        /// Let it through with an `X-Guardrail-Warning` header.
        case warn
    }

    /// `prompt-injection { … }`: asks an agent whether the prompt is an injection attempt.
    public struct PromptInjection: Sendable, Hashable {
        /// `enabled`: true when the block is present (the original defaulted to false, which
        /// made a configured guardrail silently inactive).
        public var enabled = true
        /// `agent "<id>"` (required): the detecting agent (it should subscribe to `guardrail`).
        public var agent: ConfigReference
        public var action: GuardrailAction = .log
        /// `block-status`: status of a blocked request.
        public var blockStatus = 400
        public var blockMessage: String?
        /// `timeout-ms`.
        public var timeout: Duration = .milliseconds(500)
        /// `failure-mode`: when the agent cannot answer.
        public var failureMode: FailureMode = .open
        public init(agent: ConfigReference) { self.agent = agent }
    }

    /// `pii-detection { … }`: asks an agent to find personal data in prompts and completions.
    public struct PIIDetection: Sendable, Hashable {
        public enum Action: String, Sendable, Hashable {
            /// Log detections (the default).
            case log
            /// Replace detected values before forwarding.
            case redact
            /// Reject the request.
            case block
        }
        public var enabled = true
        /// `agent "<id>"` (required).
        public var agent: ConfigReference
        public var action: Action = .log
        /// `categories "ssn" "credit-card" …`: what to look for; empty = everything the agent knows.
        public var categories: [String] = []
        /// `block-status`: status of a blocked request.
        public var blockStatus = 400
        public var timeout: Duration = .milliseconds(1000)
        public var failureMode: FailureMode = .open
        public init(agent: ConfigReference) { self.agent = agent }
    }

    /// `guardrails { prompt-injection {…}; pii-detection {…} }`.
    public struct Guardrails: Sendable, Hashable {
        public var promptInjection: PromptInjection?
        public var piiDetection: PIIDetection?
        public init() {}
    }

    /// `provider`: the API dialect of the route's upstream.
    public var provider: InferenceProvider = .generic
    /// `model-header`: request header carrying the model name (fast path before the body).
    public var modelHeader: String?
    public var rateLimit: TokenRateLimit?
    public var budget: Budget?
    public var costAttribution: CostAttribution?
    public var routing: Routing?
    public var modelRouting: ModelRouting?
    public var guardrails: Guardrails?

    public init() {}

    /// Upstreams of model routing and agents of guardrails.
    public var references: [ConfigReference] {
        var refs: [ConfigReference] = []
        if let m = modelRouting {
            refs += m.rules.map(\.upstream)
            if let d = m.defaultUpstream { refs.append(d) }
        }
        if let p = guardrails?.promptInjection { refs.append(p.agent) }
        if let p = guardrails?.piiDetection { refs.append(p.agent) }
        return refs
    }

    static func read(_ node: KDLNode, path: ConfigPath, sink: DiagnosticSink) -> InferenceConfig {
        var r = NodeReader(node, path: path.appending(node), sink: sink)
        var c = InferenceConfig()
        c.provider = r.choice("provider", default: c.provider, options: InferenceProvider.options)
        if let h = r.locatedString("model-header"), HTTPSyntax.checkHeaderName(h.value, at: h.location, r.path, sink) {
            c.modelHeader = h.value
        }
        if let n = r.single("rate-limit") { c.rateLimit = readRateLimit(n, r.path, sink) }
        if let n = r.single("budget") { c.budget = readBudget(n, r.path, sink) }
        if let n = r.single("cost-attribution") { c.costAttribution = readCost(n, r.path, sink) }
        if let n = r.single("routing") {
            var rr = NodeReader(n, path: r.path.appending(n), sink: sink)
            var routing = Routing()
            routing.strategy = rr.choice("strategy", default: routing.strategy, options: [
                ("least-tokens-queued", .leastTokensQueued), ("round-robin", .roundRobin), ("least-latency", .leastLatency),
            ])
            if let h = rr.locatedString("queue-depth-header"), HTTPSyntax.checkHeaderName(h.value, at: h.location, rr.path, sink) {
                routing.queueDepthHeader = h.value
            }
            rr.finish()
            c.routing = routing
        }
        if let n = r.single("model-routing") { c.modelRouting = readModelRouting(n, r.path, sink) }
        if let n = r.single("guardrails") {
            var gr = NodeReader(n, path: r.path.appending(n), sink: sink)
            var g = Guardrails()
            if let p = gr.single("prompt-injection") { g.promptInjection = readPromptInjection(p, gr.path, sink) }
            if let p = gr.single("pii-detection") { g.piiDetection = readPII(p, gr.path, sink) }
            gr.finish()
            c.guardrails = g
        }
        r.finish()
        return c
    }

    private static func readRateLimit(_ node: KDLNode, _ path: ConfigPath, _ sink: DiagnosticSink) -> TokenRateLimit? {
        var r = NodeReader(node, path: path.appending(node), sink: sink)
        let tpm = r.int("tokens-per-minute", range: 1...Int64(Int32.max) * 1000)
        let rpm = r.int("requests-per-minute", range: 1...100_000_000)
        let burst = r.int("burst-tokens", default: 10_000, range: 0...Int64(Int32.max) * 1000)
        let method = r.choice("estimation-method", default: TokenRateLimit.Estimation.chars, options: [
            ("chars", .chars), ("characters", .chars), ("words", .words), ("tiktoken", .tiktoken),
        ])
        if tpm == nil, !r.has("tokens-per-minute") {
            sink.error(node.location, r.path, "the token rate limit needs \"tokens-per-minute\"", hint: "rate-limit { tokens-per-minute 100000 }")
        }
        r.finish()
        guard let tpm else { return nil }
        var l = TokenRateLimit(tokensPerMinute: tpm)
        l.requestsPerMinute = rpm
        l.burstTokens = burst
        l.estimationMethod = method
        return l
    }

    private static func readBudget(_ node: KDLNode, _ path: ConfigPath, _ sink: DiagnosticSink) -> Budget? {
        var r = NodeReader(node, path: path.appending(node), sink: sink)
        var period: Budget.Period = .daily
        if let v = r.scalar(["period"]) {
            if let n = v.numberValue {
                if n.kind == .integer, let s = n.int64Value, s > 0, s <= 366 * 86_400 { period = .seconds(Int(s)) } else {
                    sink.error(v.location, r.path, "the budget period \(n.canonical) is not a positive whole number of seconds (at most a year)")
                }
            } else if let s = ValueReader(sink: sink, path: r.path, key: "period").string(v) {
                switch s.lowercased() {
                case "hourly": period = .hourly
                case "daily": period = .daily
                case "monthly": period = .monthly
                default:
                    if let secs = Int(s), secs > 0 { period = .seconds(secs) } else if let d = ValueReader.parseDuration(s), d > .zero {
                        period = .seconds(Int(d.components.seconds))
                    } else {
                        sink.error(v.location, r.path, "unknown budget period \"\(s)\"", hint: "one of: \"hourly\", \"daily\", \"monthly\", or a number of seconds")
                    }
                }
            }
        }
        let limit = r.int("limit", range: 1...Int64.max)
        var thresholds = [0.8, 0.9, 0.95]
        if let t = r.single("alert-thresholds") {
            var tr = NodeReader(t, path: r.path.appending(t), sink: sink)
            let reader = ValueReader(sink: sink, path: tr.path, key: "alert-thresholds")
            let args = tr.arguments()
            if args.isEmpty { sink.error(t.location, tr.path, "\"alert-thresholds\" needs at least one value", hint: "alert-thresholds 0.8 0.9") }
            thresholds = args.compactMap { a in
                guard let d = reader.double(a, range: 0...1) else { return nil }
                if d <= 0 { sink.error(a.location, tr.path, "an alert threshold must be above 0"); return nil }
                return d
            }.sorted()
            tr.finish()
        }
        let enforce = r.bool("enforce", default: true)
        let rollover = r.bool("rollover", default: false)
        let burst = r.double("burst-allowance", range: 0...1)
        let tenants = r.int("max-tenants", default: 10_000, range: 1...100_000_000)
        if limit == nil, !r.has("limit") {
            sink.error(node.location, r.path, "the budget needs \"limit\" (tokens per period)", hint: "budget { period \"daily\"; limit 1000000 }")
        }
        r.finish()
        guard let limit else { return nil }
        var b = Budget(limit: limit)
        b.period = period
        b.alertThresholds = thresholds
        b.enforce = enforce
        b.rollover = rollover
        b.burstAllowance = burst
        b.maxTenants = tenants
        return b
    }

    private static func readCost(_ node: KDLNode, _ path: ConfigPath, _ sink: DiagnosticSink) -> CostAttribution {
        var r = NodeReader(node, path: path.appending(node), sink: sink)
        var c = CostAttribution()
        c.enabled = r.bool("enabled", default: c.enabled)
        c.defaultInputCost = r.double("default-input-cost", default: c.defaultInputCost, range: 0...1_000_000)
        c.defaultOutputCost = r.double("default-output-cost", default: c.defaultOutputCost, range: 0...1_000_000)
        c.currency = readCurrency(&r) ?? c.currency
        if let p = r.single("pricing") {
            var pr = NodeReader(p, path: r.path.appending(p), sink: sink)
            for m in pr.all("model") {
                var mr = NodeReader(m, path: pr.path, sink: sink)
                let pattern = mr.identifier("model-pattern")
                mr = NodeReader(m, path: pr.path.appending(m, id: pattern), sink: sink)
                _ = mr.argument(0)
                let input = propertyOrChildDouble(&mr, "input-cost-per-million")
                let output = propertyOrChildDouble(&mr, "output-cost-per-million")
                var currency: String?
                if let v = mr.property("currency") { currency = ValueReader(sink: sink, path: mr.path, key: "currency").string(v) } else {
                    currency = readCurrency(&mr)
                }
                mr.finish()
                if let pattern, let input, let output {
                    c.pricing.append(.init(modelPattern: pattern, inputCostPerMillion: input, outputCostPerMillion: output, currency: currency))
                }
            }
            pr.finish()
        }
        r.finish()
        return c
    }

    private static func readCurrency(_ r: inout NodeReader) -> String? {
        guard let c = r.locatedString("currency") else { return nil }
        if c.value.count == 3, c.value.allSatisfy({ $0.isASCII && $0.isLetter }) { return c.value.uppercased() }
        r.sink.error(c.location, r.path, "\"\(c.value)\" is not a currency code", hint: "use an ISO 4217 code such as \"USD\" or \"EUR\"")
        return nil
    }

    /// A required number written either as `key=1.0` on the node or as a `key 1.0` child.
    private static func propertyOrChildDouble(_ r: inout NodeReader, _ name: String) -> Double? {
        let property = r.property(name)
        let child = r.scalar([name])
        if property != nil, child != nil {
            r.sink.error(property!.location, r.path, "\"\(name)\" is given twice (as a property and as a child)")
        }
        guard let v = property ?? child else {
            r.sink.error(r.location, r.path, "model pricing needs \"\(name)\"", hint: "model \"gpt-4*\" input-cost-per-million=30.0 output-cost-per-million=60.0")
            return nil
        }
        return ValueReader(sink: r.sink, path: r.path, key: name).double(v, range: 0...1_000_000)
    }

    private static func readModelRouting(_ node: KDLNode, _ path: ConfigPath, _ sink: DiagnosticSink) -> ModelRouting {
        var r = NodeReader(node, path: path.appending(node), sink: sink)
        var m = ModelRouting()
        for n in r.all("model") {
            var mr = NodeReader(n, path: r.path, sink: sink)
            let pattern = mr.identifier("model-pattern")
            mr = NodeReader(n, path: r.path.appending(n, id: pattern), sink: sink)
            _ = mr.argument(0)
            let upstream = mr.propertyReference(.upstream, "upstream")
            var provider: InferenceProvider?
            if let v = mr.property("provider") {
                provider = ValueReader(sink: sink, path: mr.path, key: "provider").choice(v, options: InferenceProvider.options)
            }
            if upstream == nil, n.property("upstream") == nil {
                sink.error(n.location, mr.path, "a model rule needs upstream=", hint: "model \"\(pattern ?? "gpt-4*")\" upstream=\"<upstream-id>\"")
            }
            mr.finish()
            if let pattern, let upstream {
                if m.rules.contains(where: { $0.modelPattern == pattern }) {
                    sink.warning(n.location, mr.path, "model pattern \"\(pattern)\" is listed twice; the first rule wins")
                }
                m.rules.append(.init(modelPattern: pattern, upstream: upstream, provider: provider))
            }
        }
        m.defaultUpstream = r.reference(.upstream, "default-upstream")
        if m.rules.isEmpty, m.defaultUpstream == nil, !r.has("model", "default-upstream") {
            sink.warning(node.location, r.path, "model-routing has no rules", hint: "model \"gpt-4*\" upstream=\"openai\"")
        }
        r.finish()
        return m
    }

    private static func readPromptInjection(_ node: KDLNode, _ path: ConfigPath, _ sink: DiagnosticSink) -> PromptInjection? {
        var r = NodeReader(node, path: path.appending(node), sink: sink)
        let enabled = r.bool("enabled", default: true)
        let agent = r.reference(.agent, "agent")
        let action = r.choice("action", default: GuardrailAction.log, options: [("block", .block), ("log", .log), ("warn", .warn)])
        let status = r.int("block-status", default: 400, range: 400...599)
        let message = r.string("block-message", allowEmpty: true)
        let timeout = r.duration("timeout-ms", unit: .milliseconds, default: .milliseconds(500), min: .milliseconds(1))!
        let failure = r.choice("failure-mode", default: FailureMode.open, options: FailureMode.options)
        if agent == nil, !r.has("agent") {
            sink.error(node.location, r.path, "prompt-injection needs \"agent\"", hint: "agent \"<agent-id>\" (an agent subscribed to the guardrail event)")
        }
        if action != .block, r.has("block-status") || r.has("block-message") {
            sink.warning(r.locationOf(r.has("block-status") ? "block-status" : "block-message"), r.path,
                         "block-status and block-message only apply with action \"block\"")
        }
        r.finish()
        guard let agent else { return nil }
        var p = PromptInjection(agent: agent)
        p.enabled = enabled
        p.action = action
        p.blockStatus = status
        p.blockMessage = message
        p.timeout = timeout
        p.failureMode = failure
        return p
    }

    private static func readPII(_ node: KDLNode, _ path: ConfigPath, _ sink: DiagnosticSink) -> PIIDetection? {
        var r = NodeReader(node, path: path.appending(node), sink: sink)
        let enabled = r.bool("enabled", default: true)
        let agent = r.reference(.agent, "agent")
        let action = r.choice("action", default: PIIDetection.Action.log, options: [("log", .log), ("redact", .redact), ("block", .block)])
        var categories: [String] = []
        for (cat, _) in r.commaList("categories") ?? [] {
            let n = Suggest.normalize(cat)
            if !categories.contains(n) { categories.append(n) }
        }
        let status = r.int("block-status", default: 400, range: 400...599)
        let timeout = r.duration("timeout-ms", unit: .milliseconds, default: .milliseconds(1000), min: .milliseconds(1))!
        let failure = r.choice("failure-mode", default: FailureMode.open, options: FailureMode.options)
        if agent == nil, !r.has("agent") {
            sink.error(node.location, r.path, "pii-detection needs \"agent\"", hint: "agent \"<agent-id>\" (an agent subscribed to the guardrail event)")
        }
        r.finish()
        guard let agent else { return nil }
        var p = PIIDetection(agent: agent)
        p.enabled = enabled
        p.action = action
        p.categories = categories
        p.blockStatus = status
        p.timeout = timeout
        p.failureMode = failure
        return p
    }
}
