import Logging
import SentinelFormat
import SentinelObservability
import SentinelRateLimit
import Synchronization

/// What a `geo` filter does with a request, given what its database says about the client:
/// pure, so the table of cases is tested without a database.
public struct GeoRule: Sendable, Equatable {
    public enum Action: Sendable, Equatable {
        /// Refuse the listed countries.
        case block
        /// Refuse every country not listed (and an address with no country); an empty list allows all.
        case allow
        /// Refuse nothing; a listed country is logged.
        case logOnly
    }

    public enum Outcome: Equatable, Sendable {
        /// Let the request through; `listed`: its country is in the list (log-only logs it).
        case pass(country: String?, listed: Bool)
        /// Answer with the rule's status.
        case refuse(country: String?)
    }

    public let action: Action
    /// ISO 3166-1 alpha-2 codes, upper case.
    public let countries: [String]
    public let status: Int
    public let message: String
    /// Send `X-GeoIP-Country` upstream (and to the client).
    public let addCountryHeader: Bool

    public init(action: Action, countries: [String], status: Int = 403, message: String? = nil, addCountryHeader: Bool = true) {
        self.action = action
        self.countries = countries.map { $0.uppercased() }
        self.status = status
        self.message = message ?? "Access denied"
        self.addCountryHeader = addCountryHeader
    }

    /// The outcome for a client whose country is `country` (nil: the database has none for it).
    public func decide(country: String?) -> Outcome {
        let listed = country.map { countries.contains($0) } ?? false
        switch action {
        case .block: return listed ? .refuse(country: country) : .pass(country: country, listed: false)
        case .allow: return countries.isEmpty || listed ? .pass(country: country, listed: listed) : .refuse(country: country)
        case .logOnly: return .pass(country: country, listed: listed)
        }
    }
}

/// `type "geo"`: looks the client's address (the trusted one: `ClientAddress`) up in the filter's
/// database, refuses or passes the request by its country, and tags it with `X-GeoIP-Country`
/// (to the upstream, replacing any the client sent, and on the response as the original does).
/// A database that cannot be read, or a lookup that fails, is the filter's failure: `on-failure`
/// (open by default) decides, and it is counted and logged like every filter failure.
struct GeoFilter: RequestFilter {
    let rule: GeoRule
    let source: GeoSource
    /// The refusal's JSON body, made once.
    let body: String
    /// Per country: the request and response edits that carry it (built once per country seen,
    /// at most 26 × 26; a request then shares them instead of building its own).
    private let edits = CountryEdits()
    /// Removes a client's own `X-GeoIP-Country` when the filter has no country to send.
    let strip: HeaderEdits
    /// The second of the last log-only line and the matches not logged since.
    private let logged = LogBound()

    static let headerName = "X-GeoIP-Country"

    init(rule: GeoRule, source: GeoSource) {
        self.rule = rule
        self.source = source
        body = "{\"error\":\(JSONString.quoted(rule.message)),\"status\":\(rule.status)}"
        strip = HeaderEdits(rename: [], set: [(String, String)](), add: [], remove: [Self.headerName])
    }

    func onRequest(_ request: borrowing FilterRequest, effects: inout FilterEffects) -> FilterDecision {
        guard let database = source.database else {
            if rule.addCountryHeader { effects.editRequest(strip) }
            source.lookupFailed()
            return .failed(.unavailable(source.unreadable?.description ?? "GeoIP database \"\(source.path)\" is not open"))
        }
        let country: String?
        switch database.lookup(request.clientAddress) {
        case .country(let c): country = c
        case .none: country = nil
        case .failed(let why):
            if rule.addCountryHeader { effects.editRequest(strip) }
            source.lookupFailed()
            return .failed(.unavailable("GeoIP lookup of \(request.clientAddress): \(why)"))
        }
        switch rule.decide(country: country) {
        case .refuse:
            return .answer(LocalAnswer(status: rule.status, content: .json(body), keepAlive: true, error: nil))
        case .pass(let country, let listed):
            if rule.action == .logOnly, listed, let country { logMatch(request, country: country) }
            guard rule.addCountryHeader else { return .next }
            if let country {
                let (up, down) = edits(for: country)
                effects.editRequest(up)
                effects.editResponse(down)
            } else {
                effects.editRequest(strip)
            }
            return .next
        }
    }

    private func edits(for country: String) -> (HeaderEdits, HeaderEdits) {
        edits.table.withLock { table in
            if let e = table[country] { return e }
            let set = HeaderEdits(rename: [], set: [(Self.headerName, country)], add: [], remove: [])
            if table.count < 26 * 26 { table[country] = (set, set) }
            return (set, set)
        }
    }

    /// Logs a listed country of a log-only filter: at most one line a second, with the count of
    /// those not logged since.
    private func logMatch(_ request: borrowing FilterRequest, country: String) {
        guard let logger = request.logger else { return }
        let second = RateLimitClock.monotonicNanos() / 1_000_000_000
        let suppressed: UInt64? = logged.state.withLock { s in
            if s.second == second { s.suppressed += 1; return nil }
            let n = s.suppressed
            s = (second, 0)
            return n
        }
        guard let suppressed else { return }
        logger.emit("info", "geo_matched", [
            "filter": .string(source.id), "route": .string(request.routeID), "client": .string(request.clientAddress),
            "country": .string(country), "action": .string("log-only"), "not_logged_since_last": .string(String(suppressed)),
        ])
    }
}

extension FilterChain.Entry {
    /// A geo filter's place in a chain; `failOpen`: `on-failure "open"` (a database or lookup
    /// failure lets the request through).
    public static func geo(id: String, rule: GeoRule, source: GeoSource, failOpen: Bool) -> FilterChain.Entry {
        FilterChain.Entry(id: id, type: "geo", failureMode: failOpen ? .open : .closed, filter: GeoFilter(rule: rule, source: source))
    }
}

/// The per-country edits of a geo filter (a class: the filter is a copyable value).
final class CountryEdits: Sendable {
    let table = Mutex<[String: (HeaderEdits, HeaderEdits)]>([:])
}

/// The second of a log-only filter's last line and the matches not logged since.
final class LogBound: Sendable {
    let state = Mutex<(second: UInt64, suppressed: UInt64)>((0, 0))
}
