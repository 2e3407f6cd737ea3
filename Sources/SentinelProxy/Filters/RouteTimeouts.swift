/// A route's own timeouts, overriding its upstream's: from `policies { timeout-secs }` (read and
/// write) and, over that, `timeout` filters (request, upstream read/write, connect). Resolved
/// once per snapshot into `ProxyPlan.timeouts`.
public struct RouteTimeouts: Sendable, Equatable {
    /// The whole exchange (the upstream's `request` timeout).
    public var request: Duration?
    /// Upstream silence while a response is awaited (the upstream's `read` timeout).
    public var read: Duration?
    /// The upstream accepting no request bytes (the upstream's `write` timeout).
    public var write: Duration?
    /// Connecting to a target.
    public var connect: Duration?

    public init(request: Duration? = nil, read: Duration? = nil, write: Duration? = nil, connect: Duration? = nil) {
        self.request = request
        self.read = read
        self.write = write
        self.connect = connect
    }

    public var isEmpty: Bool { request == nil && read == nil && write == nil && connect == nil }

    /// These timeouts with `later`'s set ones taking precedence.
    public func overridden(by later: RouteTimeouts) -> RouteTimeouts {
        RouteTimeouts(
            request: later.request ?? request, read: later.read ?? read, write: later.write ?? write, connect: later.connect ?? connect)
    }
}
