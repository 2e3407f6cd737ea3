/// One driver and the sockets it holds (the accepted connection and those it opened).
final class Session {
    let driver: any ConnectionDriver
    var token: UInt64 = 0
    /// Indexed by `Endpoint.raw`; at most `ReactorConfiguration.maxEndpoints`.
    var sockets: [EndpointSocket?]
    var openCount = 0
    /// The driver's deadline, and the deadline of this session's live wheel entry.
    var deadline: ReactorInstant?
    var armed: ReactorInstant?
    var ended = false
    /// Connect failures posted but not yet told to the driver (the session waits for them).
    var pendingFailures = 0
    /// The driver reads into its own memory (`ConnectionDriver.readsIntoOwnMemory`).
    let ownReads: Bool

    init(driver: any ConnectionDriver, maxEndpoints: Int) {
        self.driver = driver
        ownReads = driver.readsIntoOwnMemory
        sockets = Array(repeating: nil, count: maxEndpoints)
    }

    func socket(_ endpoint: Endpoint) -> EndpointSocket? {
        let i = Int(endpoint.raw)
        return i < sockets.count ? sockets[i] : nil
    }
}

/// One socket of a session, with its output queue and interest flags.
final class EndpointSocket {
    /// Strong; the cycle is broken when the session ends (its socket list is cleared).
    let session: Session
    let endpoint: Endpoint
    var fd: Int32
    var token: UInt64 = 0
    var connecting: Bool
    /// The driver wants to read.
    var reading = true
    /// Edge-triggered: the kernel may hold unread bytes (no EAGAIN seen since the last edge).
    var readReady = false
    /// EPOLLRDHUP/HUP seen: an end of file is waiting behind the data.
    var eofPending = false
    var inputEnded = false
    /// Queued in the reactor's ready list already.
    var queuedForRead = false
    /// Output not yet in the kernel: `output[outputHead...]`.
    var output: [IOBuffer?] = []
    var outputHead = 0
    var outputBytes = 0
    /// The last flush stopped at EAGAIN: wait for EPOLLOUT.
    var writeBlocked = false
    var closeAfterFlush: CloseMode?
    /// Output was queued during the current driver call.
    var needsFlush = false
    /// Level-triggered: the events registered now.
    var interest: UInt32 = 0

    init(session: Session, endpoint: Endpoint, fd: Int32, connecting: Bool) {
        self.session = session
        self.endpoint = endpoint
        self.fd = fd
        self.connecting = connecting
    }

    var isOpen: Bool { fd >= 0 }
}
