public import SentinelAgentProtocol

/// One proxy connection as the agent sees it, as a value type: frames in, actions out. No I/O;
/// the server's channel handler performs the actions.
///
/// - The first frame must be a HandshakeRequest (else the connection closes); the answer is
///   decided by the handler, so the machine asks for it (`.handshake`) and waits in
///   `.handshaking` (further frames are a protocol error until then).
/// - Then events are dispatched concurrently (`.dispatch`), at most `maxInFlight` at once: the
///   server stops reading while the limit is reached (`shouldRead`), so a flood of events costs
///   bounded memory.
/// - Ping is answered with a Pong echoing the payload; Cancel cancels the calls of that
///   correlation id; frames meant for the proxy (0x02, 0x20, 0x30-0x33) and Pongs are ignored.
public struct AgentConnectionMachine: Sendable {
    public enum State: Sendable, Equatable {
        case awaitingHandshake
        case handshaking
        case ready
        case closed
    }

    public enum Action: Sendable, Equatable {
        /// Ask the handler about this handshake, then call `handshakeDecided`.
        case handshake(HandshakeRequest)
        /// Run this event (its id is for `completed` and cancellation).
        case dispatch(id: UInt64, type: AgentMessageType, payload: [UInt8])
        /// Write this frame.
        case send(AgentFrame)
        /// Cancel the running events with these ids and tell the handler.
        case cancel(ids: [UInt64], message: CancelMessage)
        /// Nothing to do (`reason` says why, for a debug log).
        case ignore(reason: String)
        /// Close the connection (a protocol error, or a refused handshake after its answer).
        case close(reason: String)
    }

    public private(set) var state: State = .awaitingHandshake
    public let maxInFlight: Int
    private var nextID: UInt64 = 0
    /// Running events: id → correlation id (best effort, for Cancel).
    private var running: [UInt64: String] = [:]

    public init(maxInFlight: Int = 256) {
        self.maxInFlight = max(1, maxInFlight)
    }

    public var inFlight: Int { running.count }

    /// Whether the server should read more frames now.
    public var shouldRead: Bool { state != .closed && state != .handshaking && running.count < maxInFlight }

    public mutating func received(_ frame: AgentFrame) -> Action {
        switch state {
        case .closed:
            return .ignore(reason: "connection closed")
        case .awaitingHandshake:
            guard frame.type == .handshakeRequest else {
                state = .closed
                return .close(reason: "expected a HandshakeRequest, got \(frame.type)")
            }
            do {
                let request = try AgentCodec.decode(HandshakeRequest.self, from: frame.payload)
                state = .handshaking
                return .handshake(request)
            } catch {
                state = .closed
                return .close(reason: "malformed HandshakeRequest: \(error)")
            }
        case .handshaking:
            state = .closed
            return .close(reason: "a frame arrived before the handshake was answered")
        case .ready:
            break
        }
        switch frame.type {
        case .ping:
            return .send(AgentFrame(type: .pong, payload: frame.payload))
        case .cancel:
            guard let message = try? AgentCodec.decode(CancelMessage.self, from: frame.payload) else {
                return .ignore(reason: "malformed Cancel")
            }
            let ids = running.filter { $0.value == message.correlationID }.map(\.key).sorted()
            return .cancel(ids: ids, message: message)
        case let t where t.isEvent:
            nextID += 1
            running[nextID] = Self.correlationID(of: frame.payload)
            return .dispatch(id: nextID, type: t, payload: frame.payload)
        case .handshakeRequest:
            state = .closed
            return .close(reason: "a second HandshakeRequest")
        default:
            return .ignore(reason: "\(frame.type) is not for an agent")
        }
    }

    /// The handler's verdict on the handshake: the frame to send, and whether to close after it.
    public mutating func handshakeDecided(capabilities: AgentCapabilities, refusal: String?) -> (AgentFrame, close: Bool) {
        var response = HandshakeResponse(capabilities: capabilities, success: refusal == nil, error: refusal)
        response.encoding = "json"
        let payload = (try? AgentCodec.encode(response)) ?? []
        state = refusal == nil ? .ready : .closed
        return (AgentFrame(type: .handshakeResponse, payload: payload), refusal != nil)
    }

    /// An event finished (answered or cancelled).
    public mutating func completed(_ id: UInt64) {
        running[id] = nil
    }

    public mutating func closed() {
        state = .closed
    }

    /// The correlation id of an event payload without decoding the whole event (which may be
    /// megabytes of body): the first `"correlation_id":"…"` member. Inside JSON strings quotes
    /// are escaped, so the pattern only occurs as a real member; events are written with sorted
    /// keys, so the top-level one (equal to `metadata.correlation_id`) comes first. An id with
    /// escapes is decoded properly; "" when there is none.
    public static func correlationID(of payload: [UInt8]) -> String {
        let key = Array(#""correlation_id":""#.utf8)
        guard payload.count > key.count else { return "" }
        var i = 0
        let last = payload.count - key.count
        while i <= last {
            if payload[i] == key[0] && payload[i + 1] == key[1] && payload[i..<(i + key.count)].elementsEqual(key) {
                let start = i + key.count
                var j = start
                while j < payload.count, payload[j] != UInt8(ascii: "\""), payload[j] != UInt8(ascii: "\\") { j += 1 }
                if j < payload.count, payload[j] == UInt8(ascii: "\"") {
                    return String(decoding: payload[start..<j], as: UTF8.self)
                }
                struct Probe: Decodable { var correlation_id: String? }
                return (try? AgentCodec.decode(Probe.self, from: payload))?.correlation_id ?? ""
            }
            i += 1
        }
        return ""
    }
}
