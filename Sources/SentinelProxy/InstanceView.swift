import NIOCore

/// The instance-wide answers of the builtin `metrics` and `status` routes when this process is
/// one of several workers (`sentinel-stack`): the process's own numbers would be a fragment that
/// changes with whichever worker answered.
///
/// The worker implements it over its control socket to the master, which collects a fresh report
/// from every worker and merges them. A process without one (plain `sentinel`) answers alone.
public protocol InstanceView: Sendable {
    /// Calls `completion` once, on any thread, with the instance-wide body for `kind`: the full
    /// exposition text for `.metrics`, a JSON member list (`"generation":1,…`, no braces) for
    /// `.status`, the `"upstreams":[…]` member for `.upstreams`; nil when the master did not
    /// answer in time.
    func fetch(_ kind: BuiltinKind, completion: @escaping @Sendable (String?) -> Void)
}

extension ProxyConnectionHandler {
    /// Whether a builtin answer must come from the instance view rather than this process alone.
    func wantsInstanceAnswer(_ kind: BuiltinKind, _ response: BuiltinResponse) -> Bool {
        shared.instanceView != nil && response.status == 200 && (kind == .metrics || kind == .status || kind == .upstreams)
    }

    /// Asks the instance view for `reply`'s body, then finishes it on this connection's loop.
    /// Meanwhile the connection reads nothing more (state `.awaitingInstance`).
    func fetchInstanceAnswer(_ reply: LocalReply, kind: BuiltinKind, finish: @escaping (LocalReply) -> Void) {
        guard let view = shared.instanceView else { return finish(reply) }
        machine.awaitInstance()
        let loop = host.eventLoop
        let bound = NIOLoopBound((self, finish), eventLoop: loop)
        view.fetch(kind) { text in
            loop.execute {
                let (handler, finish) = bound.value
                guard handler.machine.isAwaitingInstance else { return }
                finish(Self.merged(reply, kind: kind, text: text))
                if handler.machine.isAwaitingHead { handler.process() }
            }
        }
    }

    /// Where the last occurrence of `needle` starts in `text`.
    static func lastIndex(of needle: String, in text: String) -> String.Index? {
        var i = text.endIndex
        while i > text.startIndex {
            i = text.index(before: i)
            if text[i...].hasPrefix(needle) { return i }
        }
        return nil
    }

    /// `reply` with the instance-wide body; without one, the process's own answer marked
    /// `X-Sentinel-Scope: worker` so a scraper can tell a partial view.
    static func merged(_ reply: LocalReply, kind: BuiltinKind, text: String?) -> LocalReply {
        var out = reply
        guard let text else {
            out.response.headers.append(("X-Sentinel-Scope", "worker"))
            return out
        }
        switch kind {
        case .metrics:
            out.response.body = Array(text.utf8)
        case .status:
            var body = out.response.body
            let text = text.trimmingSuffix(while: { $0 == "\n" })
            guard body.last == UInt8(ascii: "}"), !text.isEmpty else { break }
            body.removeLast()
            out.response.body = body + Array(",\(text)}".utf8)
        case .upstreams:
            // Keep this worker's timestamp: `{"upstreams":[…],"timestamp":"…"}`.
            let local = String(decoding: out.response.body, as: UTF8.self)
            let text = text.trimmingSuffix(while: { $0 == "\n" })
            guard let ts = Self.lastIndex(of: ",\"timestamp\":", in: local), text.hasPrefix("\"upstreams\"") else {
                out.response.headers.append(("X-Sentinel-Scope", "worker"))
                return out
            }
            out.response.body = Array(("{" + text + local[ts...]).utf8)
        default:
            break
        }
        out.response.headers.append(("X-Sentinel-Scope", "instance"))
        return out
    }
}

extension StringProtocol {
    /// The text without trailing characters matching `drop`.
    func trimmingSuffix(while drop: (Character) -> Bool) -> Substring {
        var s = self[...]
        while let last = s.last, drop(last) { s = s.dropLast() }
        return Substring(s)
    }
}
