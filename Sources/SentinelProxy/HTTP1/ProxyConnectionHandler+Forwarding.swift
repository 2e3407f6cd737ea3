import SentinelHTTP1

/// What a forwarded request needs to know about the connection and the head beyond routing.
extension ProxyConnectionHandler {
    /// The address this connection was accepted on, as an authority (`127.0.0.1:8080`,
    /// `[::1]:8080`): the target URI's authority of a request that names none (RFC 9112 §3.3).
    /// Built once per connection, and only for such requests.
    func localAuthority() -> String? {
        if let text = localAuthorityText { return text }
        guard let (ip, port) = host.localAddress else { return nil }
        let text = ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
        localAuthorityText = text
        return text
    }
}
