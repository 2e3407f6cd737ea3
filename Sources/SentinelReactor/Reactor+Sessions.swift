internal import CSentinelLinux
internal import Glibc

extension Reactor {
    /// Starts a session for an accepted descriptor (or any connected socket the host hands
    /// over) and calls the driver's `start`.
    /// Starts a session without an accepted connection (its driver connects out in `start`,
    /// e.g. a probe). It ends when its last connection closes, or at once if it opens none.
    public func startSession(_ driver: any ConnectionDriver) {
        let session = Session(driver: driver, maxEndpoints: max(1, configuration.maxEndpoints))
        session.token = sessions.insert(session)
        stats.sessionsOpened += 1
        callDriver(session) { $0.driver.start(&$1) }
        endIfIdle(session)
    }

    @discardableResult
    public func adopt(_ fd: Int32, driver: any ConnectionDriver) -> Bool {
        let session = Session(driver: driver, maxEndpoints: max(1, configuration.maxEndpoints))
        session.token = sessions.insert(session)
        stats.sessionsOpened += 1
        guard addSocket(session, .downstream, fd: fd, connecting: false) else {
            Glibc.close(fd)
            endSession(session)
            return false
        }
        callDriver(session) { $0.driver.start(&$1) }
        endIfIdle(session)
        return true
    }

    func addSocket(_ session: Session, _ endpoint: Endpoint, fd: Int32, connecting: Bool) -> Bool {
        let socket = EndpointSocket(session: session, endpoint: endpoint, fd: fd, connecting: connecting)
        socket.token = registrations.insert(.socket(socket))
        let events = connecting ? levelInterest(reading: false, writing: true) : levelInterest(reading: true, writing: false)
        let registered = register(fd, token: socket.token, events: edgeTriggered ? edgeInterest : events)
        guard registered else {
            registrations.remove(socket.token)
            return false
        }
        socket.interest = events
        session.sockets[Int(endpoint.raw)] = socket
        session.openCount += 1
        return true
    }

    /// Edge-triggered: everything, once.
    var edgeInterest: UInt32 {
        UInt32(SENTINEL_EPOLLIN | SENTINEL_EPOLLOUT | SENTINEL_EPOLLRDHUP) | UInt32(truncatingIfNeeded: SENTINEL_EPOLLET)
    }

    func levelInterest(reading: Bool, writing: Bool) -> UInt32 {
        (reading ? UInt32(SENTINEL_EPOLLIN | SENTINEL_EPOLLRDHUP) : 0) | (writing ? UInt32(SENTINEL_EPOLLOUT) : 0)
    }

    /// Level-triggered: registers what the socket needs now (no call when unchanged).
    func updateInterest(_ socket: EndpointSocket) {
        guard !edgeTriggered, socket.isOpen else { return }
        let wanted = socket.connecting
            ? levelInterest(reading: false, writing: true)
            : levelInterest(reading: socket.reading && !socket.inputEnded, writing: socket.writeBlocked)
        guard wanted != socket.interest else { return }
        socket.interest = wanted
        modify(socket.fd, token: socket.token, events: wanted)
    }

    // MARK: readiness

    func handleSocket(_ socket: EndpointSocket, events: UInt32) {
        handleReadiness(socket, events: events)
        endIfIdle(socket.session)
    }

    func handleReadiness(_ socket: EndpointSocket, events: UInt32) {
        let session = socket.session
        let hangup = events & UInt32(SENTINEL_EPOLLERR | SENTINEL_EPOLLHUP) != 0
        if socket.connecting {
            guard events & UInt32(SENTINEL_EPOLLOUT) != 0 || hangup else { return }
            let err = Sockets.pendingError(socket.fd)
            if err != 0 {
                fail(socket, ReactorError(.connect, errno: err))
                return
            }
            socket.connecting = false
            updateInterest(socket)
            callDriver(session) { $0.driver.connected(socket.endpoint, &$1) }
            // Bytes that came with the connection (a server that speaks first) are read now:
            // edge-triggered, this event is the only report of them.
            guard socket.isOpen, events & UInt32(SENTINEL_EPOLLIN | SENTINEL_EPOLLRDHUP) != 0 else { return }
        }
        if events & UInt32(SENTINEL_EPOLLERR) != 0 {
            let err = Sockets.pendingError(socket.fd)
            if err != 0 {
                fail(socket, ReactorError(.read, errno: err))
                return
            }
        }
        if events & UInt32(SENTINEL_EPOLLRDHUP | SENTINEL_EPOLLHUP) != 0 { socket.eofPending = true }
        if events & UInt32(SENTINEL_EPOLLOUT) != 0 || hangup, socket.writeBlocked {
            socket.writeBlocked = false
            flushAndNotify(socket)
            guard socket.isOpen else { return }
        }
        if events & UInt32(SENTINEL_EPOLLIN | SENTINEL_EPOLLRDHUP) != 0 || hangup {
            socket.readReady = true
            if socket.reading && !socket.inputEnded {
                readAvailable(socket)
            } else if !edgeTriggered && hangup {
                // Level-triggered hang-up while paused: silence it until reading resumes.
                socket.interest = 0
                modify(socket.fd, token: socket.token, events: 0)
            }
        }
    }

