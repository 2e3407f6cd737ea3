import Dispatch
import Foundation
import SentinelReactor
import SentinelTestSupport
import Testing

/// Client → reactor (relay driver) → backend reactor (echo), many connections at once, and
/// no descriptor left behind.
@Suite struct ReactorProxyTests {
    @Test(arguments: [ReactorConfiguration.Triggering.edge, .level])
    func proxiedEchoUnderManyConnections(_ triggering: ReactorConfiguration.Triggering) throws {
        var config = ReactorConfiguration()
        config.triggering = triggering
        let (bfd, backendPort) = try makeListener()
        defer { close(bfd) }
        let (pfd, proxyPort) = try makeListener()
        defer { close(pfd) }
        let backend = try ReactorHandle.start(config) { r in
            r.addListener(fd: bfd) { _ in EchoDriver() }
            r.setAccepting(true)
        }
        defer { backend.stop() }
        let upstream = SocketAddress(host: "127.0.0.1", port: backendPort)!
        let proxy = try ReactorHandle.start(config) { r in
            r.addListener(fd: pfd) { _ in RelayDriver(upstream: upstream) }
            r.setAccepting(true)
        }
        defer { proxy.stop() }

        let threads = 4
        let perThread = 50
        let failures = Locked<[String]>([])
        let allOpen = DispatchSemaphore(value: 0)
        let checked = Locked(0)
        let release = DispatchSemaphore(value: 0)
        // Threads of their own: each blocks until released, and a thread pool of two cores'
        // width would never start the others.
        for t in 0..<threads {
            Thread.detachNewThread {
                do {
                    let clients = try (0..<perThread).map { _ in try Client(port: proxyPort) }
                    defer { clients.forEach { $0.close() } }
                    for round in 0..<3 {
                        for (i, c) in clients.enumerated() {
                            let size = 1 + (t * 7919 + i * 104_729 + round * 31) % 70_000
                            let payload = pattern(size, from: i + round)
                            try c.send(payload)
                            if try c.receive(exactly: size) != payload { throw TestFailure("thread \(t) connection \(i): wrong echo") }
                        }
                    }
                    allOpen.signal()
                    release.wait()  // hold every connection open while the test counts descriptors
                    for c in clients { c.shutdownOutput() }
                    for c in clients where c.receiveToEnd() != [] { throw TestFailure("no clean end") }
                } catch {
                    failures.update { $0.append("\(error)") }
                    allOpen.signal()
                }
                checked.update { $0 += 1 }
            }
        }
        for _ in 0..<threads { #expect(allOpen.wait(timeout: .now() + 120) == .success) }
        #expect(failures.value.isEmpty, "\(failures.value)")
        // While open: 200 proxy-side client sockets, 200 proxy→backend, 200 backend-side.
        let open = try socketsOnPorts([proxyPort, backendPort])
        #expect(open >= 3 * threads * perThread, "counted \(open)")
        for _ in 0..<threads { release.signal() }
        #expect(pollTrue { checked.value == threads })
        #expect(failures.value.isEmpty, "\(failures.value)")
        #expect(try proxy.waitForNoSessions())
        #expect(try backend.waitForNoSessions())
        // Every connected socket of either reactor is closed (listeners are excluded).
        #expect(try socketsOnPorts([proxyPort, backendPort]) == 0)
        let stats = try proxy.ask { $0.stats }
        #expect(stats.accepted == threads * perThread && stats.sessionsClosed == threads * perThread)
    }

    /// A relay whose upstream refuses closes the client's connection (reset, as the driver chose).
    @Test func upstreamRefusedClosesTheClient() throws {
        let (gone, gonePort) = try makeListener()
        close(gone)
        let (pfd, proxyPort) = try makeListener()
        defer { close(pfd) }
        let upstream = SocketAddress(host: "127.0.0.1", port: gonePort)!
        let proxy = try ReactorHandle.start { r in
            r.addListener(fd: pfd) { _ in RelayDriver(upstream: upstream) }
            r.setAccepting(true)
        }
        defer { proxy.stop() }
        let client = try Client(port: proxyPort)
        defer { client.close() }
        try? client.send("GET / HTTP/1.1\r\n\r\n")
        #expect(client.receiveToEnd() == nil)  // reset
        #expect(try proxy.waitForNoSessions())
        #expect(try socketsOnPorts([proxyPort]) == 0)
    }
}

/// This process's descriptors that are connected TCP sockets with one end on one of `ports`
/// (listening sockets excluded): /proc/self/fd joined with /proc/net/tcp{,6} by inode. Ports
/// of port-0 listeners are unique to the test, so tests running beside it cannot disturb the
/// count, which a plain count of /proc/self/fd could not promise.
func socketsOnPorts(_ ports: [Int]) throws -> Int {
    var inodes = Set<String>()
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        guard let text = readProcFile(table) else { continue }
        for line in text.split(separator: "\n").dropFirst() {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count > 9, f[3] != "0A" else { continue }  // 0A: LISTEN
            let local = Int(f[1].split(separator: ":").last ?? "", radix: 16) ?? -1
            let remote = Int(f[2].split(separator: ":").last ?? "", radix: 16) ?? -1
            if (ports.contains(local) || ports.contains(remote)) && f[9] != "0" { inodes.insert(String(f[9])) }
        }
    }
    var count = 0
    for name in try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + name),
              target.hasPrefix("socket:[") else { continue }
        if inodes.contains(String(target.dropFirst(8).dropLast())) { count += 1 }
    }
    return count
}
