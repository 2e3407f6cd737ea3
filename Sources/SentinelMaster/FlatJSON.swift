/// Reads the top-level scalar fields of one JSON object line (the master's answers), so the CLI
/// needs no JSON library. Nested values are skipped; strings are unescaped.
public enum FlatJSON {
    public static func fields(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        let chars = Array(text.unicodeScalars)
        var i = 0
        func skipSpace() { while i < chars.count, chars[i].properties.isWhitespace { i += 1 } }
        func string() -> String? {
            guard i < chars.count, chars[i] == "\"" else { return nil }
            i += 1
            var s = String.UnicodeScalarView()
            while i < chars.count, chars[i] != "\"" {
                if chars[i] == "\\", i + 1 < chars.count {
                    i += 1
                    switch chars[i] {
                    case "n": s.append("\n")
                    case "t": s.append("\t")
                    case "r": s.append("\r")
                    case "u":
                        if i + 4 < chars.count, let v = UInt32(String(String.UnicodeScalarView(chars[(i + 1)...(i + 4)])), radix: 16),
                           let u = Unicode.Scalar(v) { s.append(u) }
                        i += 4
                    default: s.append(chars[i])
                    }
                } else {
                    s.append(chars[i])
                }
                i += 1
            }
            i += 1
            return String(s)
        }
        func skipValue() {
            var depth = 0
            while i < chars.count {
                let c = chars[i]
                if c == "\"" { _ = string(); if depth == 0 { return }; continue }
                if c == "{" || c == "[" { depth += 1 } else if c == "}" || c == "]" {
                    if depth == 0 { return }
                    depth -= 1
                    if depth == 0 { i += 1; return }
                } else if c == ",", depth == 0 { return }
                i += 1
            }
        }
        skipSpace()
        guard i < chars.count, chars[i] == "{" else { return [:] }
        i += 1
        while i < chars.count {
            skipSpace()
            guard let key = string() else { break }
            skipSpace()
            guard i < chars.count, chars[i] == ":" else { break }
            i += 1
            skipSpace()
            if let value = string() {
                out[key] = value
            } else {
                let start = i
                skipValue()
                let raw = String(String.UnicodeScalarView(chars[start..<i])).trimmingSpaces
                if !raw.hasPrefix("{"), !raw.hasPrefix("[") { out[key] = raw }
            }
            skipSpace()
            if i < chars.count, chars[i] == "," { i += 1 } else { break }
        }
        return out
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        String(unicodeScalars.drop { $0.properties.isWhitespace }.reversed().drop { $0.properties.isWhitespace }.reversed().map(Character.init))
    }
}
