@testable import SentinelAgentProtocol
import Testing

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
func frameBytes(_ length: UInt32, _ type: UInt8, _ payload: [UInt8]) -> [UInt8] {
    [UInt8(length >> 24 & 0xFF), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF), type] + payload
}

@Suite struct FrameTests {
    @Test func everyTypeByteOfTheProtocol() {
        let expected: [UInt8] = [0x01, 0x02, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x20, 0x30, 0x31, 0x32, 0x33, 0x40, 0x41, 0x42]
        #expect(AgentMessageType.allCases.map(\.rawValue) == expected)
        for b in 0...255 where !expected.contains(UInt8(b)) { #expect(AgentMessageType(rawValue: UInt8(b)) == nil) }
    }

    @Test func lengthCountsTheTypeBytePlusPayload() throws {
        let f = try AgentFrame(type: .ping, payload: bytes("{}")).encoded()
        #expect(f == [0, 0, 0, 3, 0x41, UInt8(ascii: "{"), UInt8(ascii: "}")])
    }

    @Test func decodesFramesFedOneByteAtATime() throws {
        let a = try AgentFrame(type: .agentResponse, payload: bytes("{\"x\":1}")).encoded()
        let b = try AgentFrame(type: .pong, payload: []).encoded()
        var d = AgentFrameDecoder()
        var frames: [AgentFrame] = []
        for byte in a + b {
            d.feed([byte])
            while let f = try d.next() { frames.append(f) }
        }
        #expect(frames == [AgentFrame(type: .agentResponse, payload: bytes("{\"x\":1}")), AgentFrame(type: .pong, payload: [])])
        #expect(d.bufferedCount == 0)
        try d.finish()
    }

    @Test func severalFramesInOneRead() throws {
        var all: [UInt8] = []
        for i in 0..<10 { try AgentFrame.append(type: .healthStatus, payload: bytes("{\"state\":\(i)}"), to: &all) }
        var d = AgentFrameDecoder()
        d.feed(all)
        var n = 0
        while let f = try d.next() { #expect(f.payload == bytes("{\"state\":\(n)}")); n += 1 }
        #expect(n == 10)
    }

    @Test func zeroLengthIsAnError() {
        var d = AgentFrameDecoder()
        d.feed([0, 0, 0, 0])
        #expect(throws: AgentFrameError.zeroLength) { try d.next() }
        // The decoder stays failed.
        d.feed(try! AgentFrame(type: .ping, payload: []).encoded())
        #expect(throws: AgentFrameError.zeroLength) { try d.next() }
    }

    @Test func overLongIsAnErrorBeforeTheTypeByteArrives() {
        var d = AgentFrameDecoder()
        d.feed([0x01, 0x00, 0x00, 0x01])   // 16 MiB + 1
        #expect(throws: AgentFrameError.tooLarge(16_777_217)) { try d.next() }
        var e = AgentFrameDecoder()
        e.feed([0xFF, 0xFF, 0xFF, 0xFF])
        #expect(throws: AgentFrameError.tooLarge(UInt32.max)) { try e.next() }
    }

    @Test func unknownTypeIsAnErrorBeforeThePayloadArrives() {
        var d = AgentFrameDecoder()
        d.feed([0x00, 0x00, 0x10, 0x00, 0x21])
        #expect(throws: AgentFrameError.unknownType(0x21)) { try d.next() }
    }

    @Test func lengthOneIsAnEmptyPayload() throws {
        var d = AgentFrameDecoder()
        d.feed([0, 0, 0, 1, 0x42])
        #expect(try d.next() == AgentFrame(type: .pong, payload: []))
    }

    @Test func aFrameOfExactlySixteenMiBIsValid() throws {
        let payload = [UInt8](repeating: 0x41, count: AgentFrame.maxPayload)
        let f = try AgentFrame(type: .agentResponse, payload: payload).encoded()
        #expect(Array(f.prefix(5)) == [0x01, 0x00, 0x00, 0x00, 0x20])
        var d = AgentFrameDecoder()
        d.feed(f)
        #expect(try d.next()?.payload.count == AgentFrame.maxPayload)
        #expect(throws: AgentFrameError.payloadTooLarge(AgentFrame.maxPayload + 1)) {
            try AgentFrame(type: .agentResponse, payload: payload + [0]).encoded()
        }
    }

    @Test func truncatedAtEndOfStream() throws {
        var d = AgentFrameDecoder()
        d.feed([0, 0, 0, 9, 0x20, 1, 2])
        #expect(try d.next() == nil)
        #expect(throws: AgentFrameError.truncated(buffered: 7)) { try d.finish() }
        let clean = AgentFrameDecoder()
        try clean.finish()
    }

    @Test func aSmallerLimitForTheDecoder() {
        var d = AgentFrameDecoder(maxLength: 1024)
        d.feed([0, 0, 4, 1])
        #expect(throws: AgentFrameError.tooLarge(1025)) { try d.next() }
    }

    /// A declared 16 MiB frame whose bytes trickle in holds only what arrived.
    @Test func aHostileLengthAllocatesNothingUpFront() throws {
        var d = AgentFrameDecoder()
        d.feed([0x01, 0x00, 0x00, 0x00, 0x20])
        #expect(try d.next() == nil)
        for _ in 0..<10 { d.feed([UInt8](repeating: 1, count: 100)); #expect(try d.next() == nil) }
        #expect(d.bufferedCount == 1005)
        #expect(d.storageCapacity < 64 * 1024)
    }
}
