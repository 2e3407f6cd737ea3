import KDL

/// The unit an integer duration is written in, given by the key (`timeout-ms`, `interval-secs`).
enum DurationUnit: Sendable {
    case milliseconds
    case seconds

    func duration(_ n: Int64) -> Duration {
        switch self {
        case .milliseconds: return .milliseconds(n)
        case .seconds: return .seconds(n)
        }
    }
}

/// Converts one KDL value to the type the schema wants, reporting a located error otherwise.
struct ValueReader {
    let sink: DiagnosticSink
    let path: ConfigPath
    let key: String

    func string(_ v: KDLValue, allowEmpty: Bool = false) -> String? {
        guard let s = v.stringValue else {
            sink.error(v.location, path, "\"\(key)\" must be a string, got \(v.typeName) \(NodeReader.show(v))",
                       hint: v.numberValue != nil || v.boolValue != nil ? "quote it: \"\(NodeReader.show(v))\"" : nil)
            return nil
        }
        if !allowEmpty, s.isEmpty {
            sink.error(v.location, path, "\"\(key)\" must not be empty")
            return nil
        }
        return s
    }

    func int(_ v: KDLValue, range: ClosedRange<Int64>) -> Int? {
        guard let n = v.numberValue else {
            var hint: String?
            if let s = v.stringValue, Int64(s) != nil { hint = "write the number without quotes: \(s)" }
            sink.error(v.location, path, "\"\(key)\" must be an integer, got \(v.typeName) \(NodeReader.show(v))", hint: hint)
            return nil
        }
        guard n.kind == .integer else {
            sink.error(v.location, path, "\"\(key)\" must be a whole number, got \(n.canonical)")
            return nil
        }
        guard let i = n.int64Value, range.contains(i) else {
            sink.error(v.location, path, "\"\(key)\" is \(n.canonical), outside the allowed range \(Self.show(range))")
            return nil
        }
        return Int(i)
    }

    func double(_ v: KDLValue, range: ClosedRange<Double>) -> Double? {
        guard let n = v.numberValue else {
            sink.error(v.location, path, "\"\(key)\" must be a number, got \(v.typeName) \(NodeReader.show(v))")
            return nil
        }
        let d = n.doubleValue
        guard d.isFinite, range.contains(d) else {
            sink.error(v.location, path, "\"\(key)\" is \(n.canonical), outside the allowed range \(range.lowerBound)...\(range.upperBound)")
            return nil
        }
        return d
    }

    func bool(_ v: KDLValue) -> Bool? {
        guard let b = v.boolValue else {
            var hint = "KDL 2 booleans are written #true and #false"
            if let s = v.stringValue, s == "true" || s == "false" { hint = "write #\(s) without quotes" }
            sink.error(v.location, path, "\"\(key)\" must be #true or #false, got \(v.typeName) \(NodeReader.show(v))", hint: hint)
            return nil
        }
        return b
    }

    func choice<T>(_ v: KDLValue, options: [(String, T)]) -> T? {
        choice(v, options: options, canonical: nil)
    }

    /// As `choice`, listing only the first name of each value in the hint (aliases stay accepted).
    func choice<T: Equatable>(_ v: KDLValue, options: [(String, T)]) -> T? {
        var canonical: [String] = []
        var values: [T] = []
        for (name, value) in options where !values.contains(value) {
            values.append(value)
            canonical.append(name)
        }
        return choice(v, options: options, canonical: canonical)
    }

    private func choice<T>(_ v: KDLValue, options: [(String, T)], canonical: [String]?) -> T? {
        guard let s = string(v) else { return nil }
        if let hit = options.first(where: { $0.0 == s }) { return hit.1 }
        let normalized = Suggest.normalize(s)
        if let hit = options.first(where: { Suggest.normalize($0.0) == normalized }) { return hit.1 }
        var seen: [String] = []
        for (name, _) in options where !seen.contains(name) { seen.append(name) }
        let hint = Suggest.closest(to: s, among: seen).map { "did you mean \"\($0)\"? " } ?? ""
        let listed = canonical ?? seen
        sink.error(v.location, path, "unknown value \"\(s)\" for \"\(key)\"",
                   hint: hint + "one of: " + listed.map { "\"\($0)\"" }.joined(separator: ", "))
        return nil
    }

    /// Bytes: an integer, or a string such as `"10MB"`, `"512KiB"`, `"1g"` (units are binary:
    /// K = 1024, as in nginx).
    func size(_ v: KDLValue, range: ClosedRange<Int64>) -> Int64? {
        var bytes: Int64?
        if let n = v.numberValue {
            guard n.kind == .integer, let i = n.int64Value else {
                sink.error(v.location, path, "\"\(key)\" must be a whole number of bytes, got \(n.canonical)")
                return nil
            }
            bytes = i
        } else if let s = v.stringValue {
            bytes = Self.parseSize(s)
            if bytes == nil {
                sink.error(v.location, path, "\"\(key)\": cannot read \"\(s)\" as a size",
                           hint: "write bytes as a number (1048576) or with a unit: \"512KB\", \"10MB\", \"1GB\"")
                return nil
            }
        } else {
            sink.error(v.location, path, "\"\(key)\" must be a size, got \(v.typeName)")
            return nil
        }
        guard let b = bytes, range.contains(b) else {
            sink.error(v.location, path, "\"\(key)\" is \(bytes.map(String.init) ?? "?") bytes, outside the allowed range \(Self.show(range))")
            return nil
        }
        return b
    }

