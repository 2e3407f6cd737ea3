import KDL

/// `type "geo"`: allows or blocks requests by the client's country (GeoIP database).
public struct GeoFilterConfig: Sendable, Hashable {
    public enum DatabaseType: String, Sendable, Hashable {
        /// MaxMind `.mmdb`.
        case maxmind
        /// IP2Location `.bin`.
        case ip2location
    }

    public enum Action: String, Sendable, Hashable {
        /// Block the listed countries (the default).
        case block
        /// Allow only the listed countries.
        case allow
        /// Only record the country (header and logs).
        case logOnly = "log-only"
    }

    /// `database-path` (required): the GeoIP database; watched and reloaded when it changes.
    public var databasePath: String
    /// `database-type`: inferred from the extension (`.mmdb`, `.bin`) when not given.
    public var databaseType: DatabaseType
    /// `action`: what the country list means.
    public var action: Action = .block
    /// `countries "US,CN"`: ISO 3166-1 alpha-2 codes, upper-cased.
    public var countries: [String] = []
    /// `on-failure`: when the lookup fails, let the request through (open) or block it (closed).
    public var onFailure: FailureMode = .open
    /// `status-code`: the status of a blocked request.
    public var statusCode = 403
    /// `block-message`: the body of a blocked request.
    public var blockMessage: String?
    /// `cache-ttl-secs`: how long a lookup result is cached per IP.
    public var cacheTTL: Duration = .seconds(3600)
    /// `add-country-header`: add `X-GeoIP-Country` to the upstream request.
    public var addCountryHeader = true

    public init(databasePath: String, databaseType: DatabaseType) {
        self.databasePath = databasePath
        self.databaseType = databaseType
    }

    static func read(from r: inout NodeReader) -> GeoFilterConfig? {
        let sink = r.sink
        let path = r.string("database-path")
        var type = r.choice("database-type", options: [("maxmind", DatabaseType.maxmind), ("mmdb", .maxmind), ("ip2location", .ip2location)])
        let action = r.choice("action", default: Action.block, options: [("block", .block), ("allow", .allow), ("log-only", .logOnly)])
        var countries: [String] = []
        for (code, location) in r.commaList("countries") ?? [] {
            let upper = code.uppercased()
            if upper.count == 2, upper.allSatisfy({ $0.isASCII && $0.isLetter }) {
                if !countries.contains(upper) { countries.append(upper) }
            } else {
                sink.error(location, r.path, "\"\(code)\" is not a country code", hint: "use ISO 3166-1 alpha-2 codes such as \"US\", \"DE\"")
            }
        }
        let onFailure = r.choice("on-failure", default: FailureMode.open, options: FailureMode.options)
        let status = r.int("status-code", default: 403, range: 400...599)
        let message = r.string("block-message", allowEmpty: true)
        let ttl = r.duration("cache-ttl-secs", unit: .seconds, default: .seconds(3600))!
        let header = r.bool("add-country-header", default: true)

        if action != .logOnly, countries.isEmpty, !r.has("countries") {
            sink.error(r.location, r.path, "a geo filter with action \"\(action.rawValue)\" needs \"countries\"",
                       hint: "e.g. countries \"US,CA\"; or use action \"log-only\" to only tag requests")
        }
        guard let path else {
            if !r.has("database-path") {
                sink.error(r.location, r.path, "a geo filter needs \"database-path\"", hint: "database-path \"/var/lib/GeoIP/GeoLite2-Country.mmdb\"")
            }
            return nil
        }
        if type == nil {
            let lower = path.lowercased()
            if lower.hasSuffix(".mmdb") { type = .maxmind } else if lower.hasSuffix(".bin") { type = .ip2location } else if !r.has("database-type") {
                sink.error(r.locationOf("database-path"), r.path, "cannot tell the GeoIP database type from \"\(path)\"",
                           hint: "add database-type \"maxmind\" or \"ip2location\"")
            }
        }
        guard let type else { return nil }
        var c = GeoFilterConfig(databasePath: path, databaseType: type)
        c.action = action
        c.countries = countries
        c.onFailure = onFailure
        c.statusCode = status
        c.blockMessage = message
        c.cacheTTL = ttl
        c.addCountryHeader = header
        return c
    }
}
