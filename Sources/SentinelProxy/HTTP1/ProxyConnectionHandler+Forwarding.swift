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

    /// The value of a request's `Max-Forwards` (the first field; nil when absent or not a
    /// decimal number, which then passes unchanged).
    static func maxForwards(_ head: RequestHead, _ p: UnsafeRawBufferPointer) -> Int? {
        for i in head.fields.indices where HeaderBytes.equals(p, head.fields[i].nameRange, "max-forwards") {
            let r = head.fields[i].valueRange
            guard !r.isEmpty, r.count <= 9, r.allSatisfy({ p[$0] >= 0x30 && p[$0] <= 0x39 }) else { return nil }
            return r.reduce(0) { $0 * 10 + Int(p[$1] - 0x30) }
        }
        return nil
    }

    enum MethodDecision {
        /// Route and forward it (with this decremented `Max-Forwards`, if any).
        case forward(maxForwards: Int?)
        /// Sentinel answers itself, before routing.
        case answer(BuiltinResponse, keepAlive: Bool)
    }

    /// What the method alone decides, before any route is consulted.
    func methodDecision(_ head: RequestHead, traceID: String, keepAlive: Bool) -> MethodDecision {
        switch head.method {
        case .connect, .trace:
            // A reverse proxy opens no tunnels to arbitrary authorities, and reflects no
            // requests (TRACE would echo credentials and the fields Sentinel adds): both methods
            // are refused for every resource (RFC 9110 §15.6.2), before routing could mistake
            // them for a missing page. After CONNECT the connection closes (a client may already
            // be sending tunnel bytes).
            return .answer(BuiltinHandlers.error(501, traceID: traceID), keepAlive: keepAlive && head.method == .trace)
        case .options:
            // RFC 9110 §7.6.2: an intermediary answers an OPTIONS request whose Max-Forwards is
            // 0 itself, and decrements it otherwise.
            guard let value = inbound.withUnsafeReadableBytes({ Self.maxForwards(head, $0) }) else { return .forward(maxForwards: nil) }
            if value == 0 { return .answer(BuiltinHandlers.empty(200, traceID: traceID), keepAlive: keepAlive) }
            return .forward(maxForwards: value - 1)
        default:
            return .forward(maxForwards: nil)
        }
    }
}
