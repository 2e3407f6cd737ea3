import SentinelFormat
import Testing

@Suite struct JSONStringTests {
    @Test func escapesQuotesBackslashesAndControls() {
        let nasty = "a\"b\\c\nd\re\tf\u{01}g\u{7F}h\u{2028}i\u{2029}j\u{08}k\u{0C}l\u{1F}é😀"
        #expect(JSONString.quoted(nasty) == #""a\"b\\c\nd\re\tf\u0001g\u007fh\u2028i\u2029j\bk\fl\u001fé😀""#)
    }

    @Test func appendsAfterExistingText() {
        var out = "{\"k\":"
        JSONString.append("v", to: &out)
        #expect(out == #"{"k":"v""#)
        #expect(JSONString.quoted("") == "\"\"")
    }
}
