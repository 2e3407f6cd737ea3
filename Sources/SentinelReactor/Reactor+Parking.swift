internal import CSentinelLinux
internal import Glibc

/// A connected socket the reactor keeps outside any session: an idle keep-alive connection of
/// an upstream pool, between two exchanges that may belong to different sessions.
///
/// A session parks one of its endpoints (`Reactor.park`): the socket leaves the session (its
/// epoll registration and token stay), and the reactor watches it alone. Bytes, an end of file
/// or an error on a parked socket mean the peer can no longer be trusted with a request: the
/// reactor closes it and calls `onClose`. Another session (or the same one) takes it back as one
/// of its endpoints with `Reactor.adopt`, without a system call when edge-triggered. The handle
/// belongs to whoever parked it (a pool); the reactor holds it only while it is parked.
public final class ParkedSocket {
    public enum State: Sendable, Equatable {
        /// Not handed to the reactor yet (or adopted by a session again).
        case free
        /// Held by the reactor, outside any session.
        case parked
        /// Closed while parked (by the peer, an error, `close()` or the reactor's shutdown).
        case closed
    }

    public internal(set) var state: State = .free
    var fd: Int32 = -1
    var token: UInt64 = 0
    weak var reactor: Reactor?
    /// Called once when the parked socket closes, whoever closed it (the peer, `close()`, or
    /// the reactor refusing to park a socket that is not clean).
    public var onClose: (() -> Void)?

    public init() {}

    /// Closes the socket if it is parked (an idle connection past its time); `onClose` follows.
    public func close() {
        reactor?.closeParked(self)
    }
}

@available(*, unavailable)
extension ParkedSocket: Sendable {}

extension Reactor {
    /// Parks `endpoint` of `session` into `handle`: the endpoint leaves the session and the
    /// reactor watches the socket until a session adopts it or it closes. Only a clean socket
    /// parks: connected, nothing queued to write, nothing unread and no end of file; any other
    /// is closed instead (and `onClose` called). Returns whether it parked.
    @discardableResult
    public func park(session token: UInt64, _ endpoint: Endpoint, into handle: ParkedSocket) -> Bool {
        guard handle.state == .free, let session = sessions[token], !session.ended, let socket = session.socket(endpoint),
            socket.isOpen
        else {
            refuseParking(handle)
            return false
        }
        guard !socket.connecting, socket.outputBytes == 0, socket.closeAfterFlush == nil, !socket.inputEnded,
            !socket.eofPending, !(socket.readReady && Sockets.hasInput(socket.fd))
        else {
            closeNow(socket, mode: .afterFlush)
            refuseParking(handle)
            return false
        }
        handle.fd = socket.fd
        handle.token = socket.token
        handle.reactor = self
        handle.state = .parked
        registrations.replace(socket.token, with: .parked(handle))
        if !edgeTriggered { modify(socket.fd, token: socket.token, events: levelInterest(reading: true, writing: false)) }
        // The socket object stays behind, detached (a later event or flush finds it closed).
        socket.fd = -1
        socket.needsFlush = false
        session.sockets[Int(endpoint.raw)] = nil
        session.openCount -= 1
        stats.parked += 1
        return true
    }

    /// Takes a parked socket into `session` as `endpoint` (reading on, writable). A handle that
    /// is no longer parked (it closed meanwhile), a taken endpoint number or a session that is
    /// gone fail the endpoint: the driver hears `failed(endpoint, …)` after the current call.
    public func adopt(_ handle: ParkedSocket, session token: UInt64, as endpoint: Endpoint) {
        guard let session = sessions[token], !session.ended else {
            return
        }
        guard Int(endpoint.raw) < session.sockets.count, session.socket(endpoint) == nil else {
            postFailure(session, endpoint, ReactorError(.endpointMisuse, errno: 0))
            return
        }
        guard handle.state == .parked, handle.reactor === self else {
            postFailure(session, endpoint, ReactorError(.read, errno: ECONNRESET))
            return
        }
        let socket = EndpointSocket(session: session, endpoint: endpoint, fd: handle.fd, connecting: false)
        socket.token = handle.token
        registrations.replace(handle.token, with: .socket(socket))
        socket.interest = levelInterest(reading: true, writing: false)
        session.sockets[Int(endpoint.raw)] = socket
        session.openCount += 1
        handle.fd = -1
        handle.state = .free
        handle.reactor = nil
        stats.adopted += 1
    }

    /// An event on a parked socket: anything but room to write means it is no longer usable.
    func parkedEvent(_ handle: ParkedSocket, events: UInt32) {
        let unusable = UInt32(SENTINEL_EPOLLIN | SENTINEL_EPOLLRDHUP | SENTINEL_EPOLLHUP | SENTINEL_EPOLLERR)
        guard events & unusable != 0 else { return }
        closeParked(handle)
    }

    func closeParked(_ handle: ParkedSocket) {
        guard handle.state == .parked else { return }
        registrations.remove(handle.token)
        Glibc.close(handle.fd)
        handle.fd = -1
        handle.state = .closed
        handle.reactor = nil
        stats.parkedClosed += 1
        let notify = handle.onClose
        handle.onClose = nil
        notify?()
    }

    private func refuseParking(_ handle: ParkedSocket) {
        guard handle.state == .free else { return }
        handle.state = .closed
        let notify = handle.onClose
        handle.onClose = nil
        notify?()
    }

    /// Closes every parked socket (shutdown).
    func closeParkedSockets() {
        for case .parked(let handle) in registrations.values { closeParked(handle) }
    }

    /// Sockets parked now.
    public var parkedCount: Int {
        var n = 0
        for case .parked in registrations.values { n += 1 }
        return n
    }

    /// Performs one action for `session` now, outside the driver's own action list: how an
    /// object that lives beside a driver (an upstream pool's connection) writes, reads, closes
    /// or connects one of the session's endpoints. Writes go out when the current driver call
    /// returns, or at the end of this loop iteration when there is none. A session left with
    /// no endpoint and no deadline ends. Returns false when the session is gone.
    @discardableResult
    public func act(_ action: DriverAction, session token: UInt64) -> Bool {
        guard let session = sessions[token], !session.ended else { return false }
        performOne(session, action)
        if case .write(let endpoint, _) = action, let socket = session.socket(endpoint), socket.needsFlush {
            deferredFlushes.append(socket)
        }
        endIfIdle(session)
        return true
    }
}

extension Sockets {
    /// Whether bytes or an end of file wait on a socket (a non-blocking peek).
    static func hasInput(_ fd: Int32) -> Bool {
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        if n >= 0 { return true }
        let e = errno
        return !(e == EAGAIN || e == EWOULDBLOCK || e == EINTR)
    }
}
