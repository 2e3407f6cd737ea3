internal import CSentinelLinux
internal import Glibc

/// A listening socket the reactor accepts on. The descriptor belongs to the host (the master
/// hands the same listener to every generation): the reactor never closes it, it only stops
/// polling it.
final class Listener {
    let fd: Int32
    let id: Int
    let makeDriver: (AcceptedConnection) -> (any ConnectionDriver)?
    var token: UInt64 = 0
    var polled = false

    init(fd: Int32, id: Int, makeDriver: @escaping (AcceptedConnection) -> (any ConnectionDriver)?) {
        self.fd = fd
        self.id = id
        self.makeDriver = makeDriver
    }
}

/// What a driver factory learns about a new connection.
public struct AcceptedConnection {
    /// The listener's number (the order of `addListener` calls).
    public let listener: Int
    public let peer: SocketAddress?
}

extension Reactor {
    /// Adds a listener (made non-blocking here). Accepting starts off: a new generation turns
    /// it on when told (`ReactorMessage.accepting(true)` or `setAccepting(true)`). The factory
    /// returns nil to refuse a connection (it is closed at once).
    @discardableResult
    public func addListener(fd: Int32, makeDriver: @escaping (AcceptedConnection) -> (any ConnectionDriver)?) -> Int {
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        let listener = Listener(fd: fd, id: listeners.count, makeDriver: makeDriver)
        listeners.append(listener)
        if acceptingWanted && acceptPausedUntil == nil { poll(listener, true) }
        return listener.id
    }

    /// Whether listeners are polled. Off removes them from epoll: the kernel keeps queueing
    /// connections in the backlog, for whichever generation accepts.
    public func setAccepting(_ on: Bool) {
        acceptingWanted = on
        guard acceptPausedUntil == nil else { return }
        for listener in listeners { poll(listener, on) }
    }

    public var isAccepting: Bool { acceptingWanted && acceptPausedUntil == nil }

    func poll(_ listener: Listener, _ on: Bool) {
        guard listener.polled != on else { return }
        if on {
            // Level-triggered always: a listener left with a backlog after one batch is
            // reported again, and only this worker's socket is involved.
            listener.token = registrations.insert(.listener(listener))
            if register(listener.fd, token: listener.token, events: UInt32(SENTINEL_EPOLLIN)) {
                listener.polled = true
            } else {
                registrations.remove(listener.token)
            }
        } else {
            unregister(listener.fd)
            registrations.remove(listener.token)
            listener.polled = false
        }
    }

    func acceptConnections(_ listener: Listener) {
        var address = sockaddr_storage()
        for _ in 0..<max(1, configuration.acceptBatch) {
            var length = UInt32(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &address) { sentinel_accept(listener.fd, $0, &length) }
            if fd < 0 {
                let e = errno
                if e == EINTR || e == ECONNABORTED { continue }
                if e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM {
                    // Out of descriptors: stop accepting for a moment instead of spinning on a
                    // level-triggered listener that cannot be drained.
                    pauseAccepting()
                }
                return
            }
            stats.accepted += 1
            Sockets.setNoDelay(fd)
            let peer = withUnsafePointer(to: &address) { SocketAddress(UnsafeRawPointer($0)) }
            guard let driver = listener.makeDriver(AcceptedConnection(listener: listener.id, peer: peer)) else {
                Glibc.close(fd)
                continue
            }
            adopt(fd, driver: driver)
            guard listener.polled else { return }  // a driver's start turned accepting off
        }
    }

    func pauseAccepting() {
        acceptPausedUntil = now.adding(milliseconds: configuration.acceptPauseMilliseconds)
        for listener in listeners { poll(listener, false) }
    }

    func checkAcceptPause() {
        guard let until = acceptPausedUntil, now >= until else { return }
        acceptPausedUntil = nil
        if acceptingWanted { for listener in listeners { poll(listener, true) } }
    }
}