    static func parseSize(_ text: String) -> Int64? {
        let s = text.trimmingSpaces().lowercased()
        var digits = ""
        var rest = Substring(s)
        while let c = rest.first, c.isASCII, c.isNumber || c == "_" {
            if c != "_" { digits.append(c) }
            rest = rest.dropFirst()
        }
        guard let base = Int64(digits) else { return nil }
        let unit = String(rest).trimmingSpaces()
        let multiplier: Int64
        switch unit {
        case "", "b": multiplier = 1
        case "k", "kb", "kib": multiplier = 1 << 10
        case "m", "mb", "mib": multiplier = 1 << 20
        case "g", "gb", "gib": multiplier = 1 << 30
        case "t", "tb", "tib": multiplier = 1 << 40
        default: return nil
        }
        let (r, overflow) = base.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : r
    }

    func duration(_ v: KDLValue, unit: DurationUnit, min: Duration) -> Duration? {
        var result: Duration?
        if let n = v.numberValue {
            guard n.kind == .integer, let i = n.int64Value, i >= 0, i <= 1_000_000_000 else {
                sink.error(v.location, path, "\"\(key)\" must be a whole, non-negative number, got \(n.canonical)")
                return nil
            }
            result = unit.duration(i)
        } else if let s = v.stringValue {
            result = Self.parseDuration(s)
            if result == nil {
                sink.error(v.location, path, "\"\(key)\": cannot read \"\(s)\" as a duration",
                           hint: "write a number (in \(unit == .seconds ? "seconds" : "milliseconds")) or use a unit: \"500ms\", \"30s\", \"5m\", \"1h\", \"1d\"")
                return nil
            }
        } else {
            sink.error(v.location, path, "\"\(key)\" must be a duration, got \(v.typeName)")
            return nil
        }
        if let r = result, r < min {
            sink.error(v.location, path, "\"\(key)\" must be at least \(min)")
            return nil
        }
        return result
    }

    static func parseDuration(_ text: String) -> Duration? {
        let s = text.trimmingSpaces().lowercased()
        var digits = ""
        var rest = Substring(s)
        while let c = rest.first, c.isASCII, c.isNumber {
            digits.append(c)
            rest = rest.dropFirst()
        }
        guard let n = Int64(digits), n <= 1_000_000_000 else { return nil }
        switch String(rest).trimmingSpaces() {
        case "ms": return .milliseconds(n)
        case "s", "sec", "secs": return .seconds(n)
        case "m", "min", "mins": return .seconds(n * 60)
        case "h": return .seconds(n * 3600)
        case "d": return .seconds(n * 86400)
        default: return nil
        }
    }

    static func show(_ range: ClosedRange<Int64>) -> String {
        if range.upperBound == Int64.max { return "\(range.lowerBound) or more" }
        return "\(range.lowerBound)...\(range.upperBound)"
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}

/// "Did you mean" suggestions for misspelt names.
enum Suggest {
    /// Lowercased with `_` turned into `-`, so `path_prefix` finds `path-prefix`.
    static func normalize(_ s: String) -> String {
        String(s.lowercased().map { $0 == "_" ? "-" : $0 })
    }

    static func closest(to word: String, among candidates: [String]) -> String? {
        let w = normalize(word)
        var best: (String, Int)?
        for c in candidates {
            let d = distance(w, normalize(c))
            if d == 0 { return c }
            let limit = max(2, c.count / 3)
            if d <= limit, best == nil || d < best!.1 { best = (c, d) }
        }
        if best == nil {
            // A prefix of a longer key, or a key with a unit suffix missing (`max-body-size`).
            best = candidates.first(where: { normalize($0).hasPrefix(w) && w.count >= 4 }).map { ($0, 0) }
        }
        return best?.0
    }

    static func hint(for word: String, among candidates: [String], kind: String) -> String? {
        var unique: [String] = []
        for c in candidates where !unique.contains(c) { unique.append(c) }
        if let match = closest(to: word, among: unique) { return "did you mean \"\(match)\"?" }
        if unique.isEmpty { return "this block takes no \(kind == "property" ? "properties" : kind + "s")" }
        if unique.count <= 12 { return "valid here: " + unique.joined(separator: ", ") }
        return nil
    }

    /// Levenshtein distance over Unicode scalars.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a.unicodeScalars)
        let b = Array(b.unicodeScalars)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = Swift.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}

extension ValueReader {
    /// A `host:port` address. Listener addresses must use IP literals.
    func address(_ v: KDLValue, requireIPLiteral: Bool) -> SocketAddressSpec? {
        guard let s = string(v) else { return nil }
        switch SocketAddressSpec.parse(s) {
        case .success(let a):
            if requireIPLiteral, !a.isIPLiteral, a.host != "localhost" {
                sink.error(v.location, path, "\"\(key)\" must be an IP address and port, got \"\(s)\"",
                           hint: "use 0.0.0.0:\(a.port) for every IPv4 interface, [::]:\(a.port) for IPv6, or 127.0.0.1:\(a.port)")
                return nil
            }
            return a
        case .failure(let e):
            sink.error(v.location, path, "\"\(key)\": \"\(s)\" is not a valid address: \(e.reason)",
                       hint: "write HOST:PORT, e.g. \"127.0.0.1:8080\" or \"[::1]:8080\"")
            return nil
        }
    }
}

extension NodeReader {
    mutating func address(_ names: String..., requireIPLiteral: Bool) -> SocketAddressSpec? {
        trace(names, .address)
        guard let v = scalar(names) else { return nil }
        return ValueReader(sink: sink, path: path, key: names[0]).address(v, requireIPLiteral: requireIPLiteral)
    }

    /// Marks that a required key is missing.
    func missing(_ key: String, example: String) {
        sink.error(node.location, path, "\"\(node.name)\" needs \"\(key)\"", hint: "add: \(example)")
    }
}
