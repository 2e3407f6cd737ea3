#if canImport(Glibc)
import Glibc
#endif

/// A TCP address a listener binds, as written in the configuration (`host:port`).
public struct ListenAddress: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port` (the last colon splits, so `::1:8080` works; brackets are removed).
    public init?(_ text: Substring) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else { return nil }
        var host = text[..<colon]
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        self.init(host: String(host), port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    /// The form used in the worker's environment (parsed back by `init?(_:)`).
    var wire: String { "\(host):\(port)" }
}

/// The master's listening sockets, one per (address, worker slot), all in one SO_REUSEPORT group
/// per address.
///
/// The master owns them for its whole life: slot k of every generation inherits the *same*
/// socket, so a reload never closes a socket with queued connections (closing a member of a
/// SO_REUSEPORT group resets what is queued on it). One socket per slot rather than one shared
/// socket because the kernel then spreads connections evenly across workers (FINDINGS.md).
/// Owned by the master loop only; not Sendable on purpose.
public final class ListenerTable {
    public struct Key: Hashable, Sendable {
        public var address: ListenAddress
        public var slot: Int

        public init(address: ListenAddress, slot: Int) {
            self.address = address
            self.slot = slot
        }
    }

    public struct BindError: Error, CustomStringConvertible {
        public var description: String
    }

    private var sockets: [Key: Int32] = [:]
    /// Sockets passed by systemd (socket activation), one per address, shared by every slot of
    /// every generation and kept for the master's life (see `adopt`).
    private var activated: [ListenAddress: Int32] = [:]
    public let backlog: Int32

    public init(backlog: Int32 = 1024) { self.backlog = backlog }

    deinit {
        for fd in sockets.values { close(fd) }
        for fd in activated.values { close(fd) }
    }

    public var count: Int { sockets.count + activated.count }

    /// Whether `address` is served through a socket systemd passed.
    public func isActivated(_ address: ListenAddress) -> Bool { activated[address] != nil }

    /// Takes the sockets systemd passed (`sd_listen_fds`) for the configured addresses they are
    /// bound to (`getsockname`, compared with each address as `bindListening` would bind it).
    /// A passed socket that matches no address is an error: a unit listening on something the
    /// configuration does not serve is a mistake to report, not to ignore. Addresses without a
    /// passed socket are bound as usual by `ensure`. Adopted sockets are never closed before the
    /// master exits, also when a reload drops their address: systemd keeps its own copy bound, so
    /// a later reload that brings the address back could not bind it again.
    public func adopt(_ passed: [SocketActivation.Passed], for addresses: [ListenAddress]) throws(BindError) -> [(ListenAddress, SocketActivation.Passed)] {
        var matched: [(ListenAddress, SocketActivation.Passed)] = []
        var unmatched: [String] = []
        for p in passed {
            if let address = addresses.first(where: { activated[$0] == nil && SocketActivation.matches($0, p) }) {
                matched.append((address, p))
                activated[address] = p.fd
            } else {
                unmatched.append("fd \(p.fd) (\(p.description))")
            }
        }
        guard unmatched.isEmpty else {
            throw BindError(description: "socket activation: systemd passed \(unmatched.joined(separator: ", ")), which matches no "
                + "listener address of the configuration (\(addresses.map(\.description).joined(separator: ", "))); "
                + "make ListenStream= and the listener addresses agree")
        }
        return matched
    }

    /// Binds every (address, slot) that is not bound yet. All or nothing: on failure the sockets
    /// this call bound are closed again and the table is as before.
    public func ensure(_ addresses: [ListenAddress], slots: Int) throws(BindError) {
        var added: [Key] = []
        for address in addresses where activated[address] == nil {
            for slot in 0..<slots where sockets[Key(address: address, slot: slot)] == nil {
                do {
                    let fd = try Self.bindListening(address, backlog: backlog)
                    let key = Key(address: address, slot: slot)
                    sockets[key] = fd
                    added.append(key)
                } catch {
                    for key in added { if let fd = sockets.removeValue(forKey: key) { close(fd) } }
                    throw error
                }
            }
        }
    }

    /// The sockets slot `slot` of a generation with these addresses and `slots` workers inherits,
    /// in address order: per address the slot's own socket, then the sockets of slots ≥ `slots`
    /// with the same remainder, left behind by a generation with more workers. Those stay open
    /// and are served: closing a socket resets the connections queued on it, and the kernel
    /// keeps queueing new ones on every socket of the group until it is closed.
    public func listeners(_ addresses: [ListenAddress], slot: Int, slots: Int) -> [(address: ListenAddress, fd: Int32)] {
        var out: [(address: ListenAddress, fd: Int32)] = []
        for address in addresses {
            if let fd = activated[address] {
                out.append((address, fd))
                continue
            }
            out.append((address, sockets[Key(address: address, slot: slot)] ?? -1))
            let extra = sockets.keys.filter { $0.address == address && $0.slot >= slots && $0.slot % max(slots, 1) == slot }
            for key in extra.sorted(by: { $0.slot < $1.slot }) { out.append((address, sockets[key]!)) }
        }
        return out
    }

    /// The keys a generation with these addresses and `slots` workers serves (see `listeners`);
    /// `slot` limits it to one worker's.
    public func keys(_ addresses: [ListenAddress], slots: Int, slot: Int? = nil) -> [Key] {
        sockets.keys.filter { key in
            addresses.contains(key.address) && (slot.map { key.slot % max(slots, 1) == $0 } ?? true)
        }
    }

    /// Closes every socket not in `keep` (adopted sockets are never closed).
    public func retain(_ keep: Set<Key>) {
        for key in sockets.keys where !keep.contains(key) {
            close(sockets.removeValue(forKey: key)!)
        }
    }

    /// Whether the table holds a socket for `key` (tests).
    public func has(_ key: Key) -> Bool { sockets[key] != nil }

    /// socket + SO_REUSEADDR + SO_REUSEPORT (+ IPV6_V6ONLY) + bind + listen. Close-on-exec: only
    /// the explicit hand-over in `Spawner` gives a socket to a child.
    static func bindListening(_ address: ListenAddress, backlog: Int32) throws(BindError) -> Int32 {
        var hints = addrinfo()
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(address.host, String(address.port), &hints, &result)
        guard rc == 0, let info = result else {
            throw BindError(description: "cannot resolve \(address): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(result) }
        let family = info.pointee.ai_family
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw BindError(description: "socket for \(address): \(errorText())") }
        var one: Int32 = 1
        let size = socklen_t(MemoryLayout<Int32>.size)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, size)
        guard setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, size) == 0 else {
            let e = errorText()
            close(fd)
            throw BindError(description: "SO_REUSEPORT on \(address): \(e)")
        }
        if family == AF_INET6 { setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, size) }
        guard bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0, listen(fd, backlog) == 0 else {
            let e = errorText()
            close(fd)
            throw BindError(description: "cannot listen on \(address): \(e)")
        }
        return fd
    }
}

func errorText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }
