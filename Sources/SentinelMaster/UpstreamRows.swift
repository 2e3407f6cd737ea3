import SentinelConfig

extension UpstreamRow {
    /// The `"upstreams":[…]` member of the builtin `upstreams` answer for the whole instance,
    /// as lines (one target each, so no line nears the protocol's limit; JSON ignores the breaks).
    ///
    /// Rows of the same target from several workers merge: the worst health (unhealthy, then
    /// healthy, then unknown) and breaker state (open, half_open, closed), ejected if any worker
    /// ejected it, in-flight requests summed. Verdicts of active checks are the same in every
    /// worker (one prober, relayed); breakers and passive ejection are each worker's own.
    static func merged(_ rows: [UpstreamRow]) -> [String] {
        guard !rows.isEmpty else { return [] }
        var order: [String] = []
        var targets: [String: [String]] = [:]
        var merged: [String: UpstreamRow] = [:]
        func rank(_ health: String) -> Int { health == "unhealthy" ? 2 : health == "healthy" ? 1 : 0 }
        func rank(breaker: String) -> Int { breaker == "open" ? 2 : breaker == "half_open" ? 1 : 0 }
        for row in rows {
            let key = row.upstream + "\t" + row.address
            guard var m = merged[key] else {
                if targets[row.upstream] == nil { order.append(row.upstream) }
                targets[row.upstream, default: []].append(key)
                merged[key] = row
                continue
            }
            if rank(row.health) > rank(m.health) { m.health = row.health }
            if rank(breaker: row.breaker) > rank(breaker: m.breaker) { m.breaker = row.breaker }
            m.ejected = m.ejected || row.ejected
            if let n = row.inFlight { m.inFlight = (m.inFlight ?? 0) + n }
            merged[key] = m
        }
        var lines = [#""upstreams":["#]
        for (ui, upstream) in order.enumerated() {
            lines.append("{\"id\":" + JSONValue.string(upstream).serialized() + ",\"targets\":[")
            let keys = targets[upstream] ?? []
            for (ti, key) in keys.enumerated() {
                let t = merged[key]!
                let object = JSONValue.object([
                    ("address", .string(t.address)), ("weight", .number(String(t.weight))), ("health", .string(t.health)),
                    ("circuit_breaker", .string(t.breaker)), ("ejected", .bool(t.ejected)),
                    ("in_flight", t.inFlight.map { .number(String($0)) } ?? .null),
                ]).serialized()
                lines.append(object + (ti < keys.count - 1 ? "," : ""))
            }
            lines.append("]}" + (ui < order.count - 1 ? "," : ""))
        }
        lines.append("]")
        return lines
    }
}
