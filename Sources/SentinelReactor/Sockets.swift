internal import CSentinelLinux
internal import Glibc

/// The socket calls the reactor makes, each returning a typed error. Stateless functions over
/// descriptors; the reactor owns the descriptors.
public enum Sockets {
    /// A listening TCP socket bound to `address` (port 0 picks one), non-blocking and
    /// close-on-exec: what the master hands a worker, made here for tests and the benchmark.
    public static func listen(on address: SocketAddress, backlog: Int32 = 511, reusePort: Bool = false) throws(ReactorError) -> Int32 {
        let fd = sentinel_stream_socket(address.family)
        guard fd >= 0 else { throw .last(.socket) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if reusePort { setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size)) }
        let bound = address.withSockAddr { Glibc.bind(fd, $0, $1) }
        guard bound == 0 else {
            let e = ReactorError.last(.bind)
            Glibc.close(fd)
            throw e
        }
        guard Glibc.listen(fd, backlog) == 0 else {
            let e = ReactorError.last(.listen)
            Glibc.close(fd)
            throw e
        }
        return fd
    }

    /// The address a socket is bound to (the port a port-0 listener got).
    public static func localAddress(_ fd: Int32) throws(ReactorError) -> SocketAddress {
        var ss = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let r = withUnsafeMutablePointer(to: &ss) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        guard r == 0 else { throw .last(.getsockname) }
        guard let a = withUnsafePointer(to: &ss, { SocketAddress(UnsafeRawPointer($0)) }) else { throw ReactorError(.getsockname, errno: EAFNOSUPPORT) }
        return a
    }

    /// Starts a non-blocking connect. Returns the descriptor and whether it is already
    /// connected (loopback sometimes completes at once); otherwise completion is reported by
    /// EPOLLOUT and `pendingError`.
    static func startConnect(to address: SocketAddress) throws(ReactorError) -> (fd: Int32, connected: Bool) {
        let fd = sentinel_stream_socket(address.family)
        guard fd >= 0 else { throw .last(.socket) }
        setNoDelay(fd)
        let r = address.withSockAddr { Glibc.connect(fd, $0, $1) }
        if r == 0 { return (fd, true) }
        let e = Glibc.errno
        if e == EINPROGRESS || e == EINTR { return (fd, false) }
        Glibc.close(fd)
        throw ReactorError(.connect, errno: e)
    }

    /// SO_ERROR: 0 when a non-blocking connect succeeded.
    static func pendingError(_ fd: Int32) -> Int32 {
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 else { return Glibc.errno }
        return err
    }

    /// TCP_NODELAY: the reactor writes whole responses with one writev, so Nagle only delays.
    static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// SO_LINGER 0, so close() sends RST (an aborted connection, not a clean end).
    static func setLingerZero(_ fd: Int32) {
        var l = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
    }
}
