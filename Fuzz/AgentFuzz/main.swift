// libFuzzer target for SentinelAgentProtocol: the input is a byte stream from an agent, cut into
// reads at points the input chooses (its first byte seeds the cut sizes), fed to the frame
// decoder; every whole frame's payload goes to the JSON decoder of the message its type names
// (the AgentResponse and HandshakeResponse decoders for every payload, too).
// Built by Fuzz/fuzz-agent.sh together with Sources/SentinelAgentProtocol/*.swift as one module.
//
// Invariants (a violation traps, which libFuzzer reports as a crash):
// - no input crashes a decoder (ASan: no read past a buffer);
// - the frame decoder never buffers more than it was fed minus what it returned;
// - after a thrown framing error it stays failed and buffers nothing;
// - every returned frame is within 16 MiB and re-encodes to exactly the bytes it came from.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    guard let first = input.first else { return 0 }
    var cut = UInt32(first) | 1
    var decoder = AgentFrameDecoder()
    var offset = 1
    var fed = 0
    var returned = 0
    var failed = false
    while offset < input.count, !failed {
        cut = cut &* 1_103_515_245 &+ 12345
        let n = min(input.count - offset, Int(cut >> 16) % 97 + 1)
        decoder.feed(input[offset..<(offset + n)])
        fed += n
        offset += n
        do {
            while let frame = try decoder.next() {
                returned += 5 + frame.payload.count
                precondition(frame.payload.count <= AgentFrame.maxPayload)
                let again = try! frame.encoded()
                precondition(again.count == 5 + frame.payload.count && Array(again.suffix(frame.payload.count)) == frame.payload)
                decodePayload(frame)
            }
        } catch {
            failed = true
            precondition(decoder.bufferedCount == 0)
            precondition((try? decoder.next()) == nil)
        }
        if !failed { precondition(decoder.bufferedCount == fed - returned) }
    }
    return 0
}

func decodePayload(_ frame: AgentFrame) {
    let p = frame.payload
    _ = try? AgentCodec.decode(AgentResponse.self, from: p)
    _ = try? AgentCodec.decode(HandshakeResponse.self, from: p)
    switch frame.type {
    case .handshakeRequest: _ = try? AgentCodec.decode(HandshakeRequest.self, from: p)
    case .requestHeaders: _ = try? AgentCodec.decode(RequestHeadersEvent.self, from: p)
    case .requestBodyChunk: _ = try? AgentCodec.decode(RequestBodyChunkEvent.self, from: p)
    case .responseHeaders: _ = try? AgentCodec.decode(ResponseHeadersEvent.self, from: p)
    case .responseBodyChunk: _ = try? AgentCodec.decode(ResponseBodyChunkEvent.self, from: p)
    case .requestComplete: _ = try? AgentCodec.decode(RequestCompleteEvent.self, from: p)
    case .webSocketFrame: _ = try? AgentCodec.decode(WebSocketFrameEvent.self, from: p)
    case .guardrailInspect: _ = try? AgentCodec.decode(GuardrailInspectEvent.self, from: p)
    case .configure: _ = try? AgentCodec.decode(ConfigureEvent.self, from: p)
    case .healthStatus: _ = try? AgentCodec.decode(HealthStatusMessage.self, from: p)
    case .metricsReport: _ = try? AgentCodec.decode(MetricsReport.self, from: p)
    case .configUpdateRequest: _ = try? AgentCodec.decode(ConfigUpdateRequest.self, from: p)
    case .flowControl: _ = try? AgentCodec.decode(FlowControlMessage.self, from: p)
    case .cancel: _ = try? AgentCodec.decode(CancelMessage.self, from: p)
    case .ping, .pong: _ = try? AgentCodec.decode(PingMessage.self, from: p)
    case .handshakeResponse, .agentResponse: break
    }
    if let text = String(validatingUTF8: p.map { CChar(bitPattern: $0) } + [0]) { _ = AgentBase64.decode(text) }
}
