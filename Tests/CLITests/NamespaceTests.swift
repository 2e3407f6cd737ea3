import Foundation
import Testing
import SentinelTestSupport

/// A listener bound to a namespace serves only that namespace's routes; names resolve
/// namespace → global. Runs the real binary.
@Suite struct NamespaceTests {
    @Test func listenerServesItsNamespaceOnly() throws {
        let dir = NSTemporaryDirectory() + "sentinel-ns-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/ns.kdl"
        try """
            system { worker-threads 1 }
            listeners {
                listener "public" { address "127.0.0.1:0" }
                listener "tenant" { address "127.0.0.1:0"; namespace "acme"; default-route "fallback" }
            }
            routes { route "health" { matches { path "/health" }; builtin-handler "health" } }
            namespace "acme" {
                routes {
                    route "status" { matches { path "/status" }; builtin-handler "status" }
                    route "fallback" { matches { path "/nothing-matches-this" }; builtin-handler "health" }
                }
            }
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let server = try RunningSentinel(config: file)
        defer { server.stop() }
        let publicPort = try #require(server.ports["public"])
        let tenantPort = try #require(server.ports["tenant"])
        #expect(try httpGet(port: publicPort, path: "/health").hasPrefix("HTTP/1.1 200"))
        #expect(try httpGet(port: publicPort, path: "/status").hasPrefix("HTTP/1.1 404"))
        #expect(try httpGet(port: tenantPort, path: "/status").hasPrefix("HTTP/1.1 200"))
        // Unmatched on the tenant listener: its default route (in the namespace) answers.
        let other = try httpGet(port: tenantPort, path: "/elsewhere")
        #expect(other.hasPrefix("HTTP/1.1 200"))
        #expect(other.contains("\"status\":\"healthy\""))
    }
}

/// `sentinel --config FILE` as a child process; the listener ports come from its lifecycle log.
final class RunningSentinel {
    let process = Process()
    private(set) var ports: [String: Int] = [:]

    init(config: String) throws {
        process.executableURL = URL(fileURLWithPath: builtProducts + "/sentinel")
        process.arguments = ["--config", config]
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        var buffer = ""
        while !buffer.contains("\"event\":\"started\"") {
            let chunk = err.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            buffer += String(decoding: chunk, as: UTF8.self)
        }
        for line in buffer.split(separator: "\n") where line.contains("\"listener_bound\"") {
            guard let name = line.range(of: "\"listener\":\""), let addr = line.range(of: "127.0.0.1:") else { continue }
            let id = line[name.upperBound...].prefix { $0 != "\"" }
            ports[String(id)] = Int(line[addr.upperBound...].prefix { $0.isNumber })
        }
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }
}
