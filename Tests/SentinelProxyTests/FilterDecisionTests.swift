import Testing

@testable import SentinelProxy

/// Each filter's decision as a pure function, including hostile inputs: origin reflection,
/// credentials with `*`, open redirects through the Host, path tricks.
@Suite struct FilterDecisionTests {
    // MARK: - cors

    static func cors(_ origins: [String] = ["https://app.example"], credentials: Bool = false, headers: [String] = ["x-token"]) -> CorsPolicy {
        CorsPolicy(
            origins: origins, methods: ["GET", "PUT"], allowedHeaders: headers, exposedHeaders: ["X-Total"], allowCredentials: credentials,
            maxAgeSeconds: 600)
    }

    static func field(_ d: CorsPolicy.Decision, _ name: String) -> String? {
        switch d {
        case .mark(let fields), .preflight(_, let fields): return fields.first { $0.name == name }?.value
        default: return nil
        }
    }

    @Test func aRequestWithoutOriginIsNotCrossOrigin() {
        #expect(Self.cors().decide(origin: nil, method: "GET", requestMethod: nil, requestHeaders: nil) == .none)
    }

    @Test func anAllowedOriginIsEchoedWithVaryAndExposedHeaders() {
        let d = Self.cors().decide(origin: "https://app.example", method: "GET", requestMethod: nil, requestHeaders: nil)
        #expect(Self.field(d, "Access-Control-Allow-Origin") == "https://app.example")
        #expect(Self.field(d, "Vary") == "Origin")
        #expect(Self.field(d, "Access-Control-Expose-Headers") == "X-Total")
        #expect(Self.field(d, "Access-Control-Allow-Credentials") == nil)
        // Origins compare case-insensitively (scheme and host are).
        #expect(Self.field(Self.cors().decide(origin: "HTTPS://APP.example", method: "GET", requestMethod: nil, requestHeaders: nil),
                           "Access-Control-Allow-Origin") == "HTTPS://APP.example")
    }

    @Test func anOriginNotConfiguredIsNeverReflected() {
        let policy = Self.cors()
        for origin in ["https://evil.example", "https://app.example.evil.example", "https://app.example:8443", "null", "http://app.example"] {
            #expect(policy.decide(origin: origin, method: "GET", requestMethod: nil, requestHeaders: nil) == .notAllowed, "\(origin)")
            guard case .preflight(403, _) = policy.decide(origin: origin, method: "OPTIONS", requestMethod: "GET", requestHeaders: nil) else {
                Issue.record("preflight from \(origin) was not refused")
                continue
            }
        }
    }

    @Test func anyOriginIsAStarNeverTheOriginAndNeverWithCredentials() {
        let any = Self.cors(["*"])
        let d = any.decide(origin: "https://whoever.example", method: "GET", requestMethod: nil, requestHeaders: nil)
        #expect(Self.field(d, "Access-Control-Allow-Origin") == "*")
        #expect(Self.field(d, "Vary") == nil)
        // A policy that (against the loader's check) had both: no origin is ever allowed through "*".
        let both = Self.cors(["*"], credentials: true)
        #expect(both.decide(origin: "https://whoever.example", method: "GET", requestMethod: nil, requestHeaders: nil) == .notAllowed)
        // Credentials with a listed origin: that origin, with Allow-Credentials.
        let listed = Self.cors(["https://app.example"], credentials: true)
        let l = listed.decide(origin: "https://app.example", method: "GET", requestMethod: nil, requestHeaders: nil)
        #expect(Self.field(l, "Access-Control-Allow-Origin") == "https://app.example")
        #expect(Self.field(l, "Access-Control-Allow-Credentials") == "true")
    }

    @Test func aPreflightIsAnsweredWithWhatThePolicyAllows() {
        let d = Self.cors().decide(origin: "https://app.example", method: "OPTIONS", requestMethod: "PUT", requestHeaders: "X-Token")
        guard case .preflight(let status, _) = d else { Issue.record("not a preflight: \(d)"); return }
        #expect(status == 204)
        #expect(Self.field(d, "Access-Control-Allow-Methods") == "GET, PUT")
        #expect(Self.field(d, "Access-Control-Allow-Headers") == "x-token")
        #expect(Self.field(d, "Access-Control-Max-Age") == "600")
        // A method or a header the policy does not allow: refused.
        guard case .preflight(403, _) = Self.cors().decide(origin: "https://app.example", method: "OPTIONS", requestMethod: "DELETE", requestHeaders: nil),
            case .preflight(403, _) = Self.cors().decide(
                origin: "https://app.example", method: "OPTIONS", requestMethod: "GET", requestHeaders: "x-token, x-admin")
        else {
            Issue.record("a preflight beyond the policy was not refused")
            return
        }
        // OPTIONS without Access-Control-Request-Method is not a preflight: it goes on, marked.
        guard case .mark = Self.cors().decide(origin: "https://app.example", method: "OPTIONS", requestMethod: nil, requestHeaders: nil) else {
            Issue.record("plain OPTIONS was taken for a preflight")
            return
        }
    }

    // MARK: - paths

    @Test(arguments: [
        ("/foo", "/foo/bar", "/xyz", "/xyz/bar"),
        ("/foo", "/foo", "/xyz", "/xyz"),
        ("/foo", "/foo/bar", "/", "/bar"),
        ("/foo/", "/foo/bar", "/xyz", "/xyz/bar"),
        ("/foo", "/foo/bar", "/xyz/", "/xyz/bar"),
        ("/foo", "/foobar", "/xyz", "/foobar"),  // not the prefix segment-wise: unchanged
        ("/", "/a/b", "/v2", "/v2/a/b"),
    ])
    func prefixReplacementFollowsGatewayAPI(prefix: String, path: String, replacement: String, expected: String) {
        #expect(PathReplacement.prefixMatch(replacement).apply(to: path, prefixes: [prefix]) == expected)
    }

    @Test func theLongestMatchingPrefixIsReplaced() {
        #expect(PathReplacement.prefixMatch("/new").apply(to: "/api/v1/users", prefixes: ["/api", "/api/v1"]) == "/new/users")
        #expect(PathReplacement.fullPath("/maintenance").apply(to: "/anything/at/all", prefixes: []) == "/maintenance")
    }

    // MARK: - redirect

    @Test func aRedirectKeepsWhatItDoesNotSet() {
        let rule = RedirectRule(statusCode: 301, scheme: "https", hostname: nil, port: nil, path: nil, routePrefixes: [])
        #expect(rule.location(scheme: "http", authority: "shop.example:8080", path: "/cart", query: "id=1") == "https://shop.example/cart?id=1")
        let portKept = RedirectRule(statusCode: 302, scheme: nil, hostname: "new.example", port: nil, path: .prefixMatch("/v2"), routePrefixes: ["/v1"])
        #expect(portKept.location(scheme: "http", authority: "old.example:8080", path: "/v1/items", query: "") == "http://new.example:8080/v2/items")
        let explicit = RedirectRule(statusCode: 308, scheme: "https", hostname: "a.example", port: 8443, path: .fullPath("/x"), routePrefixes: [])
        #expect(explicit.location(scheme: "http", authority: "b.example", path: "/y", query: "") == "https://a.example:8443/x")
        #expect(RedirectRule(statusCode: 302, scheme: "https", hostname: nil, port: 443, path: nil, routePrefixes: [])
            .location(scheme: "http", authority: "[2001:db8::1]:80", path: "/", query: "") == "https://[2001:db8::1]/")
    }

    @Test func noOpenRedirectThroughTheHostOrThePath() {
        let rule = RedirectRule(statusCode: 302, scheme: "https", hostname: nil, port: nil, path: nil, routePrefixes: [])
        // A Host that is not a plain host name cannot steer the Location elsewhere: refused.
        for host in ["evil.example/x", "user@evil.example", "evil.example\\@good", "good.example#@evil", "", "a b", "evil.example:99999"] {
            #expect(rule.location(scheme: "http", authority: host, path: "/", query: "") == nil, "\(host)")
        }
        // A path that looks protocol-relative stays on the host.
        #expect(rule.location(scheme: "http", authority: "good.example", path: "//evil.example/x", query: "") == "https://good.example/evil.example/x")
        // A configured hostname ignores the client's Host entirely (even an odd one).
        let fixed = RedirectRule(statusCode: 302, scheme: "https", hostname: "good.example", port: nil, path: nil, routePrefixes: [])
        #expect(fixed.location(scheme: "http", authority: "evil.example/x", path: "/p", query: "") == "https://good.example/p")
    }

    // MARK: - timeouts

    @Test func laterTimeoutsWin() {
        let policy = RouteTimeouts(read: .seconds(5), write: .seconds(5))
        let filter = RouteTimeouts(request: .seconds(20), read: .seconds(1))
        #expect(policy.overridden(by: filter) == RouteTimeouts(request: .seconds(20), read: .seconds(1), write: .seconds(5)))
        #expect(RouteTimeouts().isEmpty)
    }

    // MARK: - client address

    static let trusted = ForwardingPolicy(trustedProxies: [
        .init(address: [127, 0, 0, 1], prefixLength: 32), .init(address: [10, 0, 0, 0], prefixLength: 8),
    ])

    static func client(peer: String, _ peerBytes: [UInt8], xff: [String] = [], forwarded: [String] = [], policy: ForwardingPolicy = trusted) -> String {
        ClientAddress.resolve(peer: peer, peerBytes: peerBytes, policy: policy) { name in
            name == ClientAddress.forwardedFor ? xff : name == ClientAddress.forwarded ? forwarded : []
        }
    }

    @Test func anUntrustedPeerCannotNameItsOwnAddress() {
        #expect(Self.client(peer: "192.0.2.9", [192, 0, 2, 9], xff: ["6.6.6.6"]) == "192.0.2.9")
        #expect(Self.client(peer: "192.0.2.9", [192, 0, 2, 9], forwarded: ["for=6.6.6.6"]) == "192.0.2.9")
        // No trusted proxies configured: the peer, whatever the fields say.
        #expect(Self.client(peer: "127.0.0.1", [127, 0, 0, 1], xff: ["6.6.6.6"], policy: ForwardingPolicy()) == "127.0.0.1")
    }

    @Test func aTrustedChainIsReadFromTheRight() {
        // The trusted peer says the client was 203.0.113.5.
        #expect(Self.client(peer: "127.0.0.1", [127, 0, 0, 1], xff: ["203.0.113.5"]) == "203.0.113.5")
        // A client that prepends a spoofed hop gains nothing: the rightmost untrusted hop counts.
        #expect(Self.client(peer: "127.0.0.1", [127, 0, 0, 1], xff: ["1.1.1.1, 203.0.113.5"]) == "203.0.113.5")
        // Trusted hops (10.0.0.0/8) are skipped, across several fields too.
        #expect(Self.client(peer: "127.0.0.1", [127, 0, 0, 1], xff: ["203.0.113.5", "10.1.2.3"]) == "203.0.113.5")
        // Garbage ends the walk at the last address believed.
        #expect(Self.client(peer: "127.0.0.1", [127, 0, 0, 1], xff: ["203.0.113.5, unknown, 10.1.2.3"]) == "10.1.2.3")
        // All hops trusted: the oldest.
        #expect(Self.client(peer: "127.0.0.1", [127, 0, 0, 1], xff: ["10.9.9.9, 10.1.2.3"]) == "10.9.9.9")
        // Forwarded (RFC 7239) when there is no X-Forwarded-For; ports and IPv6 brackets.
        #expect(Self.client(peer: "127.0.0.1", [127, 0, 0, 1], forwarded: ["for=\"[2001:db8::7]:4711\";proto=https"]) == "2001:db8::7")
        #expect(Self.client(peer: "127.0.0.1", [127, 0, 0, 1], xff: ["198.51.100.2:5555"]) == "198.51.100.2")
        #expect(Self.client(peer: "127.0.0.1", [127, 0, 0, 1], forwarded: ["for=_hidden"]) == "127.0.0.1")
    }
}
