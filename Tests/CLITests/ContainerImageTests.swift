import Foundation
import SentinelTestSupport
import Testing

/// The container image's configuration (`deploy/sentinel.kdl`, installed by `deploy/Containerfile`)
/// publishes only the welcome page and the health endpoints; status, metrics and the
/// configuration dump answer on the container's loopback alone.
@Suite struct ContainerImageTests {
    @Test func theImageInstallsDeployConfigUnedited() throws {
        let containerfile = try String(contentsOfFile: packageRoot + "/deploy/Containerfile", encoding: .utf8)
        #expect(containerfile.contains("install -D -m 0644 deploy/sentinel.kdl /out/etc/sentinel/sentinel.kdl"))
        #expect(!containerfile.contains("sed -"), "the image serves deploy/sentinel.kdl as written")
        let check = try runBuilt("sentinel-stack", ["check", "--config", packageRoot + "/deploy/sentinel.kdl"])
        #expect(check.status == 0, "\(check.stderr)")
    }

    @Test func adminAndMetricsAnswerOnLoopbackOnly() throws {
        let text = try String(contentsOfFile: packageRoot + "/deploy/sentinel.kdl", encoding: .utf8)
        #expect(text.contains(#"address "0.0.0.0:8080""#) && text.contains(#"address "127.0.0.1:9901""#))
        #expect(!text.contains("observability"), "no separate metrics listener on 0.0.0.0:9090")
        let (publicPort, adminPort) = (try freePort(), try freePort())
        let dir = NSTemporaryDirectory() + "sentinel-image-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/sentinel.kdl"
        try text.replacingOccurrences(of: "0.0.0.0:8080", with: "0.0.0.0:\(publicPort)")
            .replacingOccurrences(of: "127.0.0.1:9901", with: "127.0.0.1:\(adminPort)")
            .replacingOccurrences(of: #""/run/sentinel""#, with: "\"\(dir)/run\"")
            .write(toFile: file, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: builtProducts + "/sentinel")
        p.arguments = ["--config", file]
        p.standardError = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        defer { if p.isRunning { p.terminate(); p.waitUntilExit() } }
        #expect(pollUntil { (try? httpGet(port: adminPort, path: "/status")) != nil }, "the admin listener never answered")
        for path in ["/health", "/ready", "/"] {
            #expect(try httpGet(port: publicPort, path: path).hasPrefix("HTTP/1.1 200"), "public \(path)")
        }
        for path in ["/status", "/metrics", "/admin/config"] {
            #expect(try httpGet(port: publicPort, path: path).hasPrefix("HTTP/1.1 404"), "public \(path) must not be served")
            #expect(try httpGet(port: adminPort, path: path).hasPrefix("HTTP/1.1 200"), "admin \(path)")
        }
    }
}
