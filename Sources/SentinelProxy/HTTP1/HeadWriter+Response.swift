import NIOCore
import SentinelCompression
import SentinelHTTP1

/// The response half of `HeadWriter`: the head Sentinel sends the client, from the upstream's.
extension HeadWriter {
    /// What the response head needs besides the upstream's bytes: the protocol-neutral field
    /// edits the exchange chose, plus what only HTTP/1 has (connection persistence, chunk
    /// framing, 101).
    struct ResponseEdits {
        var fields: ResponseHeadEdits
        /// The client connection closes after this response.
        var close: Bool
        /// The client speaks HTTP/1.0 and keeps the connection (needs an explicit keep-alive).
        var http10KeepAlive: Bool
        /// Send the body de-chunked (to an HTTP/1.0 client): drop Transfer-Encoding.
        var dechunk: Bool
        /// A 101 response: keep `Connection: upgrade` and `Upgrade`.
        var upgrade: Bool
        /// The HTTPS listener's `Strict-Transport-Security` field line; it replaces the
        /// upstream's, unless the route's response policy sets or removes the field itself.
        var hsts: [UInt8]? = nil

        init(fields: consuming ResponseHeadEdits, close: Bool, http10KeepAlive: Bool, dechunk: Bool, upgrade: Bool) {
            self.fields = fields
            self.close = close
            self.http10KeepAlive = http10KeepAlive
            self.dechunk = dechunk
            self.upgrade = upgrade
        }

        init(
            traceID: String, close: Bool, http10KeepAlive: Bool, dechunk: Bool, upgrade: Bool, policy: HeaderEdits = HeaderEdits(),
            setCookie: String? = nil, extra: [(String, String)] = [], via: [UInt8]? = nil, date: HTTPDateCache? = nil
        ) {
            self.init(
                fields: ResponseHeadEdits(traceID: traceID, policy: policy, setCookie: setCookie, extra: extra, via: via, date: date),
                close: close, http10KeepAlive: http10KeepAlive, dechunk: dechunk, upgrade: upgrade)
        }

        var traceID: String { _read { yield fields.traceID } }
        var policy: HeaderEdits { _read { yield fields.policy } }
        var setCookie: String? { _read { yield fields.setCookie } }
        var extra: [(String, String)] { _read { yield fields.extra } }
        var via: [UInt8]? { _read { yield fields.via } }
        var date: HTTPDateCache? { _read { yield fields.date } }
    }

    /// Writes the client-facing response head into `out`.
    static func response(
        _ head: ResponseHead, bytes p: UnsafeRawBufferPointer, edits: ResponseEdits, into out: inout ByteBuffer
    ) {
        write(into: &out, bound: responseBound(head, edits: edits)) { response(head, bytes: p, edits: edits, into: &$0) }
    }

    /// Upper bound of the client head's size. A copied field can be one byte longer than
    /// received ("a:b" is written "a: b").
    static func responseBound(_ head: ResponseHead, edits: ResponseEdits) -> Int {
        var bound = head.headLength + 512 + 2 * head.fields.count + edits.traceID.utf8.count + (edits.setCookie?.utf8.count ?? 0)
        // Prior Via values joined, Sentinel's element, and a Date line.
        bound += 2 * head.headLength + (edits.via?.count ?? 0) + (edits.date == nil ? 0 : 40)
        bound += edits.policy.growthBound(fields: head.fields.count)
        bound += edits.hsts?.count ?? 0
        if edits.fields.contentCoding != nil { bound += 64 }
        for (name, value) in edits.extra { bound += name.utf8.count + value.utf8.count + 4 }
        return bound
    }

