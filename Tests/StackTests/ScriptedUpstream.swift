import Foundation
import Synchronization

/// A tiny HTTP upstream for the cluster tests: answers `/hc` (the health-check path) with
/// `probeStatus` and everything else with 200, one response per connection, and counts both.
final class ScriptedUpstream: Sendable {
    let port: Int
    private let fd: Int32
    private let counts = Mutex((probes: 0, requests: 0))
    let probeStatus: Int

    init(probeStatus: Int) throws {
        self.probeStatus = probeStatus
        let listenFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        fd = listenFD
        var one: Int32 = 1
        setsockopt(listenFD, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listenFD, $0, len) == 0 && getsockname(listenFD, $0, &len) == 0 }
        }
        guard ok, listen(listenFD, 128) == 0 else { throw POSIXError(.EADDRINUSE) }
        port = Int(UInt16(bigEndian: addr.sin_port))
        Thread { [self] in
            while true {
                let c = accept(listenFD, nil, nil)
                if c < 0 { if errno == EINTR { continue } else { return } }
                Thread { self.serve(c) }.start()
            }
        }.start()
    }

    var probes: Int { counts.withLock { $0.probes } }
    var requests: Int { counts.withLock { $0.requests } }

    private func serve(_ c: Int32) {
        defer { close(c) }
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !data.containsHeadEnd {
            let n = recv(c, &chunk, chunk.count, 0)
            guard n > 0 else { return }
            data += chunk[0..<n]
        }
        let line = String(decoding: data.prefix { $0 != 13 }, as: UTF8.self)
        let probe = line.split(separator: " ").dropFirst().first == "/hc"
        counts.withLock { if probe { $0.probes += 1 } else { $0.requests += 1 } }
        let status = probe ? probeStatus : 200
        let response = "HTTP/1.1 \(status) X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
        _ = response.withCString { send(c, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
    }

    deinit { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
}

extension [UInt8] {
    var containsHeadEnd: Bool {
        guard count >= 4 else { return false }
        for i in 0...(count - 4) where self[i] == 13 && self[i + 1] == 10 && self[i + 2] == 13 && self[i + 3] == 10 { return true }
        return false
    }
}
