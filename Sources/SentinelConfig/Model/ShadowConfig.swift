import KDL

/// A route's `shadow { … }` block: mirrors a share of requests to another upstream,
/// fire-and-forget (the mirror's response is discarded and never affects the client).
public struct ShadowConfig: Sendable, Hashable {
    /// `upstream "<id>"` (required): where copies are sent.
    public var upstream: ConfigReference
    /// `percentage`: share of requests mirrored, 0...100.
    public var percentage = 100.0
    /// `sample-header "Name" "value"`: only mirror requests carrying this header with this value.
    public var sampleHeader: (name: String, value: String)?
    /// `timeout-ms`: the mirror request's timeout.
    public var timeout: Duration = .milliseconds(5000)
    /// `buffer-body`: buffer the request body so it can be mirrored (needed for POST/PUT bodies).
    public var bufferBody = false
    /// `max-body-bytes`: bodies larger than this are not mirrored.
    public var maxBodyBytes: Int64 = 1 << 20

    public init(upstream: ConfigReference) {
        self.upstream = upstream
    }

    /// The upstream this block refers to.
    public var references: [ConfigReference] { [upstream] }

    public static func == (a: ShadowConfig, b: ShadowConfig) -> Bool {
        a.upstream == b.upstream && a.percentage == b.percentage && a.sampleHeader?.name == b.sampleHeader?.name
            && a.sampleHeader?.value == b.sampleHeader?.value && a.timeout == b.timeout && a.bufferBody == b.bufferBody
            && a.maxBodyBytes == b.maxBodyBytes
    }

    public func hash(into h: inout Hasher) {
        h.combine(upstream)
        h.combine(percentage)
        h.combine(sampleHeader?.name)
        h.combine(sampleHeader?.value)
    }

    /// Reads a `shadow { … }` node; nil when `upstream` is missing or invalid.
    static func read(_ node: KDLNode, path: ConfigPath, sink: DiagnosticSink) -> ShadowConfig? {
        var r = NodeReader(node, path: path.appending(node), sink: sink)
        let upstream = r.reference(.upstream, "upstream")
        let percentage = r.double("percentage", default: 100, range: 0...100)
        var sample: (String, String)?
        if let h = r.single("sample-header") {
            var hr = NodeReader(h, path: r.path.appending(h), sink: sink)
            let args = hr.arguments()
            let reader = ValueReader(sink: sink, path: hr.path, key: "sample-header")
            if args.count != 2 {
                sink.error(h.location, hr.path, "\"sample-header\" takes a header name and a value", hint: "sample-header \"X-Shadow\" \"1\"")
            } else if let name = reader.string(args[0]), let value = reader.string(args[1], allowEmpty: true),
                      HTTPSyntax.checkHeaderName(name, at: args[0].location, hr.path, sink),
                      HTTPSyntax.checkHeaderValue(value, name: name, at: args[1].location, hr.path, sink) {
                sample = (name, value)
            }
            hr.finish()
        }
        let timeout = r.duration("timeout-ms", unit: .milliseconds, default: .milliseconds(5000), min: .milliseconds(1))!
        let bufferBody = r.bool("buffer-body", default: false)
        let maxBody = r.size("max-body-bytes", default: 1 << 20, range: 0...Int64.max)!
        if upstream == nil, !r.has("upstream") {
            sink.error(node.location, r.path, "shadow needs \"upstream\"", hint: "shadow { upstream \"<upstream-id>\"; percentage 10 }")
        }
        if percentage == 0 {
            sink.warning(r.locationOf("percentage"), r.path, "percentage 0 mirrors nothing")
        }
        r.finish()
        guard let upstream else { return nil }
        var c = ShadowConfig(upstream: upstream)
        c.percentage = percentage
        c.sampleHeader = sample
        c.timeout = timeout
        c.bufferBody = bufferBody
        c.maxBodyBytes = maxBody
        return c
    }
}
