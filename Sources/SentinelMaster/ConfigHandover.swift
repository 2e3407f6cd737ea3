import CSentinelLinux

#if canImport(Glibc)
import Glibc
#endif

/// The validated configuration text of one generation, in a sealed memfd every worker of that
/// generation inherits (as fd 4).
///
/// A sealed memory file rather than a pipe or the control socket: any size, no writer to wait
/// for, readable again by a respawned worker, and immutable once sealed.
public final class ConfigHandover {
    public let fd: Int32

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public init(text: String) throws(Failure) {
        let fd = sentinel_memfd("sentinel-config")
        guard fd >= 0 else { throw Failure(description: "memfd_create: \(errorText())") }
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else {
                let e = errorText()
                close(fd)
                throw Failure(description: "writing the configuration memfd: \(e)")
            }
            bytes = bytes.dropFirst(n)
        }
        _ = sentinel_memfd_seal(fd)
        self.fd = fd
    }

    deinit { close(fd) }

    /// Reads the whole handed-over text from `fd` (worker side), from offset 0 whatever the
    /// shared file offset is.
    public static func read(fd: Int32) throws(Failure) -> String {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        var offset: off_t = 0
        while true {
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) }
            if n < 0, errno == EINTR { continue }
            guard n >= 0 else { throw Failure(description: "reading the handed-over configuration: \(errorText())") }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
            offset += off_t(n)
        }
        return String(decoding: out, as: UTF8.self)
    }
}
