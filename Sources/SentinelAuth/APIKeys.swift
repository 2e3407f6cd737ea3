/// Named API keys, stored as SHA-256 digests. A presented key is hashed and compared with every
/// stored digest in constant time, without stopping at a match, so neither the position nor
/// the length of a matching key shows in the timing.
public struct APIKeyStore: Sendable {
    struct Entry: Sendable {
        var name: String
        var digest: [UInt8]
    }

    var entries: [Entry] = []

    public init() {}

    public var isEmpty: Bool { entries.isEmpty }
    public var count: Int { entries.count }

    public mutating func add(name: String, key: String) throws(AuthError) {
        guard !name.isEmpty else { throw AuthError("an API key needs a name") }
        guard key.utf8.count >= 16 else { throw AuthError("API key \"\(name)\" is shorter than 16 bytes") }
        entries.append(Entry(name: name, digest: Crypto.sha256(Array(key.utf8))))
    }

    /// `name:key` (the first colon separates them).
    public mutating func add(pair: String) throws(AuthError) {
        guard let colon = pair.firstIndex(of: ":") else { throw AuthError("an API key is written name:key") }
        try add(name: String(pair[..<colon]), key: String(pair[pair.index(after: colon)...]))
    }

    /// The name of the key, or nil when it is not one of ours.
    public func identify(_ presented: Substring) -> String? {
        let digest = Crypto.sha256(Array(presented.utf8))
        var found: String?
        for e in entries {
            if Crypto.constantTimeEqual(e.digest, digest) && found == nil { found = e.name }
        }
        return found
    }
}
