public import KDL

#if canImport(Glibc)
import Glibc
#endif

/// An IP address or CIDR block (`10.0.0.0/8`, `192.0.2.7`, `2001:db8::/32`, `::1`), as the
/// network-order bytes of the address (4 or 16) and a prefix length.
public struct IPRange: Sendable, Hashable, CustomStringConvertible {
    public var address: [UInt8]
    public var prefixLength: Int

    public init(address: [UInt8], prefixLength: Int) {
        self.address = address
        self.prefixLength = prefixLength
    }

    public var description: String {
        var text = [CChar](repeating: 0, count: 64)
        let family = address.count == 4 ? AF_INET : AF_INET6
        _ = address.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &text, 64) }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + "/\(prefixLength)"
    }

    /// Parses an address with an optional `/prefix`; nil with the reason when invalid.
    public static func parse(_ text: String) -> Result<IPRange, SocketAddressSpec.AddressError> {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let host = String(parts[0])
        var bytes: [UInt8]
        if host.contains(":") {
            bytes = [UInt8](repeating: 0, count: 16)
            guard inet_pton(AF_INET6, host, &bytes) == 1 else { return .failure(.init("\"\(host)\" is not an IPv6 address")) }
        } else {
            bytes = [UInt8](repeating: 0, count: 4)
            guard inet_pton(AF_INET, host, &bytes) == 1 else { return .failure(.init("\"\(host)\" is not an IPv4 address")) }
        }
        let bits = bytes.count * 8
        var prefix = bits
        if parts.count == 2 {
            guard let n = Int(parts[1]), parts[1].allSatisfy(\.isNumber), (0...bits).contains(n) else {
                return .failure(.init("prefix \"/\(parts[1])\" is not a number between 0 and \(bits)"))
            }
            prefix = n
        }
        // Bits beyond the prefix must be zero: "10.1.2.3/8" is more likely a typo than a block.
        for i in 0..<bytes.count {
            let keep = max(0, min(8, prefix - i * 8))
            let mask: UInt8 = keep == 0 ? 0 : UInt8(truncatingIfNeeded: 0xFF << (8 - keep))
            if bytes[i] & ~mask != 0 {
                return .failure(.init("\"\(text)\" has address bits set beyond its /\(prefix) prefix"))
            }
        }
        return .success(IPRange(address: bytes, prefixLength: prefix))
    }

    /// `trusted-proxies "10.0.0.0/8" "::1"`: every argument, each reported at its own position.
    static func readList(_ child: KDLNode, path: ConfigPath, sink: DiagnosticSink) -> [IPRange] {
        var r = NodeReader(child, path: path, sink: sink)
        let reader = ValueReader(sink: sink, path: path.appending(child), key: child.name)
        let args = r.arguments()
        if args.isEmpty {
            sink.error(child.location, path.appending(child), "\"\(child.name)\" needs at least one address or CIDR block",
                       hint: "for example: \(child.name) \"10.0.0.0/8\" \"192.0.2.7\"")
        }
        var result: [IPRange] = []
        for arg in args {
            guard let text = reader.string(arg) else { continue }
            switch parse(text) {
            case .success(let range): result.append(range)
            case .failure(let reason):
                sink.error(arg.location, path.appending(child), "invalid address in \"\(child.name)\": \(reason.reason)",
                           hint: "write an IP address or a CIDR block, e.g. \"10.0.0.0/8\" or \"2001:db8::/32\"")
            }
        }
        r.finish()
        return result
    }
}
