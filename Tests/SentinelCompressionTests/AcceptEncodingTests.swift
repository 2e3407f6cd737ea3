import SentinelCompression
import Testing

@Suite struct AcceptEncodingTests {
    @Test func plainListAcceptsEach() {
        let a = AcceptEncoding("gzip, deflate, br")
        #expect(a.quality(of: .gzip) == 1000)
        #expect(a.quality(of: .deflate) == 1000)
        #expect(a.choose(from: [.gzip, .deflate]) == .gzip)
        #expect(a.choose(from: [.deflate, .gzip]) == .deflate)
    }

    @Test func qValuesRankCodings() {
        let a = AcceptEncoding("gzip;q=0.5, deflate;q=0.8")
        #expect(a.quality(of: .gzip) == 500)
        #expect(a.quality(of: .deflate) == 800)
        #expect(a.choose(from: [.gzip, .deflate]) == .deflate)
    }

    @Test func qZeroRefuses() {
        #expect(AcceptEncoding("gzip;q=0").choose(from: [.gzip]) == nil)
        #expect(AcceptEncoding("gzip;q=0.000, deflate").choose(from: [.gzip, .deflate]) == .deflate)
        #expect(AcceptEncoding("*;q=0").choose(from: [.gzip, .deflate]) == nil)
    }

    @Test func starCoversUnnamedCodingsOnly() {
        let a = AcceptEncoding("*;q=0.3, gzip;q=0")
        #expect(a.quality(of: .gzip) == 0)
        #expect(a.quality(of: .deflate) == 300)
        #expect(a.choose(from: [.gzip, .deflate]) == .deflate)
        #expect(AcceptEncoding("*").choose(from: [.gzip]) == .gzip)
    }

    @Test func identityAloneOrEmptyOrAbsentAcceptsNothing() {
        #expect(AcceptEncoding("identity").choose(from: [.gzip, .deflate]) == nil)
        #expect(AcceptEncoding("").choose(from: [.gzip, .deflate]) == nil)
        #expect(AcceptEncoding().choose(from: [.gzip, .deflate]) == nil)
        #expect(AcceptEncoding("br, zstd").choose(from: [.gzip, .deflate]) == nil)
    }

    @Test func spacingCaseAndAliases() {
        let a = AcceptEncoding("  GZIP ; Q=0.7 ,x-gzip;q=0.9\t,DEFLATE;q=1.000")
        #expect(a.quality(of: .gzip) == 900)
        #expect(a.quality(of: .deflate) == 1000)
    }

    @Test func malformedQualityCountsAsRefusal() {
        #expect(AcceptEncoding("gzip;q=2").choose(from: [.gzip]) == nil)
        #expect(AcceptEncoding("gzip;q=0.5555").choose(from: [.gzip]) == nil)
        #expect(AcceptEncoding("gzip;q=abc").choose(from: [.gzip]) == nil)
        #expect(AcceptEncoding("gzip;q=1.001").choose(from: [.gzip]) == nil)
        #expect(AcceptEncoding("gzip;q=").choose(from: [.gzip]) == nil)
    }

    @Test func severalFieldLinesFormOneList() {
        var a = AcceptEncoding()
        for line in ["deflate;q=0.2", "gzip;q=0.9"] {
            var s = line
            s.withUTF8 { a.parse(UnsafeRawBufferPointer($0)) }
        }
        #expect(a.choose(from: [.deflate, .gzip]) == .gzip)
    }

    @Test func otherParametersDoNotHideQ() {
        #expect(AcceptEncoding("gzip;foo=bar;q=0").choose(from: [.gzip]) == nil)
        #expect(AcceptEncoding("gzip;foo=bar").choose(from: [.gzip]) == .gzip)
    }
}

@Suite struct CompressionDecisionTests {
    let rule = CompressionDecision.Rule(
        codings: [.gzip, .deflate], minSize: 1024, level: 6, contentTypes: ["text/html", "application/json", "text/*"])

    func response(_ status: Int = 200, type: String? = "text/html", length: UInt64? = 4096) -> CompressionDecision.Response {
        CompressionDecision.Response(status: status, mediaType: type, contentLength: length)
    }

    @Test func compressesAnAcceptedTextResponse() {
        #expect(CompressionDecision.decide(rule: rule, accepted: .gzip, isHead: false, response: response()) == .compress(.gzip))
        // Length unknown (chunked): compressed.
        #expect(CompressionDecision.decide(rule: rule, accepted: .deflate, isHead: false, response: response(length: nil)) == .compress(.deflate))
        // A 404 page is compressed too.
        #expect(CompressionDecision.decide(rule: rule, accepted: .gzip, isHead: false, response: response(404)) == .compress(.gzip))
        // `type/*` matches the whole type.
        #expect(CompressionDecision.decide(rule: rule, accepted: .gzip, isHead: false, response: response(type: "text/csv")) == .compress(.gzip))
    }

    @Test func table() {
        typealias D = CompressionDecision
        var encoded = response()
        encoded.encoded = true
        var ranged = response()
        ranged.hasContentRange = true
        var noTransform = response()
        noTransform.noTransform = true
        let cases: [(ContentCoding?, Bool, D.Response, D.Skip)] = [
            (nil, false, response(), .notAccepted),
            (.gzip, true, response(), .head),
            (.gzip, false, response(204), .status),
            (.gzip, false, response(304), .status),
            (.gzip, false, response(103), .status),
            (.gzip, false, response(206), .range),
            (.gzip, false, ranged, .range),
            (.gzip, false, encoded, .alreadyEncoded),
            (.gzip, false, noTransform, .noTransform),
            (.gzip, false, response(type: "image/png"), .contentType),
            (.gzip, false, response(type: nil), .contentType),
            (.gzip, false, response(type: "application/javascript"), .contentType),
            (.gzip, false, response(length: 1023), .tooSmall),
            (.gzip, false, response(length: 0), .tooSmall),
        ]
        for (accepted, isHead, r, skip) in cases {
            #expect(D.decide(rule: rule, accepted: accepted, isHead: isHead, response: r) == .skip(skip), "\(r) \(isHead)")
        }
        #expect(D.decide(rule: rule, accepted: .gzip, isHead: false, response: response(length: 1024)) == .compress(.gzip))
    }

    @Test func levelIsClampedToZlibsRange() {
        #expect(CompressionDecision.Rule(codings: [.gzip], minSize: 0, level: 11, contentTypes: []).level == 9)
        #expect(CompressionDecision.Rule(codings: [.gzip], minSize: 0, level: 0, contentTypes: []).level == 1)
    }
}
