/// Which side of the exchange a filter acts on.
public enum FilterPhase: String, Sendable, Hashable {
    case request
    case response
    case both

    static let options: [(String, FilterPhase)] = [("request", .request), ("response", .response), ("both", .both)]
}
