/// A `host:port` listen or target address as written in the configuration.
///
/// IPv6 literals are bracketed (`[::1]:8080`). The host may be a name (upstream targets are
/// resolved at connect time); listener hosts must be IP literals so binding never depends on DNS.
public struct SocketAddressSpec: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var isIPv6: Bool { host.contains(":") }

    public var isIPLiteral: Bool { isIPv6 || SocketAddressSpec.isIPv4(host) }

    public var description: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Parses `host:port`, `[v6]:port`. Returns a reason on failure.
    public static func parse(_ text: String) -> Result<SocketAddressSpec, AddressError> {
        var host: Substring
        var portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return .failure(.init("missing \"]\" after the IPv6 address")) }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return .failure(.init("missing \":PORT\" after \"]\"")) }
            portText = rest.dropFirst()
            guard host.contains(":") else { return .failure(.init("brackets are only for IPv6 addresses")) }
        } else {
            guard let colon = text.lastIndex(of: ":") else { return .failure(.init("missing \":PORT\"")) }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") { return .failure(.init("an IPv6 address must be written in brackets, e.g. [::1]:8080")) }
        }
        guard !host.isEmpty else { return .failure(.init("missing host before \":\" (use 0.0.0.0 for every interface)")) }
        guard let port = Int(portText), (0...65535).contains(port), portText.allSatisfy(\.isNumber) else {
            return .failure(.init("port \"\(portText)\" is not a number between 0 and 65535"))
        }
        if !host.contains(":") {
            for c in host.unicodeScalars {
                let ok = (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "-" || c == "." || c == "_"
                if !ok { return .failure(.init("host \"\(host)\" contains \"\(c)\", which is not valid in a host name")) }
            }
        } else {
            for c in host.unicodeScalars where !(c.properties.isASCIIHexDigit || c == ":" || c == ".") {
                return .failure(.init("\"\(host)\" is not a valid IPv6 address"))
            }
        }
        return .success(SocketAddressSpec(host: String(host), port: port))
    }

    static func isIPv4(_ s: String) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return false }
        return parts.allSatisfy { p in !p.isEmpty && p.count <= 3 && p.allSatisfy(\.isNumber) && Int(p)! <= 255 }
    }

    public struct AddressError: Error, Sendable {
        public var reason: String
        init(_ reason: String) { self.reason = reason }
    }
}
