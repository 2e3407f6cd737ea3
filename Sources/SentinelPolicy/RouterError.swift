/// Why a route table could not be compiled, written for the operator who wrote the config.
public struct RouterError: Error, Sendable, Equatable, CustomStringConvertible {
    private enum Kind: Sendable, Equatable {
        case noConditions
        case duplicateID
        case invalidPathRegex(String, String)
        case invalidHostPattern(String, String)
    }

    private let kind: Kind
    /// The route the problem is in.
    public let routeID: String

    static func noConditions(_ id: String) -> Self { .init(kind: .noConditions, routeID: id) }
    static func duplicateID(_ id: String) -> Self { .init(kind: .duplicateID, routeID: id) }
    static func invalidPathRegex(_ id: String, pattern: String, reason: String) -> Self {
        .init(kind: .invalidPathRegex(pattern, reason), routeID: id)
    }
    static func invalidHostPattern(_ id: String, pattern: String, reason: String) -> Self {
        .init(kind: .invalidHostPattern(pattern, reason), routeID: id)
    }

    public var description: String {
        switch kind {
        case .noConditions:
            "route \"\(routeID)\": has no match conditions (use path-prefix \"/\" to match everything)"
        case .duplicateID:
            "route \"\(routeID)\": route id is used more than once"
        case .invalidPathRegex(let pattern, let reason):
            "route \"\(routeID)\": path-regex \"\(pattern)\" is not a valid regular expression: \(reason)"
        case .invalidHostPattern(let pattern, let reason):
            "route \"\(routeID)\": host pattern \"\(pattern)\" is not a valid regular expression: \(reason)"
        }
    }
}
