import SentinelHTTP1

/// What a forwarded request needs to know about the connection and the head beyond routing.
extension ProxyConnectionHandler {
    /// The address this connection was accepted on, as an authority (`127.0.0.1:8080`,
    /// `[::1]:8080`): the target URI's authority of a request that names none (RFC 9112 §3.3).
    /// Built once per connection, and only for such requests.
    func localAuthority() -> String? {
        if let text = localAuthorityText { return text }
        guard let local = context.channel.localAddress, let ip = local.ipAddress, let port = local.port else { return nil }
        let text = ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
        localAuthorityText = text
        return text
    }

    /// The deadline of a locally answered request's body: the whole-body deadline, or earlier
    /// where the listener's minimum body rate says the bytes received so far are too few (the
    /// same rule as for proxied bodies; it moves later with every byte).
    func setLocalBodyDeadline(_ reply: LocalReply, now: UInt64) {
        var deadline = reply.bodyDeadline
        if bodyRate.nanosPerByte != 0 {
            let (perBytes, overflow) = reply.body.received.multipliedReportingOverflow(by: bodyRate.nanosPerByte)
            if !overflow { deadline = min(deadline, reply.bodyStartNanos &+ bodyRate.graceNanos &+ perBytes) }
        }
        setDeadline(after: .nanoseconds(Int64(clamping: deadline &- min(deadline, now))), idle: false, now: now)
    }
}
