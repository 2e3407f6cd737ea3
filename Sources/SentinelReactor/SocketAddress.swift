public import Glibc

/// A numeric IPv4 or IPv6 address and port, held as the kernel's sockaddr so `connect` and
/// `bind` take it without conversion. Names are resolved elsewhere (the config layer and
/// discovery); the data path only ever connects to numbers.
public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    private enum Storage: Sendable, Hashable {
        case v4(UInt32, UInt16)  // network byte order
        case v6(UInt64, UInt64, UInt16, UInt32)  // address as two words in memory order, port (network order), scope id
    }

    private let storage: Storage

    /// `127.0.0.1`, `::1`, `[::1]:8080` style text: a numeric host, and a port.
    public init?(host: String, port: Int) {
        guard (0...65535).contains(port) else { return nil }
        var a4 = in_addr()
        if inet_pton(AF_INET, host, &a4) == 1 {
            storage = .v4(a4.s_addr, UInt16(port).bigEndian)
            return
        }
        var h = host
        if h.hasPrefix("["), h.hasSuffix("]") { h = String(h.dropFirst().dropLast()) }
        var a6 = in6_addr()
        guard inet_pton(AF_INET6, h, &a6) == 1 else { return nil }
        let words = withUnsafeBytes(of: &a6) { ($0.loadUnaligned(as: UInt64.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) }
        storage = .v6(words.0, words.1, UInt16(port).bigEndian, 0)
    }

    /// `host:port` (IPv6 in brackets).
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else { return nil }
        self.init(host: String(text[..<colon]), port: port)
    }

    /// From a sockaddr the kernel filled (accept, getsockname).
    init?(_ raw: UnsafeRawPointer) {
        switch Int32(raw.load(as: sa_family_t.self)) {
        case AF_INET:
            let sin = raw.load(as: sockaddr_in.self)
            storage = .v4(sin.sin_addr.s_addr, sin.sin_port)
        case AF_INET6:
            var sin6 = raw.load(as: sockaddr_in6.self)
            let words = withUnsafeBytes(of: &sin6.sin6_addr) { ($0.loadUnaligned(as: UInt64.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) }
            storage = .v6(words.0, words.1, sin6.sin6_port, sin6.sin6_scope_id)
        default:
            return nil
        }
    }

    public var family: Int32 {
        switch storage {
        case .v4: AF_INET
        case .v6: AF_INET6
        }
    }

    public var port: Int {
        switch storage {
        case .v4(_, let p), .v6(_, _, let p, _): Int(UInt16(bigEndian: p))
        }
    }

    /// Calls `body` with the sockaddr and its length.
    public func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws -> R) rethrows -> R {
        switch storage {
        case .v4(let addr, let port):
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port
            sin.sin_addr.s_addr = addr
            return try withUnsafePointer(to: &sin) {
                try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { try body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        case .v6(let hi, let lo, let port, let scope):
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = port
            sin6.sin6_scope_id = scope
            withUnsafeMutableBytes(of: &sin6.sin6_addr) {
                $0.storeBytes(of: hi, as: UInt64.self)
                $0.storeBytes(of: lo, toByteOffset: 8, as: UInt64.self)
            }
            return try withUnsafePointer(to: &sin6) {
                try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { try body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
    }

    /// The address alone as text (`127.0.0.1`, `::1`: no brackets, no port).
    public var hostText: String {
        let d = description
        switch storage {
        case .v4: return String(d[..<d.lastIndex(of: ":")!])
        case .v6: return String(d.dropFirst().prefix(while: { $0 != "]" }))
        }
    }

    /// The address's bytes in network order (4 or 16).
    public var addressBytes: [UInt8] {
        switch storage {
        case .v4(let addr, _): return withUnsafeBytes(of: addr) { Array($0) }
        case .v6(let hi, let lo, _, _): return withUnsafeBytes(of: hi) { Array($0) } + withUnsafeBytes(of: lo) { Array($0) }
        }
    }

    public var description: String {
        var buf = [CChar](repeating: 0, count: 64)
        switch storage {
        case .v4(let addr, _):
            var a = in_addr(s_addr: addr)
            inet_ntop(AF_INET, &a, &buf, 64)
            return "\(buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }):\(port)"
        case .v6(let hi, let lo, _, _):
            var a = in6_addr()
            withUnsafeMutableBytes(of: &a) {
                $0.storeBytes(of: hi, as: UInt64.self)
                $0.storeBytes(of: lo, toByteOffset: 8, as: UInt64.self)
            }
            inet_ntop(AF_INET6, &a, &buf, 64)
            return "[\(buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })]:\(port)"
        }
    }
}
