import Foundation
import SentinelConfig
import SentinelRuntime
import SentinelTLS
import SentinelTestSupport
import Testing

@testable import SentinelProxy

/// `redirect-to-https` on a plain HTTP listener and `hsts` on an HTTPS listener, checked with
/// real sockets and curl.
@Suite(.serialized) struct HTTPSRedirectTests {
    let fx = HTTPSFixtures.shared

    // MARK: The Location policy (pure)

    @Test func locationKeepsPathAndQueryAndDropsTheRequestPort() {
        let r = HTTPSRedirect(port: 443, host: nil)
        #expect(r.location(authority: "Example.TEST:8080", path: "/a/b", query: "x=1&y=2") == "https://example.test/a/b?x=1&y=2")
        #expect(r.location(authority: "example.test", path: "/", query: nil) == "https://example.test/")
        // An empty query stays (the target had a "?").
        #expect(r.location(authority: "example.test", path: "/p", query: "") == "https://example.test/p?")
        #expect(r.location(authority: "[::1]:80", path: "/v6", query: nil) == "https://[::1]/v6")
        #expect(r.location(authority: "192.0.2.1", path: "/", query: nil) == "https://192.0.2.1/")
        // Asterisk-form (OPTIONS *): the site's root.
        #expect(r.location(authority: "example.test", path: "*", query: nil) == "https://example.test/")
    }

    @Test func locationCarriesTheConfiguredPort() {
        let r = HTTPSRedirect(port: 8443, host: nil)
        #expect(r.location(authority: "example.test:80", path: "/x", query: nil) == "https://example.test:8443/x")
    }

    @Test func pinnedHostIgnoresTheRequestHost() {
        let r = HTTPSRedirect(port: 443, host: "www.example.com")
        #expect(r.location(authority: "evil.test", path: "/x", query: nil) == "https://www.example.com/x")
        #expect(r.location(authority: "", path: "/x", query: nil) == "https://www.example.com/x")
    }

    @Test(arguments: ["", "evil.test/x", "a b", "evil.test@x", "[::1", "host:99999", "host:", "[zz::1]", "a\r\nSet-Cookie: x"])
    func invalidHostGetsNoLocation(authority: String) {
        #expect(HTTPSRedirect(port: 443, host: nil).location(authority: authority, path: "/", query: nil) == nil)
    }

    // MARK: Config

    func config(upstreamPort: Int = 9, redirect: String = "redirect-to-https", hsts: String = "hsts { max-age-secs 600; include-subdomains #true }", responsePolicy: String = "") -> String {
        """
        system { worker-threads 1 }
        listeners {
            listener "plain" {
                address "127.0.0.1:0"
                \(redirect)
            }
            listener "tls" {
                address "127.0.0.1:0"
                protocol "https"
                \(hsts)
                tls {
                    cert-file "\(fx.path("a.pem"))"
                    key-file "\(fx.path("a.key"))"
                }
            }
        }
        upstreams { upstream "up" { target "127.0.0.1:\(upstreamPort)" } }
        routes {
            route "h" { matches { path "/health" }; builtin-handler "health" }
            route "up" {
                matches { path-prefix "/up" }
                upstream "up"
                \(responsePolicy)
            }
        }
        """
    }

    static let process = ProcessIdentity(stickyKey: [1], proxyID: "t", zone: "z", ticketKeys: try! TicketKeyRing.random())

    func serve(_ text: String, _ body: (_ http: Int, _ https: Int) async throws -> Void) async throws {
        let config = try ConfigLoader.load(text: text).get().config
        let server = ProxyServer(eventLoopCount: 1)
        let bound = try await server.start(snapshot: try SnapshotBuilder.build(config, instanceID: "t", process: Self.process))
        do {
            try await body(bound[0].port, bound[1].port)
        } catch {
            _ = await server.shutdown(gracefulTimeout: .seconds(1))
            throw error
        }
        _ = await server.shutdown(gracefulTimeout: .seconds(1))
    }

