/// What the framing and connection-management fields of one head say, gathered while the field
/// lines are parsed so nothing is scanned twice. Shared by the request and response parsers;
/// each decides framing from these facts with its own rules.
struct HTTP1HeadFacts {
    var contentLength: UInt64?
    var contentLengthFields = 0
    var transferEncodingFields = 0
    var chunkedCount = 0
    var otherCodings = 0
    /// Some coding came after `chunked`.
    var chunkedNotLast = false
    var lastIsChunked = false
    var close = false
    var keepAlive = false
    var upgradeOption = false
    /// Options named in `Connection`, except `close`.
    var connectionOptions = HTTP1RangeList()
    /// Options other than the standard hop-by-hop names, which need the marking pass.
    var customOptions = 0
    var host: Range<Int>?
    var upgrade: Range<Int>?
    var expect100Continue = false

    /// Connection options beyond this are refused: each one costs a comparison per field.
    static let maxConnectionOptions = 32

    /// Back to the initial state, field by field: rebuilding the struct would re-initialise the
    /// inline storage on every request.
    mutating func reset() {
        contentLength = nil
        contentLengthFields = 0
        transferEncodingFields = 0
        chunkedCount = 0
        otherCodings = 0
        chunkedNotLast = false
        lastIsChunked = false
        close = false
        keepAlive = false
        upgradeOption = false
        connectionOptions.removeAll()
        customOptions = 0
        host = nil
        upgrade = nil
        expect100Continue = false
    }

    /// Records one field; returns the broken rule, if any.
    mutating func add(_ p: UnsafeRawBufferPointer, _ field: HTTP1Field, role: HTTP1Role) -> HTTP1ParseError.Code? {
        let value = field.valueRange
        switch field.name {
        case .contentLength:
            contentLengthFields += 1
            if role == .request {
                // Requests: exactly one field with exactly one value. Lists and repeats, even of
                // equal values, are refused: llhttp refuses them too, and forwarding them verbatim
                // would hand the ambiguity to the upstream.
                if contentLengthFields > 1 { return .conflictingContentLength }
                guard let n = HTTP1Bytes.decimal(p, value) else { return .invalidContentLength }
                contentLength = n
                return nil
            }
            // Responses: equal repeats are tolerated (RFC 9110 §8.6), different ones are not.
            var code: HTTP1ParseError.Code?
            _ = HTTP1Bytes.forEachListElement(p, value) { element in
                guard let n = HTTP1Bytes.decimal(p, element) else {
                    code = .invalidContentLength
                    return false
                }
                if let previous = contentLength, previous != n {
                    code = .conflictingContentLength
                    return false
                }
                contentLength = n
                return true
            }
            return code
        case .transferEncoding:
            transferEncodingFields += 1
            var code: HTTP1ParseError.Code?
            _ = HTTP1Bytes.forEachListElement(p, value) { coding in
                // Empty elements and parameters are refused: `chunked;x=1` or `chunked,` are read
                // as chunked by some parsers and as unknown by others.
                guard !coding.isEmpty, coding.allSatisfy({ HTTP1Bytes.isTchar(p[$0]) }) else {
                    code = .invalidTransferEncoding
                    return false
                }
                if lastIsChunked { chunkedNotLast = true }
                if HTTP1Bytes.equalsLower(p, coding, "chunked") {
                    chunkedCount += 1
                    lastIsChunked = true
                } else {
                    otherCodings += 1
                    lastIsChunked = false
                }
                return true
            }
            return code
        case .connection:
            var code: HTTP1ParseError.Code?
            _ = HTTP1Bytes.forEachListElement(p, value) { option in
                if option.isEmpty { return true }
                guard option.allSatisfy({ HTTP1Bytes.isTchar(p[$0]) }) else {
                    code = .invalidConnection
                    return false
                }
                if HTTP1Bytes.equalsLower(p, option, "close") {
                    close = true
                    return true
                }
                if HTTP1Bytes.equalsLower(p, option, "keep-alive") {
                    keepAlive = true
                } else if HTTP1Bytes.equalsLower(p, option, "upgrade") {
                    upgradeOption = true
                } else if HTTP1Bytes.equalsLower(p, option, "host")
                    || HTTP1Bytes.equalsLower(p, option, "content-length")
                {
                    // `Connection: content-length` would make the proxy strip the body's framing
                    // and `Connection: host` its routing key (hop-by-hop header abuse).
                    code = .protectedConnectionOption
                    return false
                }
                guard connectionOptions.count < Self.maxConnectionOptions else {
                    code = .invalidConnection
                    return false
                }
                if !HTTP1FieldName.classify(p, option).isHopByHop { customOptions += 1 }
                connectionOptions.append(option)
                return true
            }
            return code
        case .host:
            guard role == .request else { return nil }
            if host != nil { return .duplicateHost }
            guard HTTP1Target.isValidAuthority(p, value, requirePort: false) else { return .invalidHost }
            host = value
            return nil
        case .upgrade:
            if upgrade != nil { return .duplicateUpgrade }
            upgrade = value
            return nil
        case .expect:
            if HTTP1Bytes.equalsLower(p, value, "100-continue") { expect100Continue = true }
            return nil
        default:
            return nil
        }
    }

    /// Flags every field whose name a `Connection` option lists, so `isHopByHop` covers it.
    func markConnectionListed(_ p: UnsafeRawBufferPointer, _ fields: inout HTTP1FieldList) {
        guard customOptions > 0 else { return }
        for i in fields.indices {
            let name = fields[i].nameRange
            for option in connectionOptions where HTTP1Bytes.equalsIgnoringCase(p, name, option) {
                fields[i].flags |= HTTP1Field.listedInConnection
                break
            }
        }
    }

    /// Persistent-connection rule of RFC 9112 §9.3 from the version and Connection options.
    func keepAlive(version: HTTP1Version) -> Bool {
        if close { return false }
        return version == .http1_1 || keepAlive
    }
}
