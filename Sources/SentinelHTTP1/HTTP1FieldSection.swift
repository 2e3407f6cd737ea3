/// The field-section half of a head parser, shared by requests and responses: scans lines,
/// enforces the header limits, splits field lines and gathers `HTTP1HeadFacts`.
struct HTTP1FieldSection {
    enum Step {
        case needMore
        /// The empty line was found; the head ends at `end` (after its CRLF).
        case done(end: Int)
        case error(HTTP1ParseError.Code, at: Int)
    }

    var scanner = HTTP1LineScanner()
    var facts = HTTP1HeadFacts()
    /// Offset of the first field line.
    private(set) var start = 0

    mutating func reset() {
        scanner.reset()
        facts.reset()
        start = 0
    }

    /// Starts the section at the scanner's current line.
    mutating func begin() { start = scanner.lineStart }

    /// Parses every complete field line, appending to `fields` (the head under construction, so
    /// nothing is copied afterwards). The section may not grow past `maxHeaderBytes`
    /// (431, or 502 for a response), so a peer cannot make the proxy buffer an unbounded head.
    mutating func parse(
        _ p: UnsafeRawBufferPointer,
        fields: inout HTTP1FieldList,
        limits: HTTP1Limits,
        role: HTTP1Role
    ) -> Step {
        let limit = start &+ limits.maxHeaderBytes
        while true {
            switch scanner.nextLine(p, limit: limit) {
            case .needMore:
                return .needMore
            case .limitExceeded:
                return .error(.headerSectionTooLarge, at: limit)
            case .error(let code, let at):
                return .error(code, at: at)
            case .line(let line):
                if line.isEmpty { return .done(end: line.upperBound &+ 2) }
                if fields.count >= limits.maxHeaderCount { return .error(.tooManyFields, at: line.lowerBound) }
                switch HTTP1FieldLine.parse(p, line, limits: limits) {
                case .failure(let code):
                    return .error(code, at: line.lowerBound)
                case .success(let field):
                    if let code = facts.add(p, field, role: role) {
                        return .error(code, at: field.valueRange.lowerBound)
                    }
                    fields.append(field)
                }
            }
        }
    }
}
