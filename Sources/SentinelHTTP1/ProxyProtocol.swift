#if canImport(Glibc)
import Glibc
#endif

/// The PROXY protocol header (HAProxy's, versions 1 and 2) a load balancer in front of Sentinel
/// sends before the first byte of the connection's own protocol: who the client is.
///
/// A pure parser over the bytes received so far: it says "need more", "here is the header and
/// its length", or "this is not a valid header" as early as the bytes allow (an HTTP request
/// sent to a PROXY listener is refused at its first byte). Bounded: a version 1 line is at most
/// 107 bytes; a version 2 header at most `maxLength` (TLVs included, then ignored).
public enum ProxyProtocol {
    /// The longest version 1 line, CRLF included (the protocol's own bound).
    public static let maxV1Length = 107
    /// Version 2's fixed signature (12 bytes).
    static let v2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]
    static let v1Prefix = Array("PROXY ".utf8)

    /// What a header says about the connection.
    public struct Header: Equatable, Sendable {
        public enum Source: Equatable, Sendable {
            /// The client's address: canonical text, the 4 or 16 address bytes, the port.
            case client(text: String, bytes: [UInt8], port: UInt16)
            /// No client to report (version 2 LOCAL, `UNKNOWN`, a Unix or unspecified family):
            /// the connection's own peer stands (a balancer's health check).
            case local
        }

        public var version: Int
        public var source: Source

        public init(version: Int, source: Source) {
            self.version = version
            self.source = source
        }
    }

    public enum Parse: Equatable, Sendable {
        /// The bytes so far are a valid beginning: read more.
        case incomplete
        /// A complete header of `length` bytes; what follows it is the connection's protocol.
        case header(Header, length: Int)
        /// Not a valid header (the reason names what is wrong, for the log).
        case invalid(String)
    }

    /// Parses the header at the front of `bytes`. `maxLength`: the bound on a version 2 header
    /// (16 bytes plus its addresses and TLVs).
    public static func parse(_ bytes: UnsafeRawBufferPointer, maxLength: Int = 4096) -> Parse {
        guard let first = bytes.first else { return .incomplete }
        if first == v1Prefix[0] { return parseV1(bytes) }
        if first == v2Signature[0] { return parseV2(bytes, maxLength: maxLength) }
        return .invalid("not a PROXY protocol header")
    }

    public static func parse(_ bytes: [UInt8], maxLength: Int = 4096) -> Parse {
        bytes.withUnsafeBytes { parse($0, maxLength: maxLength) }
    }

    // MARK: Version 1: "PROXY TCP4 192.0.2.1 198.51.100.2 51234 443\r\n"

    static func parseV1(_ bytes: UnsafeRawBufferPointer) -> Parse {
        let prefix = min(bytes.count, v1Prefix.count)
        for i in 0..<prefix where bytes[i] != v1Prefix[i] { return .invalid("not a PROXY protocol header") }
        var end: Int?
        for i in 0..<min(bytes.count, maxV1Length) {
            let c = bytes[i]
            if c == 0x0A {
                guard i > 0, bytes[i - 1] == 0x0D else { return .invalid("version 1 line ends without CRLF") }
                end = i - 1
                break
            }
            // Printable ASCII and the final CR only.
            if c == 0x0D { if i + 1 < bytes.count, bytes[i + 1] != 0x0A { return .invalid("version 1 line has a bare CR") }; continue }
            if c < 0x20 || c > 0x7E { return .invalid("version 1 line has a byte that is not printable ASCII") }
        }
        guard let end else {
            return bytes.count >= maxV1Length ? .invalid("version 1 line longer than \(maxV1Length) bytes") : .incomplete
        }
        let line = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[v1Prefix.count..<end]), as: UTF8.self)
        let parts = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        let length = end + 2
        if parts.first == "UNKNOWN" { return .header(Header(version: 1, source: .local), length: length) }
        guard parts.count == 5 else { return .invalid("version 1 line needs protocol, two addresses and two ports") }
        let family: Int32
        switch parts[0] {
        case "TCP4": family = AF_INET
        case "TCP6": family = AF_INET6
        default: return .invalid("version 1 protocol \"\(parts[0])\" is not TCP4, TCP6 or UNKNOWN")
        }
        guard let source = address(parts[1], family: family), address(parts[2], family: family) != nil else {
            return .invalid("version 1 address is not a \(parts[0] == "TCP4" ? "IPv4" : "IPv6") address")
        }
        guard let sourcePort = port(parts[3]), port(parts[4]) != nil else { return .invalid("version 1 port is not 0 to 65535") }
        return .header(Header(version: 1, source: .client(text: text(source, family: family), bytes: source, port: sourcePort)), length: length)
    }

    /// A decimal port without leading zeros (as the specification writes them), 0...65535.
    static func port(_ s: String) -> UInt16? {
        guard !s.isEmpty, s.count <= 5, s.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), s == "0" || !s.hasPrefix("0") else { return nil }
        return UInt16(s)
    }

    static func address(_ s: String, family: Int32) -> [UInt8]? {
        guard s.utf8.count <= 45 else { return nil }
        var out = [UInt8](repeating: 0, count: family == AF_INET ? 4 : 16)
        let ok = out.withUnsafeMutableBytes { inet_pton(family, s, $0.baseAddress) }
        return ok == 1 ? out : nil
    }

    static func text(_ bytes: [UInt8], family: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        let ok = bytes.withUnsafeBytes { b in buffer.withUnsafeMutableBufferPointer { inet_ntop(family, b.baseAddress, $0.baseAddress, 64) } }
        guard ok != nil else { return "unknown" }
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    // MARK: Version 2: signature, version/command, family/transport, length, addresses, TLVs

    static func parseV2(_ bytes: UnsafeRawBufferPointer, maxLength: Int) -> Parse {
        let prefix = min(bytes.count, v2Signature.count)
        for i in 0..<prefix where bytes[i] != v2Signature[i] { return .invalid("not a PROXY protocol header") }
        guard bytes.count >= 16 else { return .incomplete }
        let versionCommand = bytes[12]
        guard versionCommand >> 4 == 2 else { return .invalid("version 2 header with version \(versionCommand >> 4)") }
        let command = versionCommand & 0x0F
        guard command <= 1 else { return .invalid("version 2 command \(command) is neither LOCAL nor PROXY") }
        let familyTransport = bytes[13]
        let length = Int(bytes[14]) << 8 | Int(bytes[15])
        guard 16 + length <= maxLength else { return .invalid("version 2 header of \(16 + length) bytes is over the \(maxLength)-byte limit") }
        guard bytes.count >= 16 + length else { return .incomplete }
        let total = 16 + length
        if command == 0 { return .header(Header(version: 2, source: .local), length: total) }
        switch familyTransport {
        case 0x11:
            guard length >= 12 else { return .invalid("version 2 IPv4 addresses need 12 bytes, the header has \(length)") }
            let source = Array(UnsafeRawBufferPointer(rebasing: bytes[16..<20]))
            let port = UInt16(bytes[24]) << 8 | UInt16(bytes[25])
            return .header(Header(version: 2, source: .client(text: text(source, family: AF_INET), bytes: source, port: port)), length: total)
        case 0x21:
            guard length >= 36 else { return .invalid("version 2 IPv6 addresses need 36 bytes, the header has \(length)") }
            let source = Array(UnsafeRawBufferPointer(rebasing: bytes[16..<32]))
            let port = UInt16(bytes[48]) << 8 | UInt16(bytes[49])
            return .header(Header(version: 2, source: .client(text: text(source, family: AF_INET6), bytes: source, port: port)), length: total)
        case 0x00, 0x31:
            // Unspecified, or a Unix stream socket: no client address to take.
            return .header(Header(version: 2, source: .local), length: total)
        default:
            return .invalid(String(format2: familyTransport))
        }
    }
}

extension String {
    fileprivate init(format2 byte: UInt8) {
        let hex = Array("0123456789abcdef".utf8)
        self = "version 2 family/transport 0x" + String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]], as: UTF8.self)
            + " is not TCP over IPv4 or IPv6"
    }
}
