import SentinelRateLimit

extension HeaderEdits {
    /// These edits, then `later`'s: each kind of edit (renames, sets, adds, removes) with this
    /// value's first. How a filter's edits join the route's `request-headers` policy.
    public func followed(by later: HeaderEdits) -> HeaderEdits {
        var joined = self
        joined.renames += later.renames
        joined.sets += later.sets
        joined.adds += later.adds
        joined.removes += later.removes
        joined.dropIncoming += later.dropIncoming
        return joined
    }
}

extension HeaderEdits {
    private static let rateLimitNames: [(lower: [UInt8], name: [UInt8])] = ["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"]
        .map { (Array($0.lowercased().utf8), Array($0.utf8)) }

    /// The X-RateLimit-Limit/-Remaining/-Reset fields of an admitted request's response (set:
    /// an upstream's own fields of these names are replaced). Names made once; three numbers.
    static func rateLimit(_ v: RateLimitVerdict) -> HeaderEdits {
        var e = HeaderEdits()
        let values = [String(v.limit), String(v.remaining), String(v.resetEpochSeconds)]
        e.sets = (0..<3).map { Field(lowerName: rateLimitNames[$0].lower, name: rateLimitNames[$0].name, value: Array(values[$0].utf8)) }
        return e
    }
}
