import Glibc

/// A compiled POSIX extended regular expression (glibc `regcomp`, case-insensitive, no
/// sub-matches), matched against raw bytes with `REG_STARTEND`, so NUL bytes neither end the
/// input early nor hide what follows them.
///
/// glibc's matcher is used rather than Swift's `Regex`: on a typical request path it is about
/// 40 times faster (1.8 µs against 77 µs per pattern, measured with `swiftc -O`), and a WAF runs
/// dozens of patterns over every request. Patterns use ERE syntax with glibc's `\s`, `\w`, `\b`
/// escapes (not inside brackets, where a backslash is literal).
public final class WAFPattern: @unchecked Sendable {
    // @unchecked: `regex_t` is written once here and only read afterwards; glibc's `regexec`
    // takes its own lock around the shared DFA state, so concurrent matches are safe.
    public let source: String
    private let compiled: UnsafeMutablePointer<regex_t>

    public init(_ source: String) throws(WAFRuleError) {
        // Compiled before any stored property is set: a failed init then runs no deinit.
        let regex = UnsafeMutablePointer<regex_t>.allocate(capacity: 1)
        let rc = regcomp(regex, source, REG_EXTENDED | REG_ICASE | REG_NOSUB)
        if rc != 0 {
            var buffer = [CChar](repeating: 0, count: 256)
            regerror(rc, regex, &buffer, buffer.count)
            regex.deallocate()
            let message = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw WAFRuleError("invalid regular expression \"\(source)\": \(message)")
        }
        self.source = source
        compiled = regex
    }

    deinit {
        regfree(compiled)
        compiled.deallocate()
    }

    /// Whether the pattern occurs anywhere in `bytes`.
    public func matches(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { buffer in
            var range = regmatch_t(rm_so: 0, rm_eo: regoff_t(buffer.count))
            // An empty array may have no storage; regexec still needs a valid pointer.
            guard let base = buffer.baseAddress else {
                var empty: CChar = 0
                return regexec(compiled, &empty, 1, &range, REG_STARTEND) == 0
            }
            return base.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
                regexec(compiled, $0, 1, &range, REG_STARTEND) == 0
            }
        }
    }
}

/// A rule or WAF setting that cannot be used, with the reason.
public struct WAFRuleError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
