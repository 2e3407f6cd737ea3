import SentinelReactor
import Testing

/// The wheel's pure part, on a hand-moved clock.
@Suite struct TimerWheelTests {
    func at(_ ms: UInt64) -> ReactorInstant { ReactorInstant(milliseconds: ms) }

    func expire(_ wheel: inout TimerWheel, _ now: UInt64) -> [UInt64] {
        var due: [TimerWheel.Entry] = []
        wheel.expire(upTo: at(now), into: &due)
        return due.map(\.owner).sorted()
    }

    @Test func firesAtOrAfterTheDeadlineNeverBefore() {
        var wheel = TimerWheel(tickMilliseconds: 4, slotCount: 64, now: at(1000))
        wheel.schedule(1, at: at(1010))
        wheel.schedule(2, at: at(1003))
        wheel.schedule(3, at: at(1010))
        #expect(expire(&wheel, 1002) == [])
        #expect(expire(&wheel, 1003).isEmpty)  // 1003 rounds up to the tick at 1004
        #expect(expire(&wheel, 1004) == [2])
        #expect(expire(&wheel, 1009) == [])
        #expect(expire(&wheel, 1012) == [1, 3])
        #expect(wheel.isEmpty)
    }

    @Test func aPastDeadlineFiresAtTheNextExpire() {
        var wheel = TimerWheel(tickMilliseconds: 4, slotCount: 64, now: at(1000))
        wheel.schedule(7, at: at(500))
        #expect(expire(&wheel, 1004) == [7])
    }

    @Test func entriesOfLaterRevolutionsWaitForTheirTurn() {
        // 64 slots × 4 ms = 256 ms per revolution.
        var wheel = TimerWheel(tickMilliseconds: 4, slotCount: 64, now: at(0))
        wheel.schedule(1, at: at(100))
        wheel.schedule(2, at: at(100 + 256))
        wheel.schedule(3, at: at(100 + 2 * 256))
        #expect(expire(&wheel, 100) == [1])
        #expect(expire(&wheel, 300) == [])
        #expect(expire(&wheel, 356) == [2])
        #expect(expire(&wheel, 611) == [])
        #expect(expire(&wheel, 612) == [3])
    }

    @Test func aClockJumpOfManyRevolutionsFiresEverythingDue() {
        var wheel = TimerWheel(tickMilliseconds: 1, slotCount: 64, now: at(0))
        for i in 0..<200 { wheel.schedule(UInt64(i), at: at(UInt64(i * 7))) }
        #expect(expire(&wheel, 10_000) == (0..<200).map { UInt64($0) })
        #expect(wheel.count == 0)
    }

    @Test func nextTickIsTheEpollTimeout() {
        var wheel = TimerWheel(tickMilliseconds: 4, slotCount: 64, now: at(1000))
        #expect(wheel.millisecondsUntilNextTick(now: at(1000)) == nil)
        wheel.schedule(1, at: at(1100))
        #expect(wheel.millisecondsUntilNextTick(now: at(1000)) == 100)
        wheel.schedule(2, at: at(1020))
        #expect(wheel.millisecondsUntilNextTick(now: at(1000)) == 20)
        #expect(wheel.millisecondsUntilNextTick(now: at(1030)) == 0)
        // Past one revolution (256 ms) the answer is a lower bound: the slot's next turn.
        var far = TimerWheel(tickMilliseconds: 4, slotCount: 64, now: at(0))
        far.schedule(1, at: at(1000))
        let t = far.millisecondsUntilNextTick(now: at(0))!
        #expect(t > 0 && t <= 1000)
        // Wrapping: the only entry sits in a slot before the current one.
        var wrap = TimerWheel(tickMilliseconds: 1, slotCount: 64, now: at(60))
        wrap.schedule(9, at: at(70))  // slot 6 (70 mod 64), current slot 60
        #expect(wrap.millisecondsUntilNextTick(now: at(60)) == 10)
    }
}
