public import SentinelCompression

/// A route's filters, resolved once when the snapshot is built: the request-phase filters in the
/// order the route lists them, the response-phase ones, and what every request on the route gets
/// regardless of its content (the response edits of static `headers` filters), joined ahead of
/// time. One reference per route; a route without filters shares `FilterChain.none`, and the
/// request path tests `isEmpty` once and does nothing else for it.
///
/// The chain is run by `FilterRun` (a value: which filter is next, what the filters so far
/// decided), so the same chain serves the NIO host and the reactor host alike.
public final class FilterChain: Sendable {
    /// One filter of the chain with what the chain needs to know about it.
    public struct Entry: Sendable {
        /// The filter's id as configured (metric and log label: bounded by the configuration).
        public let id: String
        /// The filter's type name (`headers`, `cors`, …).
        public let type: String
        /// What happens when the filter cannot decide (its backend is down, it timed out).
        public let failureMode: FilterFailureMode
        let filter: any RequestFilter

        init(id: String, type: String, failureMode: FilterFailureMode = .closed, filter: any RequestFilter) {
            self.id = id
            self.type = type
            self.failureMode = failureMode
            self.filter = filter
        }

        /// This entry with failure mode `mode` (the route policy's default, for a filter that
        /// sets none of its own).
        public func failing(_ mode: FilterFailureMode) -> Entry {
            Entry(id: id, type: type, failureMode: mode, filter: filter)
        }
    }

    /// A response-phase filter of the chain.
    public struct ResponseEntry: Sendable {
        public let id: String
        public let type: String
        let filter: any ResponseFilter

        init(id: String, type: String, filter: any ResponseFilter) {
            self.id = id
            self.type = type
            self.filter = filter
        }
    }

    /// Request-phase filters, in order.
    let request: [Entry]
    /// Response-phase filters that look at each response head, in order.
    let response: [ResponseEntry]
    /// Edits every request on the route gets from its filters (static `headers` filters of the
    /// request phase), already joined: applied after the route's own `request-headers`. Filters
    /// read the request as the client sent it, so these need no place in the running chain.
    let requestEdits: HeaderEdits?
    /// Edits every response on the route gets from its filters (static `headers` filters of the
    /// response phase), already joined: applied after the route's own `response-headers`.
    let responseEdits: HeaderEdits?
    /// The route's `timeout` filters, joined (later filters win); nil: none.
    let timeouts: RouteTimeouts?
    /// The route's `compress` filter (the last one listed wins); nil: responses pass as they are.
    public let compression: CompressionDecision.Rule?
    /// Some request filter may answer later (`FilterDecision.wait`): the host then needs a waker.
    let mayWait: Bool
    /// Nothing to run: the request path skips phase 3's work entirely.
    let isEmpty: Bool

    public init(
        request: [Entry] = [], response: [ResponseEntry] = [], requestEdits: HeaderEdits? = nil, responseEdits: HeaderEdits? = nil,
        timeouts: RouteTimeouts? = nil, compression: CompressionDecision.Rule? = nil
    ) {
        self.compression = compression
        self.timeouts = timeouts.flatMap { $0.isEmpty ? nil : $0 }
        self.request = request
        self.response = response
        self.requestEdits = requestEdits.flatMap { $0 == HeaderEdits() ? nil : $0 }
        self.responseEdits = responseEdits.flatMap { $0 == HeaderEdits() ? nil : $0 }
        mayWait = request.contains { $0.filter.mayWait }
        isEmpty = request.isEmpty && response.isEmpty && self.requestEdits == nil && self.responseEdits == nil && self.timeouts == nil
            && compression == nil
    }

    /// The chain of a route without filters.
    public static let none = FilterChain()

    /// The filters' ids and types, in order (tests and the `config` view).
    public var summary: [String] {
        request.map { "\($0.type):\($0.id)" } + response.map { "\($0.type):\($0.id)@response" } + (compression == nil ? [] : ["compress@response"])
    }
}

/// What Sentinel does when a filter cannot decide.
public enum FilterFailureMode: String, Sendable, Equatable {
    /// Skip the filter: the request goes on as if it had passed (availability first).
    case open
    /// Refuse the request: 503 when the filter failed, 504 when it timed out (security first).
    case closed
}

/// Why a filter could not decide.
enum FilterFailure: Sendable, Equatable {
    /// The filter's own time bound passed (an agent's `timeout-ms`).
    case timeout
    /// The filter's backend is unavailable (connection refused, breaker open, database unreadable).
    case unavailable(String)

    /// A word for the log line and the metric's `reason` label (bounded).
    var reason: String {
        switch self {
        case .timeout: return "timeout"
        case .unavailable: return "unavailable"
        }
    }

    var detail: String {
        switch self {
        case .timeout: return "timed out"
        case .unavailable(let why): return why
        }
    }
}

/// Why the host stopped waiting for a filter's verdict.
enum FilterCancelReason: String, Sendable, Equatable {
    /// The client closed the connection (or it failed).
    case clientGone = "client_gone"
    /// The listener's request timeout passed while waiting.
    case timeout
}
