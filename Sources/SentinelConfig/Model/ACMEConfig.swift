public import KDL

/// Automatic certificates from an ACME CA (Let's Encrypt, ZeroSSL, …).
public struct ACMEConfig: Sendable, Hashable {
    public enum Challenge: String, Sendable, Hashable { case http01 = "http-01", dns01 = "dns-01" }
    public enum KeyType: String, Sendable, Hashable { case ecdsaP256 = "ecdsa-p256", ecdsaP384 = "ecdsa-p384" }

    public var email: String
    public var domains: [String]
    public var staging: Bool = false
    public var serverURL: String?
    public var eabKeyId: String?
    public var eabHMACKey: String?
    public var storage: String = "/var/lib/sentinel/acme"
    public var renewBeforeDays: Int = 30
    public var challenge: Challenge = .http01
    public var keyType: KeyType = .ecdsaP256
    public var dnsProvider: DNSProvider?
    public var location: KDLSourceLocation

    public struct DNSProvider: Sendable, Hashable {
        public var type: String
        public var credentialsFile: String?
        public var credentialsEnv: String?
        public var url: String?
        public var authHeader: String?
        public var apiTimeout: Duration = .seconds(30)
        public var initialDelay: Duration = .seconds(10)
        public var checkInterval: Duration = .seconds(5)
        public var propagationTimeout: Duration = .seconds(120)
        public var nameservers: [String] = []
    }

    static func read(_ node: KDLNode, path: ConfigPath, sink: DiagnosticSink) -> ACMEConfig? {
        let p = path.appending(node)
        var r = NodeReader(node, path: p, sink: sink)
        let email = r.string("email")
        let domains = r.stringList("domains") ?? []
        var a = ACMEConfig(email: email ?? "", domains: domains, location: node.location)
        a.staging = r.bool("staging", default: false)
        a.serverURL = r.string("server-url", "directory-url")
        if let eab = r.single("eab") {
            var er = NodeReader(eab, path: p.appending(eab), sink: sink)
            a.eabKeyId = er.string("kid", "key-id")
            a.eabHMACKey = er.string("hmac-key")
            if a.eabKeyId == nil { er.missing("kid", example: "kid \"…\"") }
            if a.eabHMACKey == nil { er.missing("hmac-key", example: "hmac-key \"…\"") }
            er.finish()
        }
        a.storage = r.string("storage") ?? a.storage
        a.renewBeforeDays = r.int("renew-before-days", default: 30, range: 1...89)
        a.challenge = r.choice("challenge-type", default: .http01, options: [("http-01", .http01), ("dns-01", .dns01)])
        a.keyType = r.choice("key-type", default: .ecdsaP256, options: [("ecdsa-p256", .ecdsaP256), ("ecdsa-p384", .ecdsaP384)])
        if let d = r.single("dns-provider") {
            let dp = p.appending(d)
            var dr = NodeReader(d, path: dp, sink: sink)
            let type = dr.choice("type", options: [("cloudflare", "cloudflare"), ("hetzner", "hetzner"), ("webhook", "webhook")])
            var provider = DNSProvider(type: type ?? "")
            provider.credentialsFile = dr.string("credentials-file")
            provider.credentialsEnv = dr.string("credentials-env")
            provider.url = dr.string("url")
            provider.authHeader = dr.string("auth-header")
            provider.apiTimeout = dr.duration("api-timeout-secs", unit: .seconds, default: provider.apiTimeout, min: .seconds(1))!
            if let prop = dr.single("propagation") {
                var pr = NodeReader(prop, path: dp.appending(prop), sink: sink)
                provider.initialDelay = pr.duration("initial-delay-secs", unit: .seconds, default: provider.initialDelay)!
                provider.checkInterval = pr.duration("check-interval-secs", unit: .seconds, default: provider.checkInterval, min: .seconds(1))!
                provider.propagationTimeout = pr.duration("timeout-secs", unit: .seconds, default: provider.propagationTimeout, min: .seconds(1))!
                provider.nameservers = pr.stringList("nameservers") ?? []
                pr.finish()
            }
            dr.finish()
            if type == nil, d.children.first(where: { $0.name == "type" }) == nil {
                dr.missing("type", example: "type \"cloudflare\"")
            }
            if provider.type == "webhook", provider.url == nil { dr.missing("url", example: "url \"https://dns-hook.internal/\"") }
            if provider.credentialsFile != nil, provider.credentialsEnv != nil {
                sink.error(d.location, dp, "\"credentials-file\" and \"credentials-env\" cannot be used together")
            }
            a.dnsProvider = provider
        }
        r.finish()
        if email == nil, node.children.first(where: { $0.name == "email" }) == nil {
            r.missing("email", example: "email \"ops@example.com\"")
        }
        if domains.isEmpty, node.children.first(where: { $0.name == "domains" }) == nil {
            r.missing("domains", example: "domains \"example.com\" \"www.example.com\"")
        }
        for d in domains where d.hasPrefix("*.") && a.challenge != .dns01 {
            sink.error(node.location, p, "wildcard domain \"\(d)\" needs challenge-type \"dns-01\"")
        }
        if a.challenge == .dns01, a.dnsProvider == nil {
            sink.error(node.location, p, "challenge-type \"dns-01\" needs a dns-provider block",
                       hint: "add: dns-provider { type \"cloudflare\"; credentials-env \"CF_API_TOKEN\" }")
        }
        guard email != nil, !domains.isEmpty else { return nil }
        return a
    }
}
