/// How a child ended, decoded from a `waitpid` status by hand (the W* macros are not imported).
public enum ExitStatus: Sendable, Equatable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    public init(waitStatus st: Int32) {
        if st & 0x7f == 0 { self = .exited((st >> 8) & 0xff) } else { self = .signaled(st & 0x7f) }
    }

    public var isClean: Bool { self == .exited(0) }

    public var description: String {
        switch self {
        case .exited(let code): return "exit \(code)"
        case .signaled(let sig): return "signal \(sig)"
        }
    }
}
