import NIOCore
import SentinelHTTP1

/// The client's address as rate limits, GeoIP, the `log` filter and the access log use it: the
/// TCP peer, or — only when the peer is a trusted proxy (`system { trusted-proxies }`) — the
/// address its forwarding fields name.
///
/// The chain (`X-Forwarded-For`, else `Forwarded: for=`) is read from the right: each hop that
/// is itself a trusted proxy is skipped, and the first one that is not is the client. An entry
/// that is not an address (`unknown`, an obfuscated `_name`, garbage) ends the walk at the last
/// address believed. So a client can prepend whatever it likes to the chain: only what trusted
/// proxies appended counts, and an untrusted peer's fields are never read at all.
enum ClientAddress {
    static let forwardedFor = Array("x-forwarded-for".utf8)
    static let forwarded = Array("forwarded".utf8)

    /// `peer`: the socket's address (text and bytes); `values`: the values of the request's
    /// fields of a (lower-case) name, read only when the peer is trusted.
    static func resolve(peer: String, peerBytes: [UInt8]?, policy: ForwardingPolicy, values: ([UInt8]) -> [String]) -> String {
        guard policy.trusts(peerBytes) else { return peer }
        var hops = values(forwardedFor).flatMap { $0.split(separator: ",").map { String($0).trimmedOf(" \t") } }
        if hops.isEmpty {
            hops = values(forwarded).flatMap { value in
                value.split(separator: ",").compactMap { element in
                    element.split(separator: ";").lazy.map { String($0).trimmedOf(" \t") }
                        .first { $0.lowercased().hasPrefix("for=") }.map { String($0.dropFirst(4)) }
                }
            }
        }
        return walk(hops, peer: peer, policy: policy)
    }

    /// The client among `hops` (oldest first), the peer having appended the last.
    static func walk(_ hops: [String], peer: String, policy: ForwardingPolicy) -> String {
        var client = peer
        for hop in hops.reversed() {
            guard let (text, bytes) = parse(hop) else { return client }
            client = text
            if !policy.trusts(bytes) { return client }
        }
        return client
    }

    /// An address of a forwarding field: `192.0.2.1`, `192.0.2.1:8080`, `2001:db8::1`,
    /// `[2001:db8::1]:443`, optionally quoted (`Forwarded`). Its canonical text and bytes.
    static func parse(_ hop: String) -> (String, [UInt8])? {
        var s = Substring(hop)
        if s.hasPrefix("\""), s.hasSuffix("\""), s.count >= 2 { s = s.dropFirst().dropLast() }
        if s.hasPrefix("[") {
            guard let close = s.firstIndex(of: "]") else { return nil }
            s = s[s.index(after: s.startIndex)..<close]
        } else if s.filter({ $0 == ":" }).count == 1, let colon = s.firstIndex(of: ":") {
            s = s[..<colon]
        }
        guard !s.isEmpty, s.count <= 45, let address = try? SocketAddress(ipAddress: String(s), port: 0) else { return nil }
        switch address {
        case .v4(let a): return (address.ipAddress ?? String(s), withUnsafeBytes(of: a.address.sin_addr) { Array($0) })
        case .v6(let a): return (address.ipAddress ?? String(s), withUnsafeBytes(of: a.address.sin6_addr) { Array($0) })
        default: return nil
        }
    }
}

extension FilterRequest {
    /// The values of every field named `lowercaseName`.
    static func values(_ head: RequestHead, _ bytes: UnsafeRawBufferPointer, _ lowercaseName: [UInt8]) -> [String] {
        var out: [String] = []
        for i in head.fields.indices where HeaderBytes.equals(bytes, head.fields[i].nameRange, lowercase: lowercaseName) {
            out.append(HeaderBytes.string(bytes, head.fields[i].valueRange))
        }
        return out
    }
}
