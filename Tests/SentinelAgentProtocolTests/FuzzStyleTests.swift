@testable import SentinelAgentProtocol
import Testing

/// SplitMix64: deterministic, so a failure reproduces.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct FuzzStyleTests {
    /// Random bytes in random pieces: the decoder throws or returns frames, never crashes, and
    /// never holds more than what it was fed.
    @Test func randomStreamsNeverCrashAndStayBounded() {
        var rng = SeededRandom(state: 42)
        for _ in 0..<2000 {
            var d = AgentFrameDecoder()
            var fed = 0
            var consumed = 0
            loop: for _ in 0..<Int.random(in: 1...20, using: &rng) {
                let n = Int.random(in: 0...64, using: &rng)
                var chunk = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
                // Often a plausible header, so the payload path is exercised too.
                if n >= 5, Bool.random(using: &rng) {
                    chunk[0] = 0; chunk[1] = 0; chunk[2] = 0; chunk[3] = UInt8.random(in: 1...40, using: &rng)
                    chunk[4] = AgentMessageType.allCases.randomElement(using: &rng)!.rawValue
                }
                d.feed(chunk)
                fed += n
                do {
                    while let f = try d.next() { consumed += 5 + f.payload.count }
                } catch {
                    #expect(d.bufferedCount == 0)
                    break loop
                }
                #expect(d.bufferedCount == fed - consumed)
            }
        }
    }

    /// Every hostile length prefix: rejected at once when out of range, otherwise it waits
    /// without allocating for the declared size.
    @Test func hostileLengths() throws {
        for length in [UInt32(0), 1, 2, 16_777_215, 16_777_216, 16_777_217, 0x7FFF_FFFF, 0x8000_0000, UInt32.max] {
            var d = AgentFrameDecoder()
            d.feed(frameBytes(length, 0x20, []))
            if length == 0 || length > AgentFrame.maxLength {
                #expect(throws: AgentFrameError.self) { try d.next() }
            } else if length == 1 {
                #expect(try d.next() == AgentFrame(type: .agentResponse, payload: []))
            } else {
                #expect(try d.next() == nil)
                #expect(d.storageCapacity < 64 * 1024)
            }
        }
    }

    /// Mutated AgentResponse payloads: decoding throws or succeeds, never traps.
    @Test func mutatedResponsesNeverCrashTheJSONDecoder() {
        let seed = Array(AgentFixtures.agentResponse.utf8)
        var rng = SeededRandom(state: 7)
        var decoded = 0
        for _ in 0..<3000 {
            var p = seed
            for _ in 0..<Int.random(in: 1...6, using: &rng) {
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: p[Int.random(in: 0..<p.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                case 1: p.remove(at: Int.random(in: 0..<p.count, using: &rng))
                case 2: p.insert(Array("{}[]\",:0e-9".utf8).randomElement(using: &rng)!, at: Int.random(in: 0..<p.count, using: &rng))
                default: p = Array(p.prefix(Int.random(in: 0..<p.count, using: &rng)))
                }
                if p.isEmpty { p = [0x7B] }
            }
            if (try? AgentCodec.decode(AgentResponse.self, from: p)) != nil { decoded += 1 }
            _ = try? AgentCodec.decode(HandshakeResponse.self, from: p)
        }
        #expect(decoded < 3000)
    }

    @Test func hostileJSONShapes() {
        let inputs = [
            "", "null", "[]", "{}", "\"allow\"", String(repeating: "[", count: 10_000),
            "{\"version\":2,\"decision\":{\"block\":{\"status\":70000}}}",
            "{\"version\":-1,\"decision\":\"allow\"}",
            "{\"version\":2,\"decision\":{\"block\":{\"status\":403},\"allow\":null}}",
            "{\"version\":2,\"decision\":\"deny\"}",
            "{\"version\":2,\"decision\":\"allow\",\"audit\":{\"custom\":{\"correlation_id\":7}}}",
        ]
        for s in inputs {
            let r = try? AgentCodec.decode(AgentResponse.self, from: Array(s.utf8))
            if s.hasSuffix("{\"correlation_id\":7}}}") {
                #expect(r != nil && r?.correlationID == nil)
            } else {
                #expect(r == nil, "\(s.prefix(60))")
            }
        }
    }
}
