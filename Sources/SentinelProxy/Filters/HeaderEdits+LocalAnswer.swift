extension HeaderEdits {
    /// Fields Sentinel frames its own answers with: an edit never writes or removes them there.
    private static let framing: [[UInt8]] = ["content-length", "transfer-encoding", "connection", "date"].map { Array($0.utf8) }

    /// Applies these edits to one of Sentinel's own answers (a builtin route, a filter's or an
    /// agent's answer, a refusal after routing), as they apply to an upstream's response: the
    /// route's `response-headers` and its response-phase `headers` filters hold for every
    /// response on the route, whoever made it (as nginx's `add_header … always`). Framing fields
    /// stay Sentinel's. Off the hot path: local answers only.
    func apply(to headers: inout [(name: String, value: String)], tls: ConnectionTLS?) {
        guard !isEmpty else { return }
        var out: [(name: String, value: String)] = []
        out.reserveCapacity(headers.count + sets.count + adds.count)
        for (name, value) in headers {
            var lower = Array(name.lowercased().utf8)
            var written = name
            if !Self.framing.contains(lower), let r = renames.first(where: { $0.from == lower }) {
                written = String(decoding: r.to, as: UTF8.self)
                lower = r.to.map(HeaderBytes.lower)
            }
            if !Self.framing.contains(lower), sets.contains(where: { $0.lowerName == lower }) || removes.contains(lower) { continue }
            out.append((written, value))
        }
        for f in sets + adds where !removes.contains(f.lowerName) && !Self.framing.contains(f.lowerName) {
            guard let value = Self.value(f, tls: tls) else { continue }
            out.append((String(decoding: f.name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
        }
        headers = out
    }

    /// A field's value, its variables expanded (nil: a variable has no value here: left out,
    /// as on a proxied response).
    private static func value(_ f: Field, tls: ConnectionTLS?) -> [UInt8]? {
        guard let parts = f.parts else { return f.value }
        var out: [UInt8] = []
        for part in parts {
            switch part {
            case .literal(let bytes): out += bytes
            case .variable(let v):
                let value: [UInt8]? = if let tls { tls.value(v) } else { ConnectionTLS.plainValue(v) }
                guard let value else { return nil }
                out += value
            }
        }
        return out.isEmpty ? nil : out
    }
}
