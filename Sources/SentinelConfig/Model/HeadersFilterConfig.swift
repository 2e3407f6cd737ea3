import KDL

/// `type "headers"`: edits request and/or response headers.
public struct HeadersFilterConfig: Sendable, Hashable {
    /// `phase`: request (default), response or both.
    public var phase: FilterPhase = .request
    /// The `rename`/`set`/`add`/`remove` edits.
    public var modifications = HeaderModifications()

    public init() {}

    static func read(from r: inout NodeReader) -> HeadersFilterConfig {
        var c = HeadersFilterConfig()
        c.phase = r.choice("phase", default: c.phase, options: FilterPhase.options)
        c.modifications = HeaderModifications.read(from: &r)
        if c.modifications.isEmpty {
            r.sink.warning(r.location, r.path, "this headers filter changes nothing",
                           hint: "add rename { … }, set { … }, add { … } or remove \"…\"")
        }
        return c
    }
}
