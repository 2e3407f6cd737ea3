public import KDL

/// A reference from one part of the configuration to a named object defined elsewhere
/// (`upstream "api"` in a route, `agent "waf"` in a filter, …).
///
/// Section readers only record references; the whole-config validator checks that each one
/// names an object that exists and reports a dangling one at `location` (`file:line:col`).
public struct ConfigReference: Sendable, Hashable, CustomStringConvertible {
    /// What kind of object is referenced.
    public enum Kind: String, Sendable, Hashable {
        case upstream
        case agent
        case filter
        case listener
        case namespace
    }

    public var kind: Kind
    /// The referenced id, as written.
    public var id: String
    /// Where the id is written (the value, not the key), for the "no such upstream" diagnostic.
    public var location: KDLSourceLocation
    /// The node path of the referring setting, e.g. `routes > route "api" > shadow > upstream`.
    public var path: String

    public init(kind: Kind, id: String, location: KDLSourceLocation, path: String) {
        self.kind = kind
        self.id = id
        self.location = location
        self.path = path
    }

    public var description: String { "\(kind.rawValue) \"\(id)\" at \(location)" }
}
