import KDL

/// How Sentinel reaches an agent. Exactly one of `unix-socket`, `grpc` or `http` is required.
public enum AgentTransport: Sendable, Hashable {
    /// `unix-socket "/run/waf.sock"` or `unix-socket path="/run/waf.sock"`: the binary UDS protocol.
    case unixSocket(path: String)
    /// `grpc "http://127.0.0.1:50051"` or `grpc address="…"`, optionally with TLS children.
    case grpc(address: String, tls: AgentTLSConfig?)
    /// `http "https://…"` (the original rejected it at runtime for protocol v2).
    case http(url: String, tls: AgentTLSConfig?)

    public var name: String {
        switch self {
        case .unixSocket: return "unix-socket"
        case .grpc: return "grpc"
        case .http: return "http"
        }
    }

    static let names = ["unix-socket", "grpc", "http"]

    /// Reads the transport children of an agent reader. Reports zero or several transports.
    static func read(from r: inout NodeReader, agentID: String?) -> AgentTransport? {
        let nodes = r.all(names)
        // The documentation's `transport { type "unix_socket"; path "…" }` form was never read
        // by the original parser; point to the real syntax instead of a bare "unknown setting".
        for t in r.all("transport") {
            r.sink.error(t.location, r.path.appending(t), "\"transport { … }\" is not supported",
                         hint: "write the transport directly in the agent block: unix-socket \"/run/sentinel/agent.sock\", grpc \"http://127.0.0.1:50051\" or http \"https://…\"")
        }
        guard let first = nodes.first else {
            if r.has("transport") { return nil }
            r.sink.error(r.location, r.path, "agent \(agentID.map { "\"\($0)\" " } ?? "")needs a transport",
                         hint: "add one of: unix-socket \"/run/sentinel/agent.sock\", grpc \"http://127.0.0.1:50051\", http \"https://…\"")
            return nil
        }
        for extra in nodes.dropFirst() {
            r.sink.error(extra.location, r.path.appending(extra), "an agent has exactly one transport; \"\(first.name)\" is already given at line \(first.location.line)",
                         hint: "remove one of them")
        }
        return read(first, path: r.path, sink: r.sink)
    }

    private static func read(_ node: KDLNode, path: ConfigPath, sink: DiagnosticSink) -> AgentTransport? {
        var r = NodeReader(node, path: path.appending(node), sink: sink)
        let propertyName = switch node.name {
        case "unix-socket": "path"
        case "grpc": "address"
        default: "url"
        }
        let argument = r.argument(0)
        let property = r.property(propertyName)
        var value: KDLValue?
        switch (argument, property) {
        case (let a?, let p?):
            sink.error(p.location, r.path, "\"\(node.name)\" has both a value and \(propertyName)=", hint: "keep one")
            value = a
        case (let a?, nil): value = a
        case (nil, let p?): value = p
        case (nil, nil):
            sink.error(node.location, r.path, "\"\(node.name)\" needs a \(propertyName)",
                       hint: "write it as: \(node.name) \"<\(propertyName)>\" or \(node.name) \(propertyName)=\"<\(propertyName)>\"")
        }
        var text = value.flatMap { ValueReader(sink: sink, path: r.path, key: propertyName).string($0) }
        var tls: AgentTLSConfig?
        if node.name != "unix-socket" {
            tls = AgentTLSConfig.read(from: &r)
            if let t = text, let v = value {
                let lower = t.lowercased()
                if !(lower.hasPrefix("http://") || lower.hasPrefix("https://")) {
                    sink.error(v.location, r.path, "\"\(t)\" is not an http:// or https:// URL",
                               hint: node.name == "grpc" ? "e.g. grpc \"http://127.0.0.1:50051\"" : "e.g. http \"https://agent.internal:8443\"")
                    text = nil
                } else if lower.hasPrefix("https://"), tls == nil {
                    tls = AgentTLSConfig()
                }
            }
        }
        r.finish()
        guard let text else { return nil }
        switch node.name {
        case "unix-socket": return .unixSocket(path: text)
        case "grpc": return .grpc(address: text, tls: tls)
        default: return .http(url: text, tls: tls)
        }
    }
}

/// TLS to a gRPC or HTTP agent: children of the transport node
/// (`grpc "https://…" { ca-cert "/p"; client-cert "/c"; client-key "/k" }`).
public struct AgentTLSConfig: Sendable, Hashable {
    /// `tls-insecure`: skip certificate verification (testing only).
    public var insecureSkipVerify = false
    /// `ca-cert`: CA bundle that signs the agent's certificate (default: system roots).
    public var caCert: String?
    /// `client-cert` / `client-key`: client certificate for mTLS (both or neither).
    public var clientCert: String?
    public var clientKey: String?

    public init() {}

    static func read(from r: inout NodeReader) -> AgentTLSConfig? {
        var present = false
        var c = AgentTLSConfig()
        for name in ["tls", "tls-insecure"] {
            guard let node = r.single(name) else { continue }
            var nr = NodeReader(node, path: r.path.appending(node), sink: r.sink)
            var on = true
            if let v = nr.argument(0) {
                on = ValueReader(sink: r.sink, path: r.path, key: name).bool(v) ?? true
            }
            nr.finish()
            if name == "tls" { present = present || on } else if on { present = true; c.insecureSkipVerify = true }
        }
        if let v = r.string("ca-cert") { c.caCert = v; present = true }
        if let v = r.string("client-cert") { c.clientCert = v; present = true }
        if let v = r.string("client-key") { c.clientKey = v; present = true }
        if (c.clientCert == nil) != (c.clientKey == nil) {
            let given = c.clientCert == nil ? "client-key" : "client-cert"
            r.sink.error(r.locationOf(given), r.path, "\"\(given)\" needs \"\(given == "client-key" ? "client-cert" : "client-key")\" as well",
                         hint: "mTLS needs both the certificate and its key")
        }
        if c.insecureSkipVerify, c.caCert != nil {
            r.sink.warning(r.locationOf("tls-insecure"), r.path, "tls-insecure disables verification, so \"ca-cert\" is not used")
        }
        return present ? c : nil
    }
}
