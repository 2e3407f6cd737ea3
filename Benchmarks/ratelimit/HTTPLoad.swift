import CSentinelRateLimit

#if canImport(Glibc)
import Glibc
#endif

/// `http`: C child processes, each one keep-alive connection offering offered/C requests a
/// second from a common start; sums 2xx (admitted) and 429 (limited) per second.
func httpLoad() {
    let connections = Int(argument("connections", "16"))!
    let seconds = Int(argument("seconds", "10"))!
    let offered = Double(argument("offered", "1000"))!
    let start = sentinel_rl_monotonic_ns() + 300_000_000
    // --target a,b,…: connection i goes to target i mod n (several instances behind one client).
    let targets = argument("target", "127.0.0.1:8080").split(separator: ",").map(String.init)
    let (admitted, limited) = runChildren(count: connections, seconds: seconds, shareFD: nil) { i in
        ["httpchild", "--target", targets[i % targets.count], "--path", argument("path", "/"),
         "--start", String(start + UInt64(i) * UInt64(1e9 / offered)), "--seconds", String(seconds),
         "--rate", String(offered / Double(connections))]
    }
    report(admitted: admitted, limited: limited)
}

/// One connection of `http`.
func httpChild() {
    let target = argument("target", "127.0.0.1:8080")
    guard let colon = target.lastIndex(of: ":"), let port = UInt16(target[target.index(after: colon)...]) else { fail("bad --target") }
    let host = String(target[..<colon])
    let start = UInt64(argument("start", "0"))!
    let seconds = Int(argument("seconds", "10"))!
    let rate = Double(argument("rate", "62.5"))!
    let request = Array("GET \(argument("path", "/")) HTTP/1.1\r\nHost: bench\r\n\r\n".utf8)
    var admitted = [Int](repeating: 0, count: seconds)
    var limited = [Int](repeating: 0, count: seconds)
    var fd: Int32 = -1
    var buffer = [UInt8](repeating: 0, count: 65536)
    var pending: [UInt8] = []
    let gap = 1e9 / rate
    var i = 0.0
    while true {
        let t = start + UInt64(i * gap)
        i += 1
        let slot = Int((t - start) / 1_000_000_000)
        if slot >= seconds { break }
        sleep(until: t)
        if fd < 0 { fd = connect(host: host, port: port); pending = [] }
        guard fd >= 0 else { continue }
        guard sendAll(fd, request), let (status, close) = readResponse(fd, &buffer, &pending) else {
            Glibc.close(fd)
            fd = -1
            continue
        }
        if status / 100 == 2 { admitted[slot] += 1 } else if status == 429 { limited[slot] += 1 }
        if close {
            Glibc.close(fd)
            fd = -1
        }
    }
    print((admitted + limited).map(String.init).joined(separator: " "))
}

func connect(host: String, port: UInt16) -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return -1 }
    var one: Int32 = 1
    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = port.bigEndian
    inet_pton(AF_INET, host, &addr.sin_addr)
    let rc = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    if rc != 0 {
        close(fd)
        return -1
    }
    return fd
}

func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    var off = 0
    while off < bytes.count {
        let n = bytes[off...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if n < 0, errno == EINTR { continue }
        if n <= 0 { return false }
        off += n
    }
    return true
}

/// Reads one response (head, then a Content-Length body); returns its status and whether the
/// server closes the connection. `pending` keeps bytes read past it.
func readResponse(_ fd: Int32, _ buffer: inout [UInt8], _ pending: inout [UInt8]) -> (Int, Bool)? {
    func fill() -> Bool {
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { return false }
        pending += buffer[0..<n]
        return true
    }
    var headEnd: Int?
    while headEnd == nil {
        if let r = find(pending, [13, 10, 13, 10]) { headEnd = r } else if !fill() { return nil }
    }
    let head = String(decoding: pending[0..<headEnd!], as: UTF8.self).lowercased()
    let lines = head.split(separator: "\r\n")
    guard let first = lines.first, first.count >= 12, let status = Int(first.dropFirst(9).prefix(3)) else { return nil }
    var length = 0
    var close = false
    for line in lines.dropFirst() {
        if line.hasPrefix("content-length:") { length = Int(line.dropFirst(15).trimmingCharacters()) ?? 0 }
        if line.hasPrefix("connection:"), line.contains("close") { close = true }
    }
    let total = headEnd! + 4 + length
    while pending.count < total { if !fill() { return nil } }
    pending.removeFirst(total)
    return (status, close)
}

func find(_ hay: [UInt8], _ needle: [UInt8]) -> Int? {
    guard hay.count >= needle.count else { return nil }
    for i in 0...(hay.count - needle.count) where hay[i] == needle[0] && Array(hay[i..<i + needle.count]) == needle { return i }
    return nil
}

extension Substring {
    func trimmingCharacters() -> String { String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed()) }
}
