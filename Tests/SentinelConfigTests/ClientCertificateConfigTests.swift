import SentinelConfig
import Testing

/// `client-auth`, `crl-file`, `verify-depth`, `ocsp-file`/`ocsp-stapling` and header-value
/// variables: what loads, what is refused, and where.
@Suite struct ClientCertificateConfigTests {
    func https(_ tls: String) -> String {
        """
        system { worker-threads 1 }
        listeners {
            listener "s" {
                address "127.0.0.1:0"
                protocol "https"
                tls {
                    cert-file "/c.pem"
                    key-file "/k.pem"
                    \(tls)
                }
            }
        }
        routes { route "h" { matches { path "/health" }; builtin-handler "health" } }
        """
    }

    func tls(_ text: String) -> ListenerTLSConfig? { valid(https(text))?.listeners.first?.tls }

    @Test func clientAuthForms() {
        #expect(tls("")?.clientAuth == ListenerTLSConfig.ClientAuth.none)
        // ca-file alone (and #false, the original's default) asks for a certificate: optional.
        #expect(tls(#"ca-file "/ca.pem""#)?.clientAuth == .optional)
        #expect(tls(#"ca-file "/ca.pem"; client-auth #false"#)?.clientAuth == .optional)
        #expect(tls(#"ca-file "/ca.pem"; client-auth #true"#)?.clientAuth == .required)
        #expect(tls(#"ca-file "/ca.pem"; client-auth "required""#)?.clientAuth == .required)
        #expect(tls(#"ca-file "/ca.pem"; client-auth "optional""#)?.clientAuth == .optional)
        #expect(tls(#"client-auth "none""#)?.clientAuth == ListenerTLSConfig.ClientAuth.none)
        let t = tls(#"ca-file "/ca.pem"; client-auth "required"; crl-file "/crl.pem"; verify-depth 2"#)
        #expect(t?.crlFile == "/crl.pem" && t?.verifyDepth == 2)
        #expect(tls("")?.verifyDepth == 8)
    }

    @Test func clientAuthMistakesAreRefusedWhereWritten() {
        let noCA = diagnostics(https(#"client-auth "required""#), file: "c.kdl")
        #expect(noCA.count == 1 && noCA[0].message.contains("needs ca-file"), "\(noCA)")
        #expect(noCA.first?.location.line == 9)
        let unused = diagnostics(https(#"ca-file "/ca.pem"; client-auth "none""#))
        #expect(unused.count == 1 && unused[0].message.contains("not used"), "\(unused)")
        let word = diagnostics(https(#"ca-file "/ca.pem"; client-auth "requird""#))
        #expect(word.count == 1 && word[0].hint?.contains("did you mean \"required\"") == true, "\(word)")
        let crl = diagnostics(https(#"crl-file "/crl.pem""#))
        #expect(crl.count == 1 && crl[0].message.contains("crl-file needs ca-file"), "\(crl)")
        let depth = diagnostics(https(#"ca-file "/ca.pem"; verify-depth 99"#))
        #expect(depth.count == 1 && depth[0].message.contains("outside"), "\(depth)")
    }

    @Test func ocspStaplingIsHonouredOrRefused() {
        // Not written: staple what ocsp-file gives (nothing here).
        #expect(tls("")?.ocspStapling == nil)
        let t = tls(#"ocsp-file "/a.der"; sni { hostnames "b.test"; cert-file "/b.pem"; key-file "/b.key"; ocsp-file "/b.der" }"#)
        #expect(t?.ocspFiles.map(\.file) == ["/a.der", "/b.der"])
        #expect(t?.ocspFileLocation?.line == 9)
        // #true without a file would staple nothing: there is no fetcher.
        let fetch = diagnostics(https("ocsp-stapling #true"))
        #expect(fetch.count == 1 && fetch[0].message == "not supported yet: fetching OCSP responses (give ocsp-file)", "\(fetch)")
        #expect(fetch.first?.location.line == 9)
        #expect(tls(#"ocsp-stapling #true; ocsp-file "/a.der""#)?.ocspStapling == true)
        let off = diagnostics(https(#"ocsp-stapling #false; ocsp-file "/a.der""#))
        #expect(off.count == 1 && off[0].message.contains("ocsp-stapling is #false"), "\(off)")
        #expect(tls("ocsp-stapling #false")?.ocspStapling == false)
    }

    func route(_ policies: String) -> String {
        minimal("upstreams { upstream \"u\" { target \"127.0.0.1:9\" } }", routes: """
            route "r" { matches { path-prefix "/" }; upstream "u"; policies { \(policies) } }
            """)
    }

    @Test func headerVariablesInRequestHeaders() throws {
        let c = try #require(valid(route(#"request-headers { set { X-Subject "cert: {tls_client_subject}" }; add { X-Verify "{tls_client_verify}" } }"#)))
        let set = try #require(c.routes.first?.policies.requestHeaders.set.first)
        #expect(set.template == [.literal("cert: "), .variable(.tlsClientSubject)])
        #expect(c.routes.first?.policies.requestHeaders.add.first?.template == [.variable(.tlsClientVerify)])
        // No variable: a plain value; `{{` is a literal brace; other braces are text.
        let plain = try #require(valid(route(#"request-headers { set { X-A "{\"k\": 1}"; X-B "{{tls_sni}"; X-C "{Upper}" } }"#)))
        let fields = try #require(plain.routes.first?.policies.requestHeaders.set)
        #expect(fields.map(\.template) == [nil, nil, nil])
        #expect(fields.map(\.value) == [#"{"k": 1}"#, "{tls_sni}", "{Upper}"])
    }

    @Test func unknownOrMisplacedVariablesAreRefusedWithTheirLocation() {
        let unknown = diagnostics(route(#"request-headers { set { X-Subject "{tls_client_subjct}" } }"#), file: "v.kdl")
        #expect(unknown.count == 1, "\(unknown)")
        #expect(unknown.first?.message == "unknown variable {tls_client_subjct} in the value of header \"X-Subject\"")
        #expect(unknown.first?.hint?.contains("{tls_client_subject}") == true)
        #expect(unknown.first?.location.file == "v.kdl" && unknown.first?.location.line == 4, "\(unknown)")
        let response = diagnostics(route(#"response-headers { set { X-Subject "{tls_client_subject}" } }"#))
        #expect(response.count == 1 && response[0].message.contains("only in a route's request-headers"), "\(response)")
    }
}
