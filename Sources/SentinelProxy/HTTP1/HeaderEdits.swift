import NIOCore

/// A route's header policy compiled for the byte-copying head writer: rename → set → add →
/// remove, with names pre-lowercased so matching a field costs a length check and a compare.
public struct HeaderEdits: Sendable, Equatable {
    struct Rename: Sendable, Equatable {
        var from: [UInt8]
        var to: [UInt8]
    }

    /// One piece of a value with variables.
    public enum ValuePart: Sendable, Equatable {
        case literal([UInt8])
        case variable(ConnectionVariable)
    }

    struct Field: Sendable, Equatable {
        var lowerName: [UInt8]
        var name: [UInt8]
        var value: [UInt8]
        /// A value with variables, expanded per connection (`value` is then unused).
        var parts: [ValuePart]? = nil
    }

    var renames: [Rename] = []
    var sets: [Field] = []
    var adds: [Field] = []
    var removes: [[UInt8]] = []
    /// Names of `add` fields with variables: the client's fields of these names are dropped, so
    /// a client cannot send its own `X-Client-Subject` alongside the verified one.
    var dropIncoming: [[UInt8]] = []

    public init() {}

    /// A `set` or `add` entry: a plain value, or parts with variables.
    public struct Entry: Sendable {
        public var name: String
        public var value: String
        public var parts: [ValuePart]?

        public init(name: String, value: String, parts: [ValuePart]? = nil) {
            self.name = name
            self.value = value
            self.parts = parts
        }
    }

    /// - Parameters: header names and values as configured (already validated: tokens, no
    ///   CR/LF/NUL); `set`/`add` values may have variables.
    public init(rename: [(from: String, to: String)], set: [Entry], add: [Entry], remove: [String]) {
        self.init(rename: rename, set: set.map { ($0.name, $0.value) }, add: add.map { ($0.name, $0.value) }, remove: remove)
        for (i, e) in set.enumerated() { sets[i].parts = e.parts }
        for (i, e) in add.enumerated() { adds[i].parts = e.parts }
        dropIncoming = adds.filter { $0.parts != nil }.map(\.lowerName)
    }

    /// True when some value has variables (the request then needs the connection's facts).
    public var hasVariables: Bool { sets.contains { $0.parts != nil } || adds.contains { $0.parts != nil } }

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
        if !dropIncoming.isEmpty, dropIncoming.contains(where: matches) { return .drop }
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

    /// Writes the `set` and `add` fields (minus removed names). Values with variables are
    /// expanded from `tls` (nil: a connection without TLS); such a field is left out when it
    /// expands to nothing or a variable exceeds `ConnectionTLS.maxValueBytes`.
    func writeAdded(into out: inout RawHeadWriter, tls: ConnectionTLS? = nil) {
        guard !isEmpty else { return }
        for f in sets where !removes.contains(f.lowerName) { Self.write(f, tls: tls, into: &out) }
        for f in adds where !removes.contains(f.lowerName) { Self.write(f, tls: tls, into: &out) }
    }

    @inline(__always)
    private static func write(_ f: Field, tls: ConnectionTLS?, into out: inout RawHeadWriter) {
        guard let parts = f.parts else {
            out.append(f.name)
            out.append(": ")
            out.append(f.value)
            out.append("\r\n")
            return
        }
        var length = 0
        for part in parts {
            switch part {
            case .literal(let bytes): length += bytes.count
            case .variable(let v):
                let value: [UInt8]? = if let tls { tls.value(v) } else { ConnectionTLS.plainValue(v) }
                guard let value else { return }
                length += value.count
            }
        }
        guard length > 0 else { return }
        out.append(f.name)
        out.append(": ")
        for part in parts {
            switch part {
            case .literal(let bytes): out.append(bytes)
            case .variable(let v):
                if let tls { out.append(tls.value(v) ?? []) } else { out.append(ConnectionTLS.plainValue(v)) }
            }
        }
        out.append("\r\n")
    }

    /// How many bytes the policy can add to a head of `fields` fields: renames to longer names,
    /// and the `set`/`add` fields (variables at their values on `tls`'s connection).
    func growthBound(fields: Int, tls: ConnectionTLS? = nil) -> Int {
        guard !isEmpty else { return 0 }
        let longestRename = renames.map(\.to.count).max() ?? 0
        func size(_ f: Field) -> Int {
            guard let parts = f.parts else { return f.name.count + f.value.count + 4 }
            return parts.reduce(f.name.count + 4) { sum, part in
                switch part {
                case .literal(let bytes): sum + bytes.count
                case .variable(let v): sum + (tls.map { $0.value(v)?.count ?? 0 } ?? ConnectionTLS.plainValue(v).count)
                }
            }
        }
        return fields * longestRename + sets.reduce(0) { $0 + size($1) } + adds.reduce(0) { $0 + size($1) }
    }
}
