internal import CSentinelRateLimit

#if canImport(Glibc)
import Glibc
#endif

/// The memory rate-limit tables live in: a mapping of a memory file the `sentinel-stack`
/// master creates once, before any worker, and hands to every worker of every generation, so
/// all workers of an instance count into the same buckets (N workers allow the rate once, not
/// N times), and limits survive reloads. A single-process `sentinel` uses a private mapping.
///
/// Layout (64-bit words): a header of `headerWords` (magic, layout version, size in words, the
/// two SipHash key words), then the limiters' `KeyTable`s one after another, in the order the
/// snapshot lists its limiters. Every worker of a generation has the same snapshot and so the
/// same layout; the hash of a key includes its limiter's identity, so a reload that moves
/// tables around makes old slots look like other keys' idle or live slots, never a wrong bucket.
public final class RateLimitRegion: @unchecked Sendable {
    public static let headerWords = 8
    static let magic: UInt64 = 0x314c_5254_4e45_5353  // "SSENTRL1" little-endian
    /// 64 MiB: about four million slots for all limiters together. The file is sparse: only the
    /// pages of slots in use take memory.
    public static let defaultBytes = 64 << 20

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    let words: UnsafeMutablePointer<UInt64>
    public let wordCount: Int
    /// The memory file, when shared (the master keeps it open for workers to inherit).
    public let fd: Int32?

    /// The SipHash key every process sharing the region uses.
    public var hashKey: (UInt64, UInt64) { (words[3], words[4]) }

    /// Words free for tables.
    public var tableWords: Int { wordCount - Self.headerWords }

    private init(words: UnsafeMutablePointer<UInt64>, wordCount: Int, fd: Int32?) {
        self.words = words
        self.wordCount = wordCount
        self.fd = fd
    }

    deinit {
        munmap(words, wordCount * 8)
        if let fd { close(fd) }
    }

    /// A shared region in a new memory file, with a fresh random hash key (the master's side).
    public static func createShared(bytes: Int = defaultBytes) throws(Failure) -> RateLimitRegion {
        let fd = sentinel_rl_memfd("sentinel-ratelimit", UInt64(bytes))
        guard fd >= 0 else { throw Failure(description: "memfd_create: \(String(cString: strerror(errno)))") }
        let region: RateLimitRegion
        do { region = try map(fd: fd, ownsFD: true) } catch {
            close(fd)
            throw error
        }
        region.initialise()
        return region
    }

    /// The region in an inherited memory file (a worker's side); checks the header the master wrote.
    /// The region keeps `fd` and closes it when released.
    public static func attach(fd: Int32) throws(Failure) -> RateLimitRegion {
        let region = try map(fd: fd, ownsFD: true)
        guard region.words[0] == magic, region.words[2] == UInt64(region.wordCount) else {
            throw Failure(description: "fd \(fd) is not a rate-limit region of this build")
        }
        return region
    }

    /// A region of this process alone.
    public static func makePrivate(bytes: Int) -> RateLimitRegion {
        let size = max(bytes, (headerWords + 1) * 8)
        guard let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED else {
            fatalError("mmap of \(size) bytes for rate limits failed: \(String(cString: strerror(errno)))")
        }
        let region = RateLimitRegion(words: p.bindMemory(to: UInt64.self, capacity: size / 8), wordCount: size / 8, fd: nil)
        region.initialise()
        return region
    }

    private static func map(fd: Int32, ownsFD: Bool) throws(Failure) -> RateLimitRegion {
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_size >= (headerWords + 1) * 8 else {
            throw Failure(description: "rate-limit region fd \(fd): \(String(cString: strerror(errno)))")
        }
        let size = Int(st.st_size) & ~7
        guard let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), p != MAP_FAILED else {
            throw Failure(description: "mmap of the rate-limit region: \(String(cString: strerror(errno)))")
        }
        return RateLimitRegion(words: p.bindMemory(to: UInt64.self, capacity: size / 8), wordCount: size / 8, fd: ownsFD ? fd : nil)
    }

    private func initialise() {
        var rng = SystemRandomNumberGenerator()
        words[1] = 1
        words[2] = UInt64(wordCount)
        words[3] = rng.next()
        words[4] = rng.next()
        sentinel_rl_store(words, Self.magic)
    }

    /// The tables of limiters with these capacities (slots, powers of two), laid out in order;
    /// nil when they do not fit.
    public func tables(capacities: [Int]) -> [KeyTable]? {
        var offset = Self.headerWords
        var out: [KeyTable] = []
        for c in capacities {
            let w = KeyTable.words(capacity: c)
            guard offset + w <= wordCount else { return nil }
            out.append(KeyTable(base: words + offset, capacity: c))
            offset += w
        }
        return out
    }

    /// Words the tables of these capacities need, header included.
    public static func wordsNeeded(capacities: [Int]) -> Int {
        capacities.reduce(headerWords) { $0 + KeyTable.words(capacity: $1) }
    }
}
