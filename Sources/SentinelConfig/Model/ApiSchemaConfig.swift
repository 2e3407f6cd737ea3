import KDL

/// A route's `api-schema { … }` block: validates JSON bodies against a JSON Schema (draft 7)
/// or an OpenAPI document.
public struct ApiSchemaConfig: Sendable, Hashable {
    /// Where the schema comes from.
    public enum Source: Sendable, Hashable {
        /// `schema-file "/etc/sentinel/openapi.yaml"`.
        case file(String)
        /// `schema-content "…"`: the schema inline.
        case content(String)
    }

    /// `schema-file` xor `schema-content`; nil when only request/response schemas are given.
    public var source: Source?
    /// `request-schema { … }`: schema for request bodies, written as KDL, converted to JSON.
    public var requestSchema: JSONValue?
    /// `response-schema { … }`: schema for response bodies.
    public var responseSchema: JSONValue?
    /// `validate-requests`: reject invalid request bodies with 400.
    public var validateRequests = true
    /// `validate-responses`: check response bodies too (errors are logged and answered 502).
    public var validateResponses = false
    /// `strict-mode`: reject properties the schema does not declare.
    public var strictMode = false

    public init() {}

    static func read(_ node: KDLNode, path: ConfigPath, sink: DiagnosticSink) -> ApiSchemaConfig {
        var r = NodeReader(node, path: path.appending(node), sink: sink)
        var c = ApiSchemaConfig()
        let file = r.locatedString("schema-file")
        let content = r.locatedString("schema-content")
        if let file, let content {
            sink.error(content.location, r.path, "\"schema-file\" and \"schema-content\" are mutually exclusive",
                       hint: "keep one (schema-file is at line \(file.location.line))")
        } else if let file {
            c.source = .file(file.value)
        } else if let content {
            c.source = .content(content.value)
        }
        c.requestSchema = readSchemaBlock(&r, "request-schema")
        c.responseSchema = readSchemaBlock(&r, "response-schema")
        c.validateRequests = r.bool("validate-requests", default: c.validateRequests)
        c.validateResponses = r.bool("validate-responses", default: c.validateResponses)
        c.strictMode = r.bool("strict-mode", default: c.strictMode)
        if c.source == nil, c.requestSchema == nil, c.responseSchema == nil,
           !r.has("schema-file", "schema-content", "request-schema", "response-schema") {
            sink.error(node.location, r.path, "api-schema needs a schema",
                       hint: "add schema-file \"<path>\", schema-content \"…\", or request-schema { … }")
        }
        if c.validateResponses, c.source == nil, c.responseSchema == nil, r.has("validate-responses") {
            sink.warning(r.locationOf("validate-responses"), r.path, "validate-responses is on but there is no schema for responses")
        }
        r.finish()
        return c
    }

    private static func readSchemaBlock(_ r: inout NodeReader, _ name: String) -> JSONValue? {
        guard let n = r.single(name) else { return nil }
        if !n.arguments.isEmpty {
            r.sink.error(n.arguments[0].location, r.path.appending(n), "\"\(name)\" is a block, not a value",
                         hint: "\(name) { type \"object\"; required \"id\" }")
        }
        if n.children.isEmpty, n.properties.isEmpty {
            r.sink.error(n.location, r.path.appending(n), "\"\(name)\" is empty")
            return nil
        }
        return JSONValue.object(ofChildrenOf: n)
    }
}
