import KDL

/// A route's `static-files { … }` block: serves files from a directory instead of proxying.
public struct StaticFilesConfig: Sendable, Hashable {
    /// `root` (required): the directory served. Requests cannot escape it.
    public var root: String
    /// `index`: the file served for a directory.
    public var index = "index.html"
    /// `directory-listing`: list directories without an index file.
    public var directoryListing = false
    /// `cache-control`: the `Cache-Control` header of served files.
    public var cacheControl = "public, max-age=3600"
    /// `compress`: gzip/brotli files on the fly for clients that accept it.
    public var compress = true
    /// `fallback "index.html"`: served for missing files (single-page apps); nil = 404.
    public var fallback: String?
    /// `mime-types { ".ext" "type" }`: extra or overriding content types (extension lower-cased, without the dot).
    public var mimeTypes: [String: String] = [:]

    public init(root: String) {
        self.root = root
    }

    /// Reads a `static-files { … }` node; nil when `root` is missing or invalid.
    /// (That `root` is an existing directory is checked by the validator, not here.)
    static func read(_ node: KDLNode, path: ConfigPath, sink: DiagnosticSink) -> StaticFilesConfig? {
        var r = NodeReader(node, path: path.appending(node), sink: sink)
        let root = r.string("root")
        let index = r.locatedString("index")
        let listing = r.bool("directory-listing", default: false)
        let cacheControl = r.locatedString("cache-control")
        let compress = r.bool("compress", default: true)
        let fallback = r.locatedString("fallback")
        var mime: [String: String] = [:]
        if let m = r.single("mime-types") {
            var mr = NodeReader(m, path: r.path.appending(m), sink: sink)
            mr.childNoun = "extension"
            for child in mr.remainingChildren() {
                guard let v = NodeReader.scalarValue(of: child, path: mr.path, sink: sink),
                      let type = ValueReader(sink: sink, path: mr.path, key: child.name).string(v) else { continue }
                var ext = child.name.lowercased()
                if ext.hasPrefix(".") { ext.removeFirst() }
                if ext.isEmpty || ext.contains("/") {
                    sink.error(child.location, mr.path, "\"\(child.name)\" is not a file extension", hint: "write it as \".ext\" \"type/subtype\"")
                    continue
                }
                let parts = type.split(separator: "/", omittingEmptySubsequences: false)
                if parts.count < 2 || parts[0].isEmpty || parts[1].isEmpty || !HTTPSyntax.isSafeFieldValue(type) {
                    sink.error(v.location, mr.path, "\"\(type)\" is not a media type", hint: "e.g. \"application/wasm\"")
                    continue
                }
                if mime[ext] != nil {
                    sink.error(child.location, mr.path, "the extension \".\(ext)\" is given twice")
                    continue
                }
                mime[ext] = type
            }
            mr.finish()
        }
        for v in [index, fallback].compactMap({ $0 }) where v.value.contains("..") {
            sink.error(v.location, r.path, "\"\(v.value)\" must stay inside root (no \"..\")")
        }
        if let cc = cacheControl, !HTTPSyntax.isSafeFieldValue(cc.value) {
            _ = HTTPSyntax.checkHeaderValue(cc.value, name: "Cache-Control", at: cc.location, r.path, sink)
        }
        if root == nil, !r.has("root") {
            sink.error(node.location, r.path, "static-files needs \"root\"", hint: "static-files { root \"/var/www/html\" }")
        }
        r.finish()
        guard let root else { return nil }
        var c = StaticFilesConfig(root: root)
        c.index = index?.value ?? c.index
        c.directoryListing = listing
        c.cacheControl = cacheControl?.value ?? c.cacheControl
        c.compress = compress
        c.fallback = fallback?.value
        c.mimeTypes = mime
        return c
    }
}
