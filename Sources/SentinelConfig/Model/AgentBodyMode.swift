/// How a body is sent to an agent.
public enum AgentBodyMode: Sendable, Hashable, CustomStringConvertible {
    /// Collect the body (up to the agent's limit), then send it (the default).
    case buffer
    /// Send each chunk as it arrives.
    case stream
    /// Buffer up to `threshold` bytes, then stream. `"hybrid"` alone means 64 KiB.
    case hybrid(threshold: Int64)

    public static let defaultHybridThreshold: Int64 = 64 * 1024

    public var description: String {
        switch self {
        case .buffer: return "buffer"
        case .stream: return "stream"
        case .hybrid(let t): return "hybrid:\(t)"
        }
    }

    /// Reads `buffer`, `stream`, `hybrid` or `hybrid:<bytes>` (`hybrid:65536`, `hybrid:64KB`).
    static func read(_ r: inout NodeReader, _ name: String) -> AgentBodyMode? {
        guard let v = r.scalar([name]), let s = ValueReader(sink: r.sink, path: r.path, key: name).string(v) else { return nil }
        switch s.lowercased() {
        case "buffer": return .buffer
        case "stream", "streaming": return .stream
        case "hybrid": return .hybrid(threshold: defaultHybridThreshold)
        default: break
        }
        if s.lowercased().hasPrefix("hybrid:") {
            let text = String(s.dropFirst("hybrid:".count))
            if let n = ValueReader.parseSize(text), n > 0 { return .hybrid(threshold: n) }
            r.sink.error(v.location, r.path, "\"\(name)\": cannot read the hybrid threshold \"\(text)\"",
                         hint: "write hybrid:<bytes> with a positive size, e.g. \"hybrid:65536\" or \"hybrid:64KB\"")
            return nil
        }
        let guess = Suggest.closest(to: s, among: ["buffer", "stream", "hybrid"])
        r.sink.error(v.location, r.path, "unknown value \"\(s)\" for \"\(name)\"",
                     hint: (guess.map { "did you mean \"\($0)\"? " } ?? "") + "one of: \"buffer\", \"stream\", \"hybrid\", \"hybrid:<bytes>\"")
        return nil
    }
}
