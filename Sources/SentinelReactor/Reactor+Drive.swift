internal import CSentinelLinux
internal import Glibc

extension Reactor {
    /// Calls the driver, performs its actions, then writes what they queued.
    func callDriver(_ session: Session, _ body: (Session, inout DriverIO) -> Void) {
        invoke(session, body)
        flushQueued(session)
    }

    /// Calls the driver and performs its actions, except writing (the caller flushes after
    /// releasing any buffer it still holds, so written buffers return to the pool).
    func invoke(_ session: Session, _ body: (Session, inout DriverIO) -> Void) {
        guard !session.ended else { return }
        var io = DriverIO(now: now, pool: pool, session: session.token, storage: &actionScratch)
        body(session, &io)
        var actions: [DriverAction] = []
        io.takeActions(into: &actions)
        perform(session, actions)
        actions.removeAll(keepingCapacity: true)
        if actionScratch.capacity < actions.capacity { swap(&actionScratch, &actions) }
    }

    /// Writes every socket of the session that got output in the last driver call.
    func flushQueued(_ session: Session) {
        guard !session.ended else { return }
        for case let socket? in session.sockets where socket.needsFlush {
            // A driver that writes again on every `drained` would recurse: past a few levels
            // the flush waits for the end of this loop iteration.
            if flushDepth >= 8 {
                deferredFlushes.append(socket)
                continue
            }
            socket.needsFlush = false
            guard !socket.writeBlocked else { continue }
            flushDepth += 1
            flushAndNotify(socket)
            flushDepth -= 1
        }
    }

    func perform(_ session: Session, _ actions: [DriverAction]) {
        for action in actions {
            guard !session.ended else { return }
            performOne(session, action)
        }
    }

    func performOne(_ session: Session, _ action: DriverAction) {
        switch action {
        case .write(let endpoint, let buffer):
            guard let socket = session.socket(endpoint), socket.isOpen, socket.closeAfterFlush == nil else {
                return  // written after close: dropped, as a closed socket would
            }
            guard !buffer.isEmpty else { return }
            guard socket.outputBytes + buffer.readableBytes <= configuration.maxOutputBytes else {
                fail(socket, ReactorError(.outputBound, errno: 0))
                return
            }
            socket.output.append(buffer)
            socket.outputBytes += buffer.readableBytes
            socket.needsFlush = true
        case .reading(let endpoint, let on):
            guard let socket = session.socket(endpoint), socket.isOpen, socket.reading != on else { return }
            socket.reading = on
            updateInterest(socket)
            if on, socket.readReady, !socket.inputEnded { queueRead(socket) }
        case .deadline(let deadline):
            armDeadline(session, deadline)
        case .close(let endpoint, let mode):
            guard let socket = session.socket(endpoint) else { return }
            close(socket, mode: mode)
        case .finish(let mode):
            finish(session, mode: mode)
        case .connect(let endpoint, let address):
            connect(session, endpoint, to: address)
        }
    }

    func connect(_ session: Session, _ endpoint: Endpoint, to address: SocketAddress) {
        guard Int(endpoint.raw) < session.sockets.count else {
            postFailure(session, endpoint, ReactorError(.endpointBound, errno: 0))
            return
        }
        guard session.socket(endpoint) == nil else {
            postFailure(session, endpoint, ReactorError(.endpointMisuse, errno: 0))
            return
        }
        let fd: Int32
        do {
            fd = try Sockets.startConnect(to: address).fd
        } catch {
            postFailure(session, endpoint, error)
            return
        }
        // Completion (immediate or not) is reported by EPOLLOUT: one path for both.
        guard addSocket(session, endpoint, fd: fd, connecting: true) else {
            let e = ReactorError.last(.epollControl)
            Glibc.close(fd)
            postFailure(session, endpoint, e)
            return
        }
    }

    /// A connect that failed before it had a socket: the driver hears it after this call.
    func postFailure(_ session: Session, _ endpoint: Endpoint, _ error: ReactorError) {
        session.pendingFailures += 1
        failuresToReport.append((session, endpoint, error))
    }

    func runDeferredFlushes() {
        while !deferredFlushes.isEmpty {
            let batch = deferredFlushes
            deferredFlushes.removeAll()
            for socket in batch where socket.isOpen && socket.needsFlush {
                socket.needsFlush = false
                if !socket.writeBlocked { flushAndNotify(socket) }
                endIfIdle(socket.session)
            }
        }
    }

    func reportFailures() {
        while !failuresToReport.isEmpty {
            let (session, endpoint, error) = failuresToReport.removeFirst()
            session.pendingFailures -= 1
            callDriver(session) { $0.driver.failed(endpoint, error, &$1) }
            endIfIdle(session)
        }
    }
}
