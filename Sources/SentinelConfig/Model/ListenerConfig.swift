public import KDL

/// A socket Sentinel accepts clients on (`listeners { listener "<id>" { … } }`).
public struct ListenerConfig: Sendable, Hashable {
    public enum ListenerProtocol: String, Sendable, Hashable {
        /// HTTP/1.1 over TCP.
        case http
        /// TLS with ALPN h2 and http/1.1.
        case https
        /// HTTP/2 over TLS only (ALPN h2).
        case h2
        /// HTTP/3 over QUIC.
        case h3
    }

    public var id: String
    public var address: SocketAddressSpec
    public var proto: ListenerProtocol = .http
    /// How long a client may take to send a complete request head.
    public var requestTimeout: Duration = .seconds(60)
    /// How long an idle keep-alive connection is kept open.
    public var keepaliveTimeout: Duration = .seconds(75)
    /// A request body must arrive at least this fast (bytes per second, averaged from the start
    /// of the body, after `bodyRateGrace`); slower → 408. 0 turns the check off.
    public var bodyMinRate: Int = 1024
    /// How long a body may arrive slower than `bodyMinRate` before the rate counts.
    public var bodyRateGrace: Duration = .seconds(10)
    /// Requests served on one connection before it is closed; nil means no limit.
    public var keepaliveMaxRequests: Int?
    public var maxConcurrentStreams: Int = 100
    /// Route used when no route matches (instead of the JSON 404).
    public var defaultRoute: String?
    public var defaultRouteLocation: KDLSourceLocation?
    /// Serve only this namespace's routes on this listener.
    public var namespace: String?
    public var namespaceLocation: KDLSourceLocation?
    public var tls: ListenerTLSConfig?
    /// A plain HTTP listener that answers every request with 308 to the same path over HTTPS.
    public var redirectToHTTPS: HTTPSRedirectConfig?
    /// Strict-Transport-Security on every response of an HTTPS listener.
    public var hsts: HSTSConfig?
    /// `proxy-protocol #true`: every connection starts with a PROXY protocol header (version 1
    /// or 2) whose client address Sentinel uses, accepted only from `system { trusted-proxies }`
    /// peers. A Sentinel addition (the original has no PROXY protocol).
    public var proxyProtocol = false
    public var proxyProtocolLocation: KDLSourceLocation?
    public var location: KDLSourceLocation

    static func read(_ node: KDLNode, path: ConfigPath, sink: DiagnosticSink) -> ListenerConfig? {
        var r = NodeReader(node, path: path, sink: sink)
        let id = r.identifier("listener")
        let p = path.appending(node, id: id ?? "?")
        r = NodeReader(node, path: p, sink: sink)
        _ = r.identifier("listener")
        let address = r.address("address", requireIPLiteral: true)
        if address == nil, r.node.children.first(where: { $0.name == "address" }) == nil {
            r.missing("address", example: "address \"0.0.0.0:8080\"")
        }
        let proto = r.choice(
            "protocol", default: ListenerProtocol.http,
            options: [("http", .http), ("https", .https), ("h2", .h2), ("h3", .h3)])
        var l = ListenerConfig(id: id ?? "", address: address ?? SocketAddressSpec(host: "0.0.0.0", port: 0), location: node.location)
        l.proto = proto
        l.requestTimeout = r.duration("request-timeout-secs", "request-timeout", unit: .seconds, default: l.requestTimeout, min: .seconds(1))!
        l.keepaliveTimeout = r.duration("keepalive-timeout-secs", "keepalive-timeout", unit: .seconds, default: l.keepaliveTimeout)!
        l.bodyMinRate = Int(r.size("body-min-rate", default: Int64(l.bodyMinRate), range: 0...(1 << 30)) ?? Int64(l.bodyMinRate))
        l.bodyRateGrace = r.duration("body-rate-grace-secs", "body-rate-grace", unit: .seconds, default: l.bodyRateGrace, min: .milliseconds(1))!
        l.keepaliveMaxRequests = r.int("keepalive-max-requests", range: 1...Int64(Int32.max))
        l.maxConcurrentStreams = r.int("max-concurrent-streams", default: 100, range: 1...100_000)
        if let v = r.scalar(["default-route"]) {
            l.defaultRoute = ValueReader(sink: sink, path: p, key: "default-route").string(v)
            l.defaultRouteLocation = v.location
        }
        if let v = r.scalar(["namespace"]) {
            l.namespace = ValueReader(sink: sink, path: p, key: "namespace").string(v)
            l.namespaceLocation = v.location
        }
        if let tlsNode = r.single("tls") {
            l.tls = ListenerTLSConfig.read(tlsNode, path: p, sink: sink)
        }
        if let n = r.single("redirect-to-https") {
            l.redirectToHTTPS = HTTPSRedirectConfig.read(n, path: p, sink: sink)
            if proto != .http {
                sink.error(n.location, p, "redirect-to-https is for plain HTTP listeners (protocol \"\(proto.rawValue)\" already serves TLS)",
                           hint: "put redirect-to-https on the protocol \"http\" listener that should send clients to this one")
            }
        }
        l.proxyProtocol = r.bool("proxy-protocol", default: false)
        if l.proxyProtocol { l.proxyProtocolLocation = r.locationOf("proxy-protocol") }
        if let n = r.single("hsts") {
            l.hsts = HSTSConfig.read(n, path: p, sink: sink)
            if proto == .http {
                sink.error(n.location, p, "hsts on a plain HTTP listener: Strict-Transport-Security is only sent over TLS (RFC 6797 §7.2)",
                           hint: "put hsts on the protocol \"https\" listener")
            }
        }
        r.finish()
        if (proto == .https || proto == .h2 || proto == .h3), l.tls == nil, r.node.children.first(where: { $0.name == "tls" }) == nil {
            sink.error(node.location, p, "protocol \"\(proto.rawValue)\" needs a tls block",
                       hint: "add: tls { cert-file \"/etc/sentinel/cert.pem\"; key-file \"/etc/sentinel/key.pem\" }")
        }
        if proto == .http, let tls = l.tls {
            sink.error(tls.location, p, "a tls block on a listener with protocol \"http\"",
                       hint: "set protocol \"https\" to serve TLS, or remove the tls block")
        }
        guard id != nil, address != nil else { return nil }
        return l
    }
}

