#if canImport(Glibc)
import Glibc
#endif

/// Writes all of `bytes` to `fd` with write(2) (no shared C `FILE`): one call, more only if the
/// kernel takes part of it, retrying on EINTR. Any other error drops the rest: the callers
/// (log lines, console output, pid files) have nowhere better to report it.
public func writeAll(_ bytes: UnsafeRawBufferPointer, to fd: Int32) {
    guard let base = bytes.baseAddress else { return }
    var offset = 0
    while offset < bytes.count {
        let n = write(fd, base + offset, bytes.count - offset)
        if n < 0 {
            if errno == EINTR { continue }
            return
        }
        offset += n
    }
}

/// `text` as UTF-8 with `writeAll(_:to:)`.
public func writeAll(_ text: String, to fd: Int32) {
    var text = text
    text.withUTF8 { writeAll(UnsafeRawBufferPointer($0), to: fd) }
}

/// The bytes of the file at `path`, read with read(2) in `chunk`-byte calls (EINTR retried) until
/// end of file, an error, or once at least `limit` bytes are in (the bound: the caller's files
/// are small, and a huge or endless one must not exhaust memory). nil if it cannot be opened.
public func readWholeFile(_ path: String, limit: Int, chunk: Int = 4096) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: chunk)
    while bytes.count < limit {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0, errno == EINTR { continue }
        if n <= 0 { break }
        bytes.append(contentsOf: buffer[0..<n])
    }
    return bytes
}