    /// Reads while the driver wants bytes and the kernel has them, up to `maxReadsPerEvent`.
    func readAvailable(_ socket: EndpointSocket) {
        let session = socket.session
        if session.ownReads { return readIntoDriver(socket) }
        var reads = 0
        while socket.isOpen, socket.reading, !socket.inputEnded, socket.readReady {
            var buffer: IOBuffer? = pool.take()
            let n = Glibc.read(socket.fd, buffer!.writable.baseAddress, buffer!.writableBytes)
            stats.reads += 1
            if n > 0 {
                let full = n == buffer!.writableBytes
                buffer!.commit(n)
                // A short read emptied the socket (no need to see EAGAIN), unless an end of file waits.
                if !full && !socket.eofPending { socket.readReady = false }
                if !edgeTriggered { socket.readReady = false }
                invoke(session) { $0.driver.received(buffer!, on: socket.endpoint, &$1) }
                // Only this reference is left unless the driver kept or queued the buffer.
                if var b = buffer {
                    buffer = nil
                    pool.give(&b)
                }
                flushQueued(session)
                reads += 1
                if reads >= configuration.maxReadsPerEvent, socket.readReady {
                    queueRead(socket)
                    return
                }
            } else if n == 0 {
                giveBack(&buffer)
                socket.inputEnded = true
                socket.readReady = false
                updateInterest(socket)
                callDriver(session) { $0.driver.inputEnded(on: socket.endpoint, &$1) }
                return
            } else {
                giveBack(&buffer)
                let e = errno
                if e == EINTR { continue }
                socket.readReady = false
                if e == EAGAIN || e == EWOULDBLOCK { return }
                fail(socket, ReactorError(.read, errno: e))
                return
            }
        }
    }

    /// `readAvailable` for a driver that reads into its own memory: the driver makes each read
    /// (`ConnectionDriver.receive`), the reactor judges its outcome as for its own reads.
    func readIntoDriver(_ socket: EndpointSocket) {
        let session = socket.session
        var reads = 0
        while socket.isOpen, socket.reading, !socket.inputEnded, socket.readReady {
            var read = SocketRead(socket: socket.fd)
            invoke(session) { $0.driver.receive(on: socket.endpoint, &read, &$1) }
            stats.reads += 1
            guard let n = read.result else {
                // The driver did not read (a broken contract): stop rather than spin.
                flushQueued(session)
                return
            }
            if n > 0 {
                if !(n == read.offered) && !socket.eofPending { socket.readReady = false }
                if !edgeTriggered { socket.readReady = false }
                flushQueued(session)
                reads += 1
                if reads >= configuration.maxReadsPerEvent, socket.readReady {
                    queueRead(socket)
                    return
                }
            } else if n == 0 {
                flushQueued(session)
                guard socket.isOpen else { return }
                socket.inputEnded = true
                socket.readReady = false
                updateInterest(socket)
                callDriver(session) { $0.driver.inputEnded(on: socket.endpoint, &$1) }
                return
            } else {
                flushQueued(session)
                socket.readReady = false
                let e = read.error
                if e == EAGAIN || e == EWOULDBLOCK || !socket.isOpen { return }
                fail(socket, ReactorError(.read, errno: e))
                return
            }
        }
    }

    func giveBack(_ buffer: inout IOBuffer?) {
        guard var b = buffer else { return }
        buffer = nil
        pool.give(&b)
    }

    func queueRead(_ socket: EndpointSocket) {
        guard !socket.queuedForRead else { return }
        socket.queuedForRead = true
        readyToRead.append(socket)
    }

    /// Sockets left with bytes to read after their turn, or whose reading was switched back on.
    func runReadyQueue() {
        guard !readyToRead.isEmpty else { return }
        let batch = readyToRead
        readyToRead.removeAll(keepingCapacity: true)
        for socket in batch {
            socket.queuedForRead = false
            if socket.isOpen { readAvailable(socket) }
            endIfIdle(socket.session)
        }
    }

