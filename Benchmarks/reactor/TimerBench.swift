import Glibc
import SentinelReactor

/// Timer strategies for the per-request deadline of a keep-alive connection, measured on a
/// simulated clock (so only the data structure is timed): every request moves its
/// connection's deadline `timeout` later.
/// - lazy wheel (the reactor's): store the new deadline; the wheel entry is re-inserted only
///   when it comes due and finds the deadline moved;
/// - eager heap (what NIO's scheduled tasks do): remove the connection's entry and insert a
///   new one per request (an indexed binary heap, O(log n) both, kinder than NIO's O(n) removal).
enum TimerBench {
    static func run(connections: Int, requests: Int, timeoutMs: UInt64, stepMicros: UInt64) {
        print("timers: \(connections) connections, \(requests) requests, timeout \(timeoutMs) ms, a request every \(stepMicros) µs")
        let lazy = measure { lazyWheel(connections, requests, timeoutMs, stepMicros) }
        let eager = measure { eagerHeap(connections, requests, timeoutMs, stepMicros) }
        print("lazy wheel: \(nanos(lazy.0, requests)) ns/request (\(lazy.1) re-inserts)")
        print("eager heap: \(nanos(eager.0, requests)) ns/request (\(eager.1) heap operations)")
    }

    static func nanos(_ seconds: Double, _ count: Int) -> String {
        let tenths = Int((seconds * 1e10 / Double(count)).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }

    static func measure(_ body: () -> Int) -> (Double, Int) {
        var a = timespec(), b = timespec()
        clock_gettime(CLOCK_MONOTONIC, &a)
        let n = body()
        clock_gettime(CLOCK_MONOTONIC, &b)
        return (Double(b.tv_sec - a.tv_sec) + Double(b.tv_nsec - a.tv_nsec) / 1e9, n)
    }

    static func lazyWheel(_ connections: Int, _ requests: Int, _ timeoutMs: UInt64, _ stepMicros: UInt64) -> Int {
        var nowMicros: UInt64 = 1_000_000_000
        var wheel = TimerWheel(tickMilliseconds: 4, slotCount: 4096, now: ReactorInstant(milliseconds: nowMicros / 1000))
        var deadline = [UInt64](repeating: 0, count: connections)
        var armed = [UInt64](repeating: 0, count: connections)
        var due: [TimerWheel.Entry] = []
        var reinserts = 0
        for c in 0..<connections {
            deadline[c] = nowMicros / 1000 + timeoutMs
            armed[c] = deadline[c]
            wheel.schedule(UInt64(c), at: ReactorInstant(milliseconds: deadline[c]))
        }
        for r in 0..<requests {
            let c = (r &* 2_654_435_761) % connections
            nowMicros += stepMicros
            let now = nowMicros / 1000
            deadline[c] = now + timeoutMs  // the whole per-request cost
            if r & 63 == 0 {  // the loop expires once per batch of events
                wheel.expire(upTo: ReactorInstant(milliseconds: now), into: &due)
                for e in due where armed[Int(e.owner)] == e.deadline.milliseconds {
                    armed[Int(e.owner)] = deadline[Int(e.owner)]
                    wheel.schedule(e.owner, at: ReactorInstant(milliseconds: deadline[Int(e.owner)]))
                    reinserts += 1
                }
                due.removeAll(keepingCapacity: true)
            }
        }
        return reinserts
    }

    static func eagerHeap(_ connections: Int, _ requests: Int, _ timeoutMs: UInt64, _ stepMicros: UInt64) -> Int {
        var heap = IndexedHeap(capacity: connections)
        var nowMicros: UInt64 = 1_000_000_000
        for c in 0..<connections { heap.insert(c, nowMicros / 1000 + timeoutMs) }
        var ops = 0
        for r in 0..<requests {
            let c = (r &* 2_654_435_761) % connections
            nowMicros += stepMicros
            heap.remove(c)
            heap.insert(c, nowMicros / 1000 + timeoutMs)
            ops += 2
        }
        return ops
    }
}

/// A binary min-heap of (deadline, owner) with each owner's position, for O(log n) removal.
struct IndexedHeap {
    var keys: [UInt64] = []
    var owners: [Int] = []
    var position: [Int]

    init(capacity: Int) { position = Array(repeating: -1, count: capacity) }

    mutating func insert(_ owner: Int, _ key: UInt64) {
        keys.append(key)
        owners.append(owner)
        position[owner] = keys.count - 1
        up(keys.count - 1)
    }

    mutating func remove(_ owner: Int) {
        let i = position[owner]
        guard i >= 0 else { return }
        let last = keys.count - 1
        swapAt(i, last)
        keys.removeLast()
        owners.removeLast()
        position[owner] = -1
        if i < keys.count {
            up(i)
            down(i)
        }
    }

    private mutating func swapAt(_ a: Int, _ b: Int) {
        keys.swapAt(a, b)
        owners.swapAt(a, b)
        position[owners[a]] = a
        position[owners[b]] = b
    }

    private mutating func up(_ i: Int) {
        var i = i
        while i > 0 {
            let p = (i - 1) / 2
            guard keys[i] < keys[p] else { return }
            swapAt(i, p)
            i = p
        }
    }

    private mutating func down(_ i: Int) {
        var i = i
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < keys.count, keys[l] < keys[m] { m = l }
            if r < keys.count, keys[r] < keys[m] { m = r }
            guard m != i else { return }
            swapAt(i, m)
            i = m
        }
    }
}
