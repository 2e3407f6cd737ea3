import KDL

/// `type "compress"`: compresses responses the client accepts compressed.
public struct CompressFilterConfig: Sendable, Hashable {
    public enum Algorithm: String, Sendable, Hashable {
        case gzip
        case brotli = "br"
        case deflate
        case zstd
    }

    /// `algorithms "gzip,deflate"`: preference order (comma list or several values). The default
    /// is gzip alone (the original's default adds br; Sentinel links no brotli library, and
    /// naming br or zstd is refused at load with `not supported yet`).
    public var algorithms: [Algorithm] = [.gzip]
    /// `min-size`: responses smaller than this are sent as they are.
    public var minSize: Int64 = 1024
    /// `level`: compression level 1...11 (zlib's range is 1...9: 10 and 11 act as 9).
    public var level = 6
    /// `content-types`: media types that are compressed (Sentinel addition; the original fixed this list).
    public var contentTypes = ["text/html", "text/css", "application/json", "application/javascript"]

    public init() {}

    static func read(from r: inout NodeReader) -> CompressFilterConfig {
        var c = CompressFilterConfig()
        if let list = r.commaList("algorithms") {
            var algs: [Algorithm] = []
            let options: [(String, Algorithm)] = [("gzip", .gzip), ("br", .brotli), ("brotli", .brotli), ("deflate", .deflate), ("zstd", .zstd)]
            for (name, location) in list {
                let v = KDLValue(.string(name), location: location)
                guard let a = ValueReader(sink: r.sink, path: r.path, key: "algorithms").choice(v, options: options) else { continue }
                if !algs.contains(a) { algs.append(a) }
            }
            if !algs.isEmpty { c.algorithms = algs }
        }
        c.minSize = r.size("min-size", default: c.minSize, range: 0...Int64.max)!
        c.level = r.int("level", default: c.level, range: 1...11)
        if let types = r.stringList("content-types") {
            for t in types where !t.contains("/") {
                r.sink.error(r.locationOf("content-types"), r.path, "\"\(t)\" is not a media type", hint: "write it as type/subtype, e.g. \"text/html\"")
            }
            c.contentTypes = types.map { $0.lowercased() }
        }
        return c
    }
}
