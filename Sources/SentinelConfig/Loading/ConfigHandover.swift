import KDL

extension ConfigLoader {
    /// A validated configuration plus one self-contained text that loads to the same configuration.
    public struct Expanded: Sendable {
        public var loaded: Loaded
        /// The canonical KDL text of the document after `include` expansion.
        public var text: String
    }

    /// Loads a file like `load(file:)` and also returns the include-expanded document as one text.
    ///
    /// It exists for `sentinel-stack`: the master validates once and hands its workers exactly the
    /// bytes it validated. Re-reading the files in every worker would let an edit made between the
    /// master's check and a worker's start put an unvalidated configuration into service, and give
    /// workers of one generation different configurations.
    public static func loadExpanded(file path: String, host: ConfigHost = .stack) -> Result<Expanded, ConfigError> {
        let sink = DiagnosticSink()
        sink.mainFile = path
        var expander = IncludeExpander(sink: sink)
        let nodes = expander.expand(file: path, includedFrom: nil)
        return finish(nodes: nodes, files: expander.files, sink: sink, host: host).map {
            Expanded(loaded: $0, text: KDLDocument(nodes: nodes).canonicalText())
        }
    }
}

extension ConfigSource {
    /// `ConfigLoader.loadExpanded` for a file; the built-in default is already one text.
    public func loadExpanded(host: ConfigHost = .stack) -> Result<ConfigLoader.Expanded, ConfigError> {
        switch self {
        case .file(let path): return ConfigLoader.loadExpanded(file: path, host: host)
        case .builtinDefault:
            return ConfigLoader.load(text: DefaultConfig.text, file: description, host: host).map {
                ConfigLoader.Expanded(loaded: $0, text: DefaultConfig.text)
            }
        }
    }
}