/// TLS settings of a listener.
public struct ListenerTLSConfig: Sendable, Hashable {
    public enum TLSVersion: String, Sendable, Hashable, Comparable {
        case tls12 = "TLS1.2"
        case tls13 = "TLS1.3"
        public static func < (a: TLSVersion, b: TLSVersion) -> Bool { a == .tls12 && b == .tls13 }
    }

    /// Client-certificate policy (`client-auth`).
    public enum ClientAuth: String, Sendable, Hashable {
        /// No certificate is asked for.
        case none
        /// A certificate is asked for; one that is sent must verify; none is fine.
        case optional
        /// A verified certificate is required (mTLS).
        case required
    }

    public var certFile: String?
    public var keyFile: String?
    /// A DER OCSP response for `cert-file`, stapled when a client asks.
    public var ocspFile: String?
    public var ocspFileLocation: KDLSourceLocation?
    /// CA bundle used to verify client certificates.
    public var caFile: String?
    /// PEM CRLs of the client CAs: a revoked client certificate is refused.
    public var crlFile: String?
    /// `client-auth`: #true = required; #false or absent = optional with a `ca-file`, else none.
    public var clientAuth: ClientAuth = .none
    /// Most CA certificates between a client certificate and a CA of `ca-file`.
    public var verifyDepth: Int = 8
    public var minVersion: TLSVersion = .tls12
    public var maxVersion: TLSVersion?
    public var cipherSuites: [String] = []
    /// `ocsp-stapling`: nil when not written (staple whatever `ocsp-file`s are given).
    public var ocspStapling: Bool?
    public var ocspStaplingLocation: KDLSourceLocation?
    public var sessionResumption: Bool = true
    public var sni: [SNICertificate] = []
    public var acme: ACMEConfig?
    public var location: KDLSourceLocation

    /// An extra certificate chosen by the client's SNI name.
    public struct SNICertificate: Sendable, Hashable {
        public var hostnames: [String] = []
        /// When true, `hostnames` are tried before names read from the certificate.
        public var priority: Bool = false
        public var certFile: String?
        public var keyFile: String?
        /// A DER OCSP response for this `cert-file`.
        public var ocspFile: String?
        public var ocspFileLocation: KDLSourceLocation?
        public var acme: ACMEConfig?
        public var location: KDLSourceLocation
    }

    /// Every `ocsp-file` of the block, with where it is written.
    public var ocspFiles: [(file: String, location: KDLSourceLocation)] {
        var out: [(String, KDLSourceLocation)] = []
        if let f = ocspFile { out.append((f, ocspFileLocation ?? location)) }
        for s in sni { if let f = s.ocspFile { out.append((f, s.ocspFileLocation ?? s.location)) } }
        return out
    }

    static let clientAuthValues: [(String, ClientAuth)] = [("required", .required), ("optional", .optional), ("none", .none)]

    static let versions: [(String, TLSVersion)] = [
        ("TLS1.2", .tls12), ("TLS1.3", .tls13), ("1.2", .tls12), ("1.3", .tls13), ("TLSv1.2", .tls12), ("TLSv1.3", .tls13),
    ]