    func errors(_ text: String) -> [String] {
        switch ConfigLoader.load(text: text) {
        case .success: return []
        case .failure(let e): return e.errors.map(\.message)
        }
    }

    @Test func hstsOnPlainHTTPAndRedirectOnHTTPSAreRefused() {
        let onPlain = errors("""
            listeners { listener "p" { address "127.0.0.1:0"; hsts { max-age-secs 10 } } }
            routes { route "h" { matches { path "/" }; builtin-handler "health" } }
            """)
        #expect(onPlain.contains { $0.contains("hsts on a plain HTTP listener") }, "\(onPlain)")
        let onTLS = errors(config(redirect: "", hsts: "redirect-to-https"))
        #expect(onTLS.contains { $0.contains("redirect-to-https is for plain HTTP listeners") }, "\(onTLS)")
        let preload = errors(config(hsts: "hsts { preload #true }"))
        #expect(preload.contains { $0.contains("preload needs include-subdomains") }, "\(preload)")
        let badHost = errors(config(redirect: #"redirect-to-https { host "a/b" }"#))
        #expect(badHost.contains { $0.contains("is not a host name") }, "\(badHost)")
        let unknown = errors(config(redirect: "redirect-to-https { code 301 }"))
        #expect(unknown.contains { $0.contains("unknown setting \"code\"") }, "\(unknown)")
    }

    // MARK: Real sockets

    func curl(_ args: [String]) throws -> ProcessResult {
        try runProcess("/usr/bin/curl", ["-sS", "--max-time", "10", "--cacert", fx.path("root.pem")] + args)
    }

    @Test func plainRequestGets308ToTheSamePathOverHTTPSAndCurlFollowsIt() async throws {
        try await serve(config(redirect: "redirect-to-https { port 443 }")) { http, _ in
            let r = try curl(["-i", "-H", "Host: A.test:\(http)", "http://127.0.0.1:\(http)/some/path?q=1&r=2"])
            #expect(r.stdout.hasPrefix("HTTP/1.1 308 Permanent Redirect\r\n"), "\(r.stdout)")
            #expect(r.stdout.contains("Location: https://a.test/some/path?q=1&r=2\r\n"), "\(r.stdout)")
            // Never HSTS on plain HTTP.
            #expect(!r.stdout.lowercased().contains("strict-transport-security"), "\(r.stdout)")
        }
    }

    /// The redirect names the HTTPS listener's port; curl follows it, keeps POST and its body
    /// (308), and the HTTPS answer carries HSTS.
    @Test func redirectIsFollowedToTheHTTPSListenerWithHSTS() async throws {
        let upstream = try await ScriptedUpstream { request in .ok("got \(request.body.count) bytes") }
        // The HTTPS port is known only once bound: bind first to learn it, then serve a second
        // server whose redirect names it.
        let probe = ProxyServer(eventLoopCount: 1)
        let tlsOnly = try ConfigLoader.load(text: config(upstreamPort: upstream.port)).get().config
        let ports = try await probe.start(snapshot: try SnapshotBuilder.build(tlsOnly, instanceID: "t", process: Self.process))
        let httpsPort = ports[1].port
        let redirector = ProxyServer(eventLoopCount: 1)
        let redirectConfig = try ConfigLoader.load(text: config(redirect: "redirect-to-https { port \(httpsPort) }")).get().config
        let http = try await redirector.start(snapshot: try SnapshotBuilder.build(redirectConfig, instanceID: "t", process: Self.process))[0].port
        defer { Task { await upstream.shutdown() } }
        let r = try curl([
            "-i", "-L", "--resolve", "a.test:\(httpsPort):127.0.0.1", "-H", "Host: a.test", "--data-binary", "hello",
            "http://127.0.0.1:\(http)/up/post?x=1",
        ])
        _ = await redirector.shutdown(gracefulTimeout: .seconds(1))
        _ = await probe.shutdown(gracefulTimeout: .seconds(1))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("HTTP/1.1 308"), "\(r.stdout)")
        #expect(r.stdout.contains("Location: https://a.test:\(httpsPort)/up/post?x=1\r\n"), "\(r.stdout)")
        #expect(r.stdout.hasSuffix("got 5 bytes"), "\(r.stdout)")
        let parts = r.stdout.components(separatedBy: "HTTP/1.1 ")
        #expect(parts.count == 3, "\(r.stdout)")
        #expect(!parts[1].lowercased().contains("strict-transport-security"))
        #expect(parts[2].contains("Strict-Transport-Security: max-age=600; includeSubDomains\r\n"), "\(r.stdout)")
        #expect(upstream.requests.first?.requestLine == "POST /up/post?x=1 HTTP/1.1")
    }

    @Test func http10WithoutHostGets400NotAGuess() async throws {
        try await serve(config()) { http, _ in
            let client = try RawClient(port: http)
            client.send("GET /x HTTP/1.0\r\n\r\n")
            let answer = client.readAll()
            #expect(answer.hasPrefix("HTTP/1.1 400"), "\(answer)")
            #expect(!answer.contains("Location"))
        }
        // With a pinned host the same request is redirected.
        try await serve(config(redirect: #"redirect-to-https { host "www.example.com" }"#)) { http, _ in
            let client = try RawClient(port: http)
            client.send("GET /x HTTP/1.0\r\nHost: evil.test\r\n\r\n")
            let answer = client.readAll()
            #expect(answer.hasPrefix("HTTP/1.1 308"), "\(answer)")
            #expect(answer.contains("Location: https://www.example.com/x\r\n"), "\(answer)")
        }
    }

    @Test func hstsReplacesTheUpstreamsAndIsOnSentinelsOwnAnswers() async throws {
        let upstream = try await ScriptedUpstream { _ in .ok("up", headers: [("Strict-Transport-Security", "max-age=1")]) }
        try await serve(config(upstreamPort: upstream.port)) { _, https in
            let base = ["-i", "--resolve", "a.test:\(https):127.0.0.1"]
            let proxied = try curl(base + ["https://a.test:\(https)/up"])
            #expect(proxied.stdout.contains("Strict-Transport-Security: max-age=600; includeSubDomains\r\n"), "\(proxied.stdout)")
            #expect(!proxied.stdout.contains("max-age=1\r\n"), "\(proxied.stdout)")
            let builtin = try curl(base + ["https://a.test:\(https)/health"])
            #expect(builtin.stdout.contains("Strict-Transport-Security: max-age=600; includeSubDomains\r\n"), "\(builtin.stdout)")
            let notFound = try curl(base + ["https://a.test:\(https)/nowhere"])
            #expect(notFound.stdout.hasPrefix("HTTP/1.1 404"), "\(notFound.stdout)")
            #expect(notFound.stdout.contains("Strict-Transport-Security: max-age=600"), "\(notFound.stdout)")
        }
        await upstream.shutdown()
    }

    /// A route's response policy that names the field decides it (here: removes it).
    @Test func routePolicyOverridesTheListenersHSTS() async throws {
        let upstream = try await ScriptedUpstream { _ in .ok("up") }
        let policy = #"policies { response-headers { remove "Strict-Transport-Security" } }"#
        try await serve(config(upstreamPort: upstream.port, responsePolicy: policy)) { _, https in
            let r = try curl(["-i", "--resolve", "a.test:\(https):127.0.0.1", "https://a.test:\(https)/up"])
            #expect(r.stdout.hasPrefix("HTTP/1.1 200"), "\(r.stdout)")
            #expect(!r.stdout.lowercased().contains("strict-transport-security"), "\(r.stdout)")
        }
        await upstream.shutdown()
    }
}
