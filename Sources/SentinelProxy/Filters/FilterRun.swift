/// One request's run through a route's request-phase filters, as a value: which filter is next
/// and what the filters so far decided. Pure: the host calls `run`, and after a `.wait` calls
/// `resume` with the verdict (on the connection's loop); tests drive it without sockets.
struct FilterRun {
    /// Index of the filter to run next; while waiting, of the filter waited for.
    private(set) var next = 0
    /// What the filters decided so far.
    var effects = FilterEffects()

    enum Step {
        /// Every filter passed: go on with `effects`.
        case proceed
        /// A filter (or a filter's failure, closed) answers the request.
        case answer(LocalAnswer)
        /// The filter at `next` waits; its verdict comes through the request's waker.
        case wait(any PendingFilter)
    }

    /// Runs the filters from `next` on.
    mutating func run<O: FilterObserver>(_ chain: FilterChain, _ request: borrowing FilterRequest, observer: O) -> Step {
        let filters = chain.request
        while next < filters.count {
            let entry = filters[next]
            switch entry.filter.onRequest(request, effects: &effects) {
            case .next:
                next += 1
            case .answer(let answer):
                observer.filterAnswered(entry, status: answer.status)
                return .answer(answer)
            case .failed(let failure):
                if let answer = failed(entry, failure, request.routeID, observer: observer) { return .answer(answer) }
                next += 1
            case .wait(let pending):
                observer.filterWaits(entry)
                return .wait(pending)
            }
        }
        return .proceed
    }

    /// The filter waited for gave its verdict: apply it, then run the filters after it.
    mutating func resume<O: FilterObserver>(
        _ chain: FilterChain, with verdict: FilterVerdict, _ request: borrowing FilterRequest, observer: O
    ) -> Step {
        guard next < chain.request.count else { return .proceed }
        let entry = chain.request[next]
        switch verdict {
        case .proceed(let edits, let responseEdits):
            if let edits { effects.editRequest(edits) }
            if let responseEdits { effects.editResponse(responseEdits) }
        case .admitted(let v):
            effects.rateLimited(v)
        case .answer(let answer):
            observer.filterAnswered(entry, status: answer.status)
            return .answer(answer)
        case .failed(let failure):
            if let answer = failed(entry, failure, request.routeID, observer: observer) { return .answer(answer) }
        }
        next += 1
        return run(chain, request, observer: observer)
    }

    /// The host stopped waiting for the filter at `next` (`reason`): tells the filter, once.
    func cancel<O: FilterObserver>(_ chain: FilterChain, _ pending: any PendingFilter, _ reason: FilterCancelReason, observer: O) {
        pending.cancel(reason)
        if next < chain.request.count { observer.filterCancelled(chain.request[next], reason) }
    }

    /// `entry` could not decide: its failure mode says whether the request goes on (nil) or is
    /// answered (503, or 504 for a timeout).
    private func failed<O: FilterObserver>(
        _ entry: FilterChain.Entry, _ failure: FilterFailure, _ routeID: String, observer: O
    ) -> LocalAnswer? {
        observer.filterFailed(entry, failure, routeID: routeID)
        switch entry.failureMode {
        case .open:
            return nil
        case .closed:
            return .refusal(
                failure == .timeout ? .filterTimedOut : .filterFailed, route: routeID, keepAlive: true,
                cause: "filter \"\(entry.id)\" (\(entry.type)): \(failure.detail)")
        }
    }
}

/// Told about every decision of a filter run that is not a plain pass: what the host counts
/// and logs (`FilterMetrics`); tests record them.
protocol FilterObserver {
    func filterAnswered(_ entry: FilterChain.Entry, status: Int)
    func filterFailed(_ entry: FilterChain.Entry, _ failure: FilterFailure, routeID: String)
    func filterWaits(_ entry: FilterChain.Entry)
    func filterCancelled(_ entry: FilterChain.Entry, _ reason: FilterCancelReason)
}
