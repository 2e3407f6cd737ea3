/// Objects addressed by a 64-bit token (slot index in the low half, the slot's generation in
/// the high half), as epoll and the timer wheel carry them. A slot's generation changes when
/// it is freed, so a token that outlived its object (an event later in the same epoll batch,
/// a stale timer entry) finds nothing instead of a stranger.
struct SlotTable<Element> {
    private var entries: [Element?] = []
    private var generations: [UInt32] = []
    private var freeSlots: [UInt32] = []
    private(set) var count = 0

    mutating func insert(_ element: Element) -> UInt64 {
        let index: UInt32
        if let reused = freeSlots.popLast() {
            index = reused
            entries[Int(index)] = element
        } else {
            index = UInt32(entries.count)
            entries.append(element)
            generations.append(0)
        }
        count += 1
        return UInt64(index) | UInt64(generations[Int(index)]) << 32
    }

    subscript(token: UInt64) -> Element? {
        let index = Int(truncatingIfNeeded: token & 0xFFFF_FFFF)
        guard index < entries.count, generations[index] == UInt32(truncatingIfNeeded: token >> 32) else { return nil }
        return entries[index]
    }

    /// Puts `element` in the live slot of `token` (the token stays valid). Returns false when
    /// the token is stale.
    @discardableResult
    mutating func replace(_ token: UInt64, with element: Element) -> Bool {
        let index = Int(truncatingIfNeeded: token & 0xFFFF_FFFF)
        guard index < entries.count, generations[index] == UInt32(truncatingIfNeeded: token >> 32), entries[index] != nil else {
            return false
        }
        entries[index] = element
        return true
    }

    mutating func remove(_ token: UInt64) {
        let index = Int(truncatingIfNeeded: token & 0xFFFF_FFFF)
        guard index < entries.count, generations[index] == UInt32(truncatingIfNeeded: token >> 32), entries[index] != nil else { return }
        entries[index] = nil
        generations[index] &+= 1
        freeSlots.append(UInt32(index))
        count -= 1
    }

    /// A copy of the live elements (for rare whole-table walks: drain, shutdown).
    var values: [Element] { entries.compactMap { $0 } }
}
