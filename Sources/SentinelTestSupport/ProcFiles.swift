import Glibc

/// A /proc file's whole text. Their size reads as 0 and Foundation's `String(contentsOfFile:)`
/// returns only the first page of them (27 lines of a 3,000-line /proc/net/tcp), so read until
/// end of file. nil: the file cannot be opened.
public func readProcFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
        if n < 0, errno == EINTR { continue }
        if n <= 0 { break }
        out += chunk[0..<n]
    }
    return String(decoding: out, as: UTF8.self)
}
