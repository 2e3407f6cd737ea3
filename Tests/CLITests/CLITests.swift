import Foundation
import SentinelTestSupport
import Testing

/// Runs the built `sentinel` and `sentinel-stack` binaries as child processes.
@Suite struct CLITests {
    @Test func testCommandSucceedsOnTheDefaultConfig() throws {
        let r = try runBuilt("sentinel", ["test"])
        #expect(r.status == 0)
        #expect(r.stdout == "sentinel: configuration file <built-in default> test is successful\n")
        #expect(r.stderr.contains("1 listener, 5 routes"))
    }

    @Test func dashTIsTest() throws {
        let r = try runBuilt("sentinel", ["-t", "-c", packageRoot + "/config/sentinel.kdl"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("test is successful"))
    }

    @Test func invalidConfigExitsOneWithEveryDiagnostic() throws {
        let dir = NSTemporaryDirectory() + "sentinel-cli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/bad.kdl"
        try """
            system { worker-thread 2 }
            listeners { listener "http" { address "127.0.0.1:0" } }
            routes { route "r" { matches { path "/" }; upstream "nope" } }
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let r = try runBuilt("sentinel", ["test", "--config", file])
        #expect(r.status == 1)
        #expect(r.stderr.contains("\(file):1:10: error: system: unknown setting \"worker-thread\""))
        #expect(r.stderr.contains("did you mean \"worker-threads\"?"))
        #expect(r.stderr.contains("\(file):3:53: error: routes > route \"r\": upstream \"nope\" is not defined"))
        #expect(r.stderr.contains("test failed"))
    }

    /// `sentinel test` reads the TLS files as a start would: an OCSP response for another
    /// certificate and a CRL file that is missing fail it, with the file named.
    @Test func testCommandChecksTheTLSFiles() throws {
        let fx = HTTPSFixtures.shared
        let mx = MTLSFixtures.shared
        let dir = NSTemporaryDirectory() + "sentinel-cli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/tls.kdl"
        func write(_ tls: String) throws {
            try (TestConfigs.httpsListener("s", cert: fx.path("a.pem"), key: fx.path("a.key"), tls: tls) + """
                routes { route "h" { matches { path "/health" }; builtin-handler "health" } }
                """).write(toFile: file, atomically: true, encoding: .utf8)
        }
        try write(#"ca-file "\#(mx.path("cca.pem"))"; client-auth "required"; crl-file "\#(mx.path("cca.crl"))"; ocsp-file "\#(mx.path("a.ocsp.der"))""#)
        let good = try runBuilt("sentinel", ["test", "--config", file])
        #expect(good.status == 0, "\(good.stderr)")
        try write(#"ca-file "\#(mx.path("cca.pem"))"; crl-file "\#(dir)/missing.crl"; ocsp-file "\#(mx.path("b-revoked.ocsp.der"))""#)
        let bad = try runBuilt("sentinel", ["test", "--config", file])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("crl-file: cannot read \(dir)/missing.crl"), "\(bad.stderr)")
        // The OCSP complaint points at the line of the tls settings.
        let text = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        let line = (text.firstIndex { $0.contains("ocsp-file") } ?? 0) + 1
        #expect(bad.stderr.contains("\(file):\(line):") && bad.stderr.contains("not for the certificate CN=a.test"), "\(bad.stderr)")
        #expect(bad.stderr.contains("test failed"))
        let check = try runBuilt("sentinel-stack", ["check", "--config", file])
        #expect(check.status == 1)
        #expect(check.stderr.contains("not for the certificate CN=a.test"), "\(check.stderr)")
    }

    @Test func environmentVariableNamesTheConfig() throws {
        let r = try runBuilt("sentinel", ["test"], env: ["SENTINEL_CONFIG": "/nonexistent.kdl"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("cannot read /nonexistent.kdl"))
    }

    @Test func stackCheckValidatesTheSameWay() throws {
        let ok = try runBuilt("sentinel-stack", ["check", "--config", packageRoot + "/config/sentinel.kdl"])
        #expect(ok.status == 0)
        let bad = try runBuilt("sentinel-stack", ["check", "--config", packageRoot + "/config/examples/static-site.kdl"])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("not supported yet: static-files"))
    }

    @Test func versionAndHelp() throws {
        let v = try runBuilt("sentinel", ["--version"])
        #expect(v.status == 0)
        #expect(v.stdout.hasPrefix("sentinel 0."))
        let h = try runBuilt("sentinel", ["--help"])
        #expect(h.stdout.contains("SENTINEL_CONFIG"))
        #expect(h.stdout.contains("validate"))
    }

    /// Help pages wrap their prose to the terminal (regression: hard line breaks inside
    /// discussion paragraphs made ragged lines at any width but one). Within a paragraph, each
    /// line is full: the next line's first word would not have fitted on it (ArgumentParser keeps
    /// the last column free). Lists (indented lines) keep their own breaks.
    @Test(arguments: [
        ("sentinel", ["--help"]), ("sentinel", ["run", "--help"]), ("sentinel", ["test", "--help"]),
        ("sentinel", ["validate", "--help"]), ("sentinel-stack", ["--help"]), ("sentinel-stack", ["up", "--help"]),
        ("sentinel-stack", ["reload", "--help"]),
    ])
    func helpProseWrapsToTheTerminal(_ tool: String, _ args: [String]) throws {
        for width in [60, 100, 160] {
            let h = try runBuilt(tool, args, env: ["COLUMNS": String(width)])
            #expect(h.status == 0)
            let lines = h.stdout.components(separatedBy: "\n")
            guard let usage = lines.firstIndex(where: { $0.hasPrefix("USAGE:") }) else {
                Issue.record("\(tool) \(args): no USAGE line")
                continue
            }
            var paragraph: [String] = []
            func check() {
                defer { paragraph = [] }
                guard !paragraph.contains(where: { $0.hasPrefix(" ") }) else { return }
                for (a, b) in zip(paragraph, paragraph.dropFirst()) {
                    let next = b.split(separator: " ").first.map(String.init) ?? ""
                    #expect(a.count + 1 + next.count >= width, "\(tool) \(args) at \(width) columns: ragged break after \"\(a)\"")
                }
            }
            for line in lines[..<usage].dropFirst() {
                if line.isEmpty { check() } else { paragraph.append(line) }
            }
            check()
        }
    }

    @Test func validateChecksCertificateFiles() throws {
        let dir = NSTemporaryDirectory() + "sentinel-cli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try runBuilt("sentinel", ["validate", "-c", packageRoot + "/config/sentinel.kdl"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("validation is successful"))
    }

    /// A log file the data plane could not open fails `test`, `validate` and `sentinel-stack
    /// check` (as `nginx -t` opens its logs), naming the file and the missing directory.
    @Test func logFilesThatCannotBeOpenedFailTestValidateAndCheck() throws {
        let dir = NSTemporaryDirectory() + "sentinel-cli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/log.kdl"
        func write(_ log: String) throws {
            try (DefaultConfigText.withPortZero + "\nobservability { logging { access-log { file \"\(log)\" } } }\n")
                .write(toFile: file, atomically: true, encoding: .utf8)
        }
        try write(dir + "/missing/access.log")
        let problem = "access-log file \(dir)/missing/access.log: directory \(dir)/missing does not exist"
        let validate = try runBuilt("sentinel", ["validate", "--config", file])
        #expect(validate.status == 1)
        #expect(validate.stdout.contains("✗ " + problem), "\(validate.stdout)")
        let test = try runBuilt("sentinel", ["test", "--config", file])
        #expect(test.status == 1)
        #expect(test.stderr.contains(problem) && test.stderr.contains("test failed"), "\(test.stderr)")
        let check = try runBuilt("sentinel-stack", ["check", "--config", file])
        #expect(check.status == 1)
        #expect(check.stderr.contains(problem), "\(check.stderr)")
        // A directory where the file should be is refused too; a writable directory passes.
        try write(dir)
        #expect(try runBuilt("sentinel", ["test", "--config", file]).stderr.contains("access-log file \(dir): is a directory"))
        try write(dir + "/access.log")
        let ok = try runBuilt("sentinel", ["validate", "--config", file])
        #expect(ok.status == 0, "\(ok.stdout) \(ok.stderr)")
        #expect(ok.stdout.contains("✓ access-log file \(dir)/access.log is writable"))
    }

    /// `sentinel` serves the default routes; SIGTERM stops it with exit 0.
    @Test func runServesAndStopsGracefully() throws {
        let dir = NSTemporaryDirectory() + "sentinel-cli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/s.kdl"
        try DefaultConfigText.withPortZero.write(toFile: file, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: builtProducts + "/sentinel")
        p.arguments = ["--config", file]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        defer { if p.isRunning { p.terminate() } }
        // The lifecycle log names the bound port.
        var buffer = ""
        var port: Int?
        while port == nil {
            let chunk = err.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            buffer += String(decoding: chunk, as: UTF8.self)
            for line in buffer.split(separator: "\n") where line.contains("\"listener_bound\"") {
                if let r = line.range(of: "127.0.0.1:") {
                    port = Int(line[r.upperBound...].prefix { $0.isNumber })
                }
            }
        }
        let bound = try #require(port, "no listener_bound line in: \(buffer)")
        let body = try httpGet(port: bound, path: "/health")
        #expect(body.hasPrefix("HTTP/1.1 200"))
        #expect(body.contains("\"status\":\"healthy\""))
        let missing = try httpGet(port: bound, path: "/missing")
        #expect(missing.hasPrefix("HTTP/1.1 404"))
        p.terminate()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
    }

    /// Regression: a port already in use was reported as NIO's internal call text
    /// (`bind(descriptor:ptr:bytes:)… (errno: 98)`), naming neither the listener nor the address.
    @Test func aListenerThatCannotBindIsNamedWithItsAddressAndAHint() throws {
        let dir = NSTemporaryDirectory() + "sentinel-cli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // The test holds the port: bound and listening, so Sentinel's bind must fail.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        let port = try #require(bindLoopback(fd))
        try #require(listen(fd, 8) == 0)
        let file = dir + "/s.kdl"
        try DefaultConfigText.withPortZero.replacingOccurrences(of: "127.0.0.1:0", with: "127.0.0.1:\(port)")
            .write(toFile: file, atomically: true, encoding: .utf8)
        let r = try runBuilt("sentinel", ["--config", file])
        #expect(r.status == 1)
        #expect(r.stderr.contains("listener \\\"http\\\" cannot listen on 127.0.0.1:\(port): Address already in use"), "\(r.stderr)")
        #expect(r.stderr.contains("stop it, or change the listener's address"))
        #expect(!r.stderr.contains("bind(descriptor"))
        #expect(!r.stderr.contains("cannot bind listeners"))
    }
}

enum DefaultConfigText {
    static var withPortZero: String {
        let text = try! String(contentsOfFile: packageRoot + "/config/sentinel.kdl", encoding: .utf8)
        return text.replacingOccurrences(of: "127.0.0.1:8080", with: "127.0.0.1:0")
    }
}