    // MARK: writing

    /// Writes queued output with as few writev calls as the kernel allows. Returns true when
    /// the queue is empty afterwards.
    func flush(_ socket: EndpointSocket) -> Bool {
        while socket.outputBytes > 0 {
            var count = 0
            var requested = 0
            var i = socket.outputHead
            while i < socket.output.count, count < Self.maxIovecs {
                let b = socket.output[i]!
                iovecs[count] = iovec(iov_base: b.base + b.readerIndex, iov_len: b.readableBytes)
                requested += b.readableBytes
                count += 1
                i += 1
            }
            let n = sentinel_sendv(socket.fd, iovecs, Int32(count))
            stats.writes += 1
            if n < 0 {
                let e = errno
                if e == EINTR { continue }
                if e == EAGAIN || e == EWOULDBLOCK {
                    stats.writesBlocked += 1
                    socket.writeBlocked = true
                    updateInterest(socket)
                    return false
                }
                fail(socket, ReactorError(.write, errno: e))
                return false
            }
            consumeOutput(socket, n)
            if n < requested, socket.outputBytes > 0 {
                // A short write: the send buffer is full; EPOLLOUT says when there is room.
                stats.writesBlocked += 1
                socket.writeBlocked = true
                updateInterest(socket)
                return false
            }
        }
        return true
    }

    func consumeOutput(_ socket: EndpointSocket, _ written: Int) {
        var left = written
        socket.outputBytes -= written
        while left > 0 {
            let b = socket.output[socket.outputHead]!
            let take = min(left, b.readableBytes)
            b.consume(take)
            left -= take
            if b.isEmpty {
                var done = socket.output[socket.outputHead]
                socket.output[socket.outputHead] = nil
                socket.outputHead += 1
                giveBack(&done)
            }
        }
        if socket.outputHead == socket.output.count {
            socket.output.removeAll(keepingCapacity: true)
            socket.outputHead = 0
        }
    }

    /// Flushes; on an empty queue performs a pending close or tells the driver it drained.
    func flushAndNotify(_ socket: EndpointSocket) {
        guard socket.isOpen, flush(socket) else { return }
        if socket.writeBlocked == false { updateInterest(socket) }
        if let mode = socket.closeAfterFlush {
            closeNow(socket, mode: mode)
            return
        }
        callDriver(socket.session) { $0.driver.drained(socket.endpoint, &$1) }
    }

    // MARK: closing

    /// Closes one socket; the session ends with its last socket.
    func closeNow(_ socket: EndpointSocket, mode: CloseMode) {
        guard socket.isOpen else { return }
        if mode == .outputAfterFlush {
            socket.closeAfterFlush = nil
            shutdown(socket.fd, Int32(SHUT_WR))
            return
        }
        if mode == .reset { Sockets.setLingerZero(socket.fd) }
        registrations.remove(socket.token)
        Glibc.close(socket.fd)  // leaves the epoll set with the last reference
        socket.fd = -1
        for i in socket.outputHead..<socket.output.count {
            var b = socket.output[i]
            socket.output[i] = nil
            giveBack(&b)
        }
        socket.output.removeAll()
        socket.outputHead = 0
        socket.outputBytes = 0
        let session = socket.session
        session.sockets[Int(socket.endpoint.raw)] = nil
        session.openCount -= 1
    }

    /// Ends a session with no socket and no deadline left, once its driver has heard everything.
    func endIfIdle(_ session: Session) {
        guard !session.ended, session.openCount == 0, session.deadline == nil, session.pendingFailures == 0 else { return }
        endSession(session)
    }

    /// A socket failed: close it (reset) and tell the driver.
    func fail(_ socket: EndpointSocket, _ error: ReactorError) {
        let session = socket.session
        closeNow(socket, mode: .reset)
        callDriver(session) { $0.driver.failed(socket.endpoint, error, &$1) }
    }

    func finish(_ session: Session, mode: CloseMode) {
        session.deadline = nil
        for case let socket? in session.sockets {
            close(socket, mode: mode)
        }
        endIfIdle(session)
    }

    func close(_ socket: EndpointSocket, mode: CloseMode) {
        if mode == .reset || socket.outputBytes == 0 {
            closeNow(socket, mode: mode)
        } else {
            socket.closeAfterFlush = mode
        }
    }

    func endSession(_ session: Session) {
        guard !session.ended else { return }
        session.ended = true
        sessions.remove(session.token)
        for i in session.sockets.indices { session.sockets[i] = nil }
        stats.sessionsClosed += 1
    }
}

