internal import Glibc

/// The one error of the reactor: which system call (or reactor rule) failed, and the errno it
/// left. A driver sees it in `failed(_:_:_:)`; its description is written for operators
/// ("connect: Connection refused (errno 111)").
public struct ReactorError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What the reactor was doing.
    public enum Operation: String, Sendable {
        case epollCreate = "epoll_create", epollControl = "epoll_ctl", epollWait = "epoll_wait"
        case eventfd, socket, bind, listen, accept, connect, read, write, close, setsockopt, getsockopt, getsockname
        case threadStart = "thread start"
        /// A driver queued more output than `ReactorLimits.maxOutputBytes` on one endpoint.
        case outputBound = "output bound"
        /// A driver used an endpoint number that is not open, or opened one twice.
        case endpointMisuse = "endpoint misuse"
        /// More endpoints than `ReactorLimits.maxEndpoints` in one session.
        case endpointBound = "endpoint bound"
    }

    public let operation: Operation
    /// The errno value (0 for the reactor's own rules).
    public let errno: Int32

    public init(_ operation: Operation, errno: Int32) {
        self.operation = operation
        self.errno = errno
    }

    /// The current `errno` for a failed call.
    static func last(_ operation: Operation) -> ReactorError { ReactorError(operation, errno: Glibc.errno) }

    public var isConnectionRefused: Bool { errno == ECONNREFUSED }
    public var isReset: Bool { errno == ECONNRESET || errno == EPIPE }
    public var isTimeout: Bool { errno == ETIMEDOUT }

    public var description: String {
        if errno == 0 { return operation.rawValue }
        return "\(operation.rawValue): \(String(cString: strerror(errno))) (errno \(errno))"
    }
}
