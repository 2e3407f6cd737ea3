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
