import CSystemd

#if canImport(Glibc)
import Glibc
#endif

/// systemd socket activation (`sentinel-stack.socket`): the listening sockets systemd passed
/// (`LISTEN_FDS`, `LISTEN_PID`, `LISTEN_FDNAMES`, fds 3…), taken once when the master starts.
///
/// They are matched to the configuration's listener addresses by what they are bound to, not by
/// position or name, so the unit and the configuration cannot silently disagree (see
/// `ListenerTable.adopt`). An address with a passed socket uses that one socket for every worker
/// slot: systemd binds one socket per `ListenStream=`, so the per-slot SO_REUSEPORT sockets the
/// master binds otherwise cannot exist for it (they would need the same owner and SO_REUSEPORT on
/// systemd's socket). All workers then poll that socket (see docs/stack.md for the trade-off).
public enum SocketActivation {
    public struct Passed: Sendable, CustomStringConvertible {
        public var fd: Int32
        public var name: String
        public var family: Int32
        public var port: Int
        /// Address bytes in network order (4 for IPv4, 16 for IPv6).
        public var address: [UInt8]

        public var description: String {
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            address.withUnsafeBytes { _ = inet_ntop(family, $0.baseAddress, &text, socklen_t(text.count)) }
            let host = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            return family == AF_INET6 ? "[\(host)]:\(port)" : "\(host):\(port)"
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// The passed sockets (none without LISTEN_FDS for this pid). Every one must be a listening
    /// TCP socket. Unsets the variables (children never see them anyway, `Spawner.workerEnvironment`).
    public static func take() throws(Failure) -> [Passed] {
        let names = getenv("LISTEN_FDNAMES").map { String(cString: $0).split(separator: ":", omittingEmptySubsequences: false).map(String.init) } ?? []
        let n = sd_listen_fds(1)
        guard n > 0 else {
            if n < 0 { throw Failure(description: "socket activation: sd_listen_fds: \(String(cString: strerror(-n)))") }
            return []
        }
        var passed: [Passed] = []
        for i in 0..<n {
            let fd = 3 + i  // SD_LISTEN_FDS_START
            var storage = sockaddr_storage()
            var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let ok = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) == 0 }
            }
            var type: Int32 = 0
            var listening: Int32 = 0
            var size = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &size)
            size = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size)
            let family = Int32(storage.ss_family)
            guard ok, type == Int32(SOCK_STREAM.rawValue), listening == 1, family == AF_INET || family == AF_INET6 else {
                throw Failure(description: "socket activation: fd \(fd) is not a listening TCP socket (use ListenStream= with an IP address)")
            }
            var p = Passed(fd: fd, name: Int(i) < names.count ? names[Int(i)] : "", family: family, port: 0, address: [])
            withUnsafeBytes(of: &storage) { raw in
                if family == AF_INET {
                    let sin = raw.load(as: sockaddr_in.self)
                    p.port = Int(UInt16(bigEndian: sin.sin_port))
                    p.address = withUnsafeBytes(of: sin.sin_addr) { Array($0) }
                } else {
                    let sin6 = raw.load(as: sockaddr_in6.self)
                    p.port = Int(UInt16(bigEndian: sin6.sin6_port))
                    p.address = withUnsafeBytes(of: sin6.sin6_addr) { Array($0) }
                }
            }
            passed.append(p)
        }
        return passed
    }

    /// Whether `passed` is bound to `address` (resolved numerically, as the master would bind it).
    static func matches(_ address: ListenAddress, _ passed: Passed) -> Bool {
        guard address.port == passed.port else { return false }
        var hints = addrinfo()
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(address.host, String(address.port), &hints, &result) == 0, let first = result else { return false }
        defer { freeaddrinfo(result) }
        var info: UnsafeMutablePointer<addrinfo>? = first
        while let i = info {
            if i.pointee.ai_family == passed.family, let sa = i.pointee.ai_addr {
                let bytes: [UInt8] = passed.family == AF_INET
                    ? sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { p in withUnsafeBytes(of: p.pointee.sin_addr) { Array($0) } }
                    : sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p in withUnsafeBytes(of: p.pointee.sin6_addr) { Array($0) } }
                if bytes == passed.address { return true }
            }
            info = i.pointee.ai_next
        }
        return false
    }
}
