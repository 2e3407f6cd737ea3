import SentinelHTTP1
import SentinelRateLimit

/// A filter of the request phase (phase 3): it reads the request and says whether it goes on
/// (possibly with edits recorded in `effects`), is answered, or must wait for a verdict that
/// arrives later.
///
/// Synchronous filters are small pure decisions: they look at the request and return. An
/// asynchronous filter (an agent call, a Redis round trip) starts its work in `onRequest`,
/// returns `.wait` with a handle, and later calls `request.waker.resume(_:)` — from any thread —
/// with its verdict; the host delivers it on the connection's event loop and the chain goes on
/// from the next filter. The host may instead cancel the wait (the client went away, the request
/// timed out): it then calls `cancel` on the handle, once, on the connection's loop, and ignores
/// any verdict that still arrives.
protocol RequestFilter: Sendable {
    /// Whether this filter may ever return `.wait` (the host prepares a waker only for chains
    /// that have one).
    var mayWait: Bool { get }

    /// Decides on `request`. `effects` holds what earlier filters decided; a filter adds its own
    /// edits to it. `request` (its byte views) is valid only during the call: a filter that waits
    /// copies what it needs before returning.
    func onRequest(_ request: borrowing FilterRequest, effects: inout FilterEffects) -> FilterDecision
}

extension RequestFilter {
    var mayWait: Bool { false }
}

/// A filter's answer to `onRequest`.
enum FilterDecision {
    /// Go on with the next filter.
    case next
    /// Answer the request instead of proxying it (a redirect, a preflight, a refusal).
    case answer(LocalAnswer)
    /// The filter could not decide: its failure mode applies.
    case failed(FilterFailure)
    /// The verdict comes later through `request.waker`; `pending` is what the host cancels.
    case wait(any PendingFilter)
}

/// The verdict of a filter that waited, delivered through its `FilterWaker`.
enum FilterVerdict: Sendable {
    /// Go on, with these edits to the request head and to the response head (nil: none).
    case proceed(requestEdits: HeaderEdits?, responseEdits: HeaderEdits? = nil)
    /// Go on: a rate limiter admitted the request with this verdict (its response's
    /// X-RateLimit-* fields).
    case admitted(RateLimitVerdict)
    /// Answer the request.
    case answer(LocalAnswer)
    /// The filter could not decide: its failure mode applies.
    case failed(FilterFailure)
}

/// The handle of a filter's pending work.
protocol PendingFilter: AnyObject, Sendable {
    /// The host no longer waits (the client went away, or the request timed out). Called at most
    /// once, on the connection's event loop, and never after the verdict was taken. An agent
    /// call sends its Cancel here.
    func cancel(_ reason: FilterCancelReason)
}

/// A response-phase filter: it sees each response head before Sentinel writes it, and may add
/// edits to it. (Response bodies will follow the same shape.)
protocol ResponseFilter: Sendable {
    /// `status`: the upstream's status; `context`: the exchange's route and trace id; a filter
    /// adds its edits to `effects.responseEdits`.
    func onResponseHead(status: Int, context: ResponseContext, effects: inout FilterEffects)
}