    static func read(_ node: KDLNode, path: ConfigPath, sink: DiagnosticSink) -> ListenerTLSConfig {
        let p = path.appending(node)
        var r = NodeReader(node, path: p, sink: sink)
        var t = ListenerTLSConfig(location: node.location)
        t.certFile = r.string("cert-file")
        t.keyFile = r.string("key-file")
        (t.ocspFile, t.ocspFileLocation) = r.stringWithLocation("ocsp-file")
        t.caFile = r.string("ca-file")
        t.crlFile = r.string("crl-file")
        // #true / #false (the original's form) or a word.
        r.trace(["client-auth"], NodeReader.choiceKind(clientAuthValues, default: nil))
        var clientAuthValue: KDLValue?
        var explicitAuth: ClientAuth?
        if let v = r.scalar(["client-auth"]) {
            clientAuthValue = v
            if let b = v.boolValue {
                explicitAuth = b ? .required : nil
            } else {
                explicitAuth = ValueReader(sink: sink, path: p, key: "client-auth").choice(v, options: clientAuthValues)
            }
        }
        t.clientAuth = explicitAuth ?? (t.caFile != nil ? .optional : .none)
        t.verifyDepth = r.int("verify-depth", default: 8, range: 0...32)
        t.minVersion = r.choice("min-version", default: .tls12, options: versions)
        t.maxVersion = r.choice("max-version", options: versions)
        t.cipherSuites = r.stringList("cipher-suite", "cipher-suites") ?? []
        t.ocspStapling = r.bool("ocsp-stapling")
        t.ocspStaplingLocation = node.children.first { $0.name == "ocsp-stapling" }?.location
        t.sessionResumption = r.bool("session-resumption", default: true)
        if let a = r.single("acme") { t.acme = ACMEConfig.read(a, path: p, sink: sink) }
        for s in r.all("sni") {
            let sp = p.appending(s)
            var sr = NodeReader(s, path: sp, sink: sink)
            var cert = SNICertificate(location: s.location)
            let plain = sr.stringList("hostnames")
            let prio = sr.stringList("priority-hostnames")
            if plain != nil, prio != nil {
                sink.error(s.location, sp, "\"hostnames\" and \"priority-hostnames\" cannot be used together", hint: "keep one of them")
            }
            cert.hostnames = prio ?? plain ?? []
            cert.priority = prio != nil
            cert.certFile = sr.string("cert-file")
            cert.keyFile = sr.string("key-file")
            (cert.ocspFile, cert.ocspFileLocation) = sr.stringWithLocation("ocsp-file")
            if let a = sr.single("acme") { cert.acme = ACMEConfig.read(a, path: sp, sink: sink) }
            sr.finish()
            if cert.acme == nil {
                if cert.certFile == nil { sr.missing("cert-file", example: "cert-file \"/etc/sentinel/site.pem\"") }
                if cert.keyFile == nil { sr.missing("key-file", example: "key-file \"/etc/sentinel/site.key\"") }
            }
            for h in cert.hostnames where !Self.isValidSNIPattern(h) {
                sink.error(s.location, sp, "\"\(h)\" is not a valid host name or wildcard (*.example.com)")
            }
            t.sni.append(cert)
        }
        r.finish()
        if t.acme == nil {
            if t.certFile == nil { r.missing("cert-file", example: "cert-file \"/etc/sentinel/cert.pem\"") }
            if t.keyFile == nil { r.missing("key-file", example: "key-file \"/etc/sentinel/key.pem\"") }
        }
        if let max = t.maxVersion, max < t.minVersion {
            sink.error(node.location, p, "max-version \(max.rawValue) is below min-version \(t.minVersion.rawValue)")
        }
        let authAt = clientAuthValue?.location ?? node.location
        if t.clientAuth != .none, t.caFile == nil {
            sink.error(authAt, p, "client-auth \(t.clientAuth.rawValue) needs ca-file to verify client certificates",
                       hint: "add: ca-file \"/etc/sentinel/client-ca.pem\"")
        }
        if t.clientAuth == .none, t.caFile != nil {
            sink.error(authAt, p, "ca-file is not used with client-auth \"none\"",
                       hint: "remove ca-file, or ask for client certificates with client-auth \"optional\" or \"required\"")
        }
        if t.crlFile != nil, t.caFile == nil {
            sink.error(node.location, p, "crl-file needs ca-file (the CRLs are checked for client certificates)",
                       hint: "add: ca-file \"/etc/sentinel/client-ca.pem\"")
        }
        if t.caFile == nil, node.children.contains(where: { $0.name == "verify-depth" }) {
            sink.error(node.location, p, "verify-depth needs ca-file (it bounds client certificate chains)")
        }
        if t.ocspStapling == false, let first = t.ocspFiles.first {
            sink.error(first.location, p, "ocsp-file is given but ocsp-stapling is #false",
                       hint: "remove ocsp-file, or remove ocsp-stapling #false to staple it")
        }
        return t
    }

    static func isValidSNIPattern(_ h: String) -> Bool {
        var name = Substring(h)
        if name.hasPrefix("*.") { name = name.dropFirst(2) }
        guard !name.isEmpty, name.count <= 253 else { return false }
        return name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.count <= 63 && label.unicodeScalars.allSatisfy { c in
                (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "-"
            }
        }
    }
}

extension NodeReader {
    /// A string child and where its value is written (for diagnostics about the file it names).
    mutating func stringWithLocation(_ name: String) -> (String?, KDLSourceLocation?) {
        trace([name], .string)
        guard let v = scalar([name]) else { return (nil, nil) }
        return (ValueReader(sink: sink, path: path, key: name).string(v), v.location)
    }
}
