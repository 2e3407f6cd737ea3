import NIOCore

/// A route's header policy compiled for the byte-copying head writer: rename → set → add →
/// remove, with names pre-lowercased so matching a field costs a length check and a compare.
public struct HeaderEdits: Sendable, Equatable {
    struct Rename: Sendable, Equatable {
        var from: [UInt8]
        var to: [UInt8]
    }

    struct Field: Sendable, Equatable {
        var lowerName: [UInt8]
        var name: [UInt8]
        var value: [UInt8]
    }

    var renames: [Rename] = []
    var sets: [Field] = []
    var adds: [Field] = []
    var removes: [[UInt8]] = []

    public init() {}

    /// - Parameters: header names and values as configured (already validated: tokens, no CR/LF/NUL).
    public init(rename: [(from: String, to: String)], set: [(String, String)], add: [(String, String)], remove: [String]) {
        renames = rename.map { Rename(from: Array($0.from.lowercased().utf8), to: Array($0.to.utf8)) }
        sets = set.map { Field(lowerName: Array($0.0.lowercased().utf8), name: Array($0.0.utf8), value: Array($0.1.utf8)) }
        adds = add.map { Field(lowerName: Array($0.0.lowercased().utf8), name: Array($0.0.utf8), value: Array($0.1.utf8)) }
        removes = remove.map { Array($0.lowercased().utf8) }
    }

    public var isEmpty: Bool { renames.isEmpty && sets.isEmpty && adds.isEmpty && removes.isEmpty }

    enum Disposition {
        case keep
        case rename([UInt8])
        case drop
    }

    /// What the policy does with one field: keep it, write it under a new name, or drop it
    /// (replaced by a `set`, or removed).
    func disposition(_ p: UnsafeRawBufferPointer, _ name: Range<Int>) -> Disposition {
        var renamed: [UInt8]?
        for r in renames where HeaderBytes.equals(p, name, lowercase: r.from) {
            renamed = r.to
            break
        }
        let lowerRenamed = renamed.map { $0.map(HeaderBytes.lower) }
        func matches(_ candidate: [UInt8]) -> Bool {
            if let lowerRenamed { return lowerRenamed == candidate }
            return HeaderBytes.equals(p, name, lowercase: candidate)
        }
        if sets.contains(where: { matches($0.lowerName) }) || removes.contains(where: matches) { return .drop }
        if let renamed { return .rename(renamed) }
        return .keep
    }

    /// True when the policy sets or removes `lowerName` (Sentinel then leaves its own field out).
    /// Compared in place: this runs for each of Sentinel's fields on every request of a route
    /// with a policy, and building an array of the name allocated each time.
    func overrides(_ lowerName: StaticString) -> Bool {
        sets.contains { Self.equal($0.lowerName, lowerName) } || removes.contains { Self.equal($0, lowerName) }
    }

    /// True when the policy sets, adds or removes `lowerName`: configurations written for the
    /// original add their own `Via`, which then stands instead of Sentinel's element.
    func mentions(_ lowerName: StaticString) -> Bool {
        overrides(lowerName) || adds.contains { Self.equal($0.lowerName, lowerName) }
    }

    @inline(__always)
    private static func equal(_ bytes: [UInt8], _ name: StaticString) -> Bool {
        guard bytes.count == name.utf8CodeUnitCount else { return false }
        let p = name.utf8Start
        for i in 0..<bytes.count where bytes[i] != p[i] { return false }
        return true
    }

    /// Writes the `set` and `add` fields (minus removed names).
    func writeAdded(into out: inout RawHeadWriter) {
        guard !isEmpty else { return }
        for f in sets + adds where !removes.contains(f.lowerName) {
            out.append(f.name)
            out.append(": ")
            out.append(f.value)
            out.append("\r\n")
        }
    }

    /// How many bytes the policy can add to a head of `fields` fields: renames to longer names,
    /// and the `set`/`add` fields.
    func growthBound(fields: Int) -> Int {
        guard !isEmpty else { return 0 }
        let longestRename = renames.map(\.to.count).max() ?? 0
        return fields * longestRename + (sets + adds).reduce(0) { $0 + $1.name.count + $1.value.count + 4 }
    }
}
