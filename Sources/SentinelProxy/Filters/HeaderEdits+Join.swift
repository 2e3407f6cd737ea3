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