    static func response(
        _ head: ResponseHead, bytes p: UnsafeRawBufferPointer, edits: ResponseEdits, into out: inout RawHeadWriter
    ) {
        out.append("HTTP/1.1 ")
        out.append(decimal: head.status)
        out.append(byte: UInt8(ascii: " "))
        if head.reason.isEmpty {
            out.append(HTTPReason.phrase(head.status))
        } else {
            out.append(p, head.reason)
        }
        out.append("\r\n")
        // Indexed, not `for field in`: the iterator would copy the inline field list.
        var contentLengthWritten = false
        var priorVia = SmallRanges()
        var hasDate = false
        let ownVia = edits.via != nil && (edits.policy.isEmpty || !edits.policy.mentions("via"))
        let ownHSTS = edits.hsts != nil && (edits.policy.isEmpty || !edits.policy.mentions("strict-transport-security"))
        let coding = edits.fields.contentCoding
        for i in head.fields.indices {
            let field = head.fields[i]
            if field.isHopByHop { continue }
            let name = field.nameRange
            if coding != nil {
                // A compressed body: its length is unknown until it is sent (chunked, or the
                // close), it cannot serve byte ranges of the identity body, and it is not
                // byte-for-byte the representation the upstream's ETag named (RFC 9110 §8.8.1).
                if field.name == .contentLength { continue }
                if field.name == .other, name.count == 13, HeaderBytes.equals(p, name, "accept-ranges") { continue }
                if field.name == .other, name.count == 4, HeaderBytes.equals(p, name, "etag"),
                    edits.policy.isEmpty || !edits.policy.mentions("etag")
                {
                    let value = field.valueRange
                    out.append(p, name)
                    out.append(": ")
                    if value.count < 2 || p[value.lowerBound] != UInt8(ascii: "W") || p[value.lowerBound + 1] != UInt8(ascii: "/") {
                        out.append("W/")
                    }
                    out.append(p, value)
                    out.append("\r\n")
                    continue
                }
            }
            if field.name == .other {
                switch name.count {
                case 3 where ownVia && HeaderBytes.equals(p, name, "via"):
                    priorVia.append(field.valueRange)
                    continue
                case 4 where HeaderBytes.equals(p, name, "date"):
                    hasDate = true
                case 12 where HeaderBytes.equals(p, name, "x-request-id"):
                    continue  // Sentinel's own id replaces the upstream's
                case 25 where ownHSTS && HeaderBytes.equals(p, name, "strict-transport-security"):
                    continue  // the listener's policy replaces the upstream's
                default:
                    break
                }
            }
            if field.name == .contentLength {
                // Never on 1xx or 204 (RFC 9110 §8.6): those have no content to measure.
                if head.status < 200 || head.status == 204 { continue }
                // The parser accepts repeated Content-Length values (lines, or a list in one line)
                // only when identical (RFC 9110 §8.6); the client gets exactly one value, so no
                // downstream parser has to decide what the repeats mean.
                if contentLengthWritten { continue }
                contentLengthWritten = true
                var end = field.valueRange.lowerBound
                while end < field.valueRange.upperBound, p[end] != UInt8(ascii: ","), p[end] != UInt8(ascii: " "),
                    p[end] != UInt8(ascii: "\t")
                {
                    end += 1
                }
                if end < field.valueRange.upperBound {
                    out.append(p, name)
                    out.append(": ")
                    out.append(p, field.valueRange.lowerBound..<end)
                    out.append("\r\n")
                    continue
                }
            }
            writeField(p, field, policy: edits.policy, into: &out)
        }
        edits.policy.writeAdded(into: &out)
        if ownHSTS, let hsts = edits.hsts { out.append(hsts) }
        for (name, value) in edits.extra {
            out.append(name)
            out.append(": ")
            out.append(value)
            out.append("\r\n")
        }
        if let cookie = edits.setCookie {
            out.append("Set-Cookie: ")
            out.append(cookie)
            out.append("\r\n")
        }
        if let coding {
            if coding == .gzip { out.append("Content-Encoding: gzip\r\n") } else { out.append("Content-Encoding: deflate\r\n") }
            out.append("Vary: Accept-Encoding\r\n")
        }
        if head.framing == .chunked, !edits.dechunk {
            out.append("Transfer-Encoding: chunked\r\n")
        }
        if edits.upgrade, let upgrade = head.upgrade {
            out.append("Connection: upgrade\r\nUpgrade: ")
            out.append(p, upgrade)
            out.append("\r\n")
        } else if edits.close {
            out.append("Connection: close\r\n")
        } else if edits.http10KeepAlive {
            out.append("Connection: keep-alive\r\n")
        }
        if ownVia, let via = edits.via {
            writeVia(p, prior: priorVia, received: head.version, pseudonym: via, into: &out)
        }
        if !hasDate, let date = edits.date, head.status >= 200 {
            out.append(date.currentFieldLine())
        }
        writeOwnField("X-Request-Id: ", "x-request-id", edits.traceID, policy: edits.policy, into: &out)
        out.append("\r\n")
    }
}
