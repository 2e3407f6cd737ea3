/// Field names the parsing core recognises because they decide framing, routing or hop-by-hop
/// handling. Everything else is `.other` and is forwarded byte for byte.
public enum HTTP1FieldName: UInt8, Hashable, Sendable {
    case other
    case host
    case contentLength
    case transferEncoding
    case connection
    case keepAlive
    case proxyConnection
    case te
    case trailer
    case upgrade
    case proxyAuthorization
    case expect

    /// Hop-by-hop fields (RFC 9110 §7.6.1 plus the de-facto Keep-Alive, Proxy-Connection and
    /// Proxy-Authorization): a proxy must not forward them, or a client could talk to the
    /// upstream's connection management, or leak proxy credentials to it.
    @inlinable public var isHopByHop: Bool {
        switch self {
        case .other, .host, .contentLength, .expect: false
        default: true
        }
    }

    /// Classifies a token by length first, so most names cost one switch and no comparison.
    static func classify(_ p: UnsafeRawBufferPointer, _ r: Range<Int>) -> HTTP1FieldName {
        switch r.count {
        case 2: return HTTP1Bytes.equalsLower(p, r, "te") ? .te : .other
        case 4: return HTTP1Bytes.equalsLower(p, r, "host") ? .host : .other
        case 6: return HTTP1Bytes.equalsLower(p, r, "expect") ? .expect : .other
        case 7:
            if HTTP1Bytes.equalsLower(p, r, "upgrade") { return .upgrade }
            return HTTP1Bytes.equalsLower(p, r, "trailer") ? .trailer : .other
        case 10:
            if HTTP1Bytes.equalsLower(p, r, "connection") { return .connection }
            return HTTP1Bytes.equalsLower(p, r, "keep-alive") ? .keepAlive : .other
        case 14: return HTTP1Bytes.equalsLower(p, r, "content-length") ? .contentLength : .other
        case 16: return HTTP1Bytes.equalsLower(p, r, "proxy-connection") ? .proxyConnection : .other
        case 17: return HTTP1Bytes.equalsLower(p, r, "transfer-encoding") ? .transferEncoding : .other
        case 19: return HTTP1Bytes.equalsLower(p, r, "proxy-authorization") ? .proxyAuthorization : .other
        default: return .other
        }
    }
}

/// One field line as offsets into the parsed bytes: 16 bytes, no copy of the text.
///
/// The proxy forwards the original bytes and edits only what it must, so a field is where its
/// name and value are, plus what the parser learnt about it in the same pass.
public struct HTTP1Field: Hashable, Sendable {
    @usableFromInline let nameStart: UInt32
    @usableFromInline let nameLength: UInt16
    /// The recognised name, or `.other`.
    public let name: HTTP1FieldName
    @usableFromInline var flags: UInt8
    @usableFromInline let valueStart: UInt32
    @usableFromInline let valueEnd: UInt32

    @usableFromInline static let listedInConnection: UInt8 = 1

    init(name: Range<Int>, known: HTTP1FieldName, value: Range<Int>) {
        nameStart = UInt32(truncatingIfNeeded: name.lowerBound)
        nameLength = UInt16(truncatingIfNeeded: name.count)
        self.name = known
        flags = 0
        valueStart = UInt32(truncatingIfNeeded: value.lowerBound)
        valueEnd = UInt32(truncatingIfNeeded: value.upperBound)
    }

    static let placeholder = HTTP1Field(name: 0..<0, known: .other, value: 0..<0)

    /// The field name's bytes (without the colon).
    @inlinable public var nameRange: Range<Int> { Int(nameStart)..<(Int(nameStart) + Int(nameLength)) }
    /// The field value's bytes, without leading and trailing whitespace.
    @inlinable public var valueRange: Range<Int> { Int(valueStart)..<Int(valueEnd) }
    /// Named by a `Connection` option of the same message: hop-by-hop for this message only.
    @inlinable public var isListedInConnection: Bool { flags & Self.listedInConnection != 0 }
    /// The proxy must remove this field before forwarding (standard hop-by-hop or Connection-listed).
    @inlinable public var isHopByHop: Bool { name.isHopByHop || isListedInConnection }
}

/// An array that keeps its first `capacity` elements inline, so a typical head needs no heap
/// allocation at all; longer lists spill into an ordinary array.
public struct HTTP1SmallList<let capacity: Int, Element: Hashable & Sendable>: RandomAccessCollection, Sendable {
    @usableFromInline var storage: InlineArray<capacity, Element>
    /// nil until the inline storage is full: copying a head then costs no reference counting.
    @usableFromInline var overflow: [Element]?
    public internal(set) var count = 0

    init(placeholder: Element) { storage = InlineArray(repeating: placeholder) }

    // Inlinable: other modules (the proxy's head writer) then get a specialised, inlined
    // element access instead of a generic call per field.
    @inlinable public var startIndex: Int { 0 }
    @inlinable public var endIndex: Int { count }

    @inlinable public subscript(position: Int) -> Element {
        get {
            precondition(position >= 0 && position < count, "index out of range")
            return position < capacity ? storage[position] : overflow![position &- capacity]
        }
        set {
            precondition(position >= 0 && position < count, "index out of range")
            if position < capacity { storage[position] = newValue } else { overflow![position &- capacity] = newValue }
        }
    }

    mutating func append(_ element: Element) {
        if count < capacity {
            storage[count] = element
        } else if overflow == nil {
            overflow = [element]
        } else {
            overflow!.append(element)
        }
        count &+= 1
    }

    /// Empties the list, keeping any spill-over capacity for the next message.
    mutating func removeAll() {
        count = 0
        if overflow != nil { overflow!.removeAll(keepingCapacity: true) }
    }
}

extension HTTP1SmallList: Equatable {
    public static func == (a: Self, b: Self) -> Bool { a.elementsEqual(b) }
}

/// Field lines of one head, in order. 24 fit inline; the limit (`maxHeaderCount`) bounds the rest.
public typealias HTTP1FieldList = HTTP1SmallList<24, HTTP1Field>
/// Byte ranges, such as the options named in `Connection`.
public typealias HTTP1RangeList = HTTP1SmallList<4, Range<Int>>

extension HTTP1SmallList where Element == HTTP1Field {
    init() { self.init(placeholder: .placeholder) }

    /// Index of the first field with this recognised name.
    public func firstIndex(of name: HTTP1FieldName) -> Int? { firstIndex { $0.name == name } }
}

/// Indices of hop-by-hop fields, in order. A plain iterator rather than a lazy filter, whose
/// closure would capture the list in a heap-allocated context on every request.
public struct HTTP1HopByHopIndices: Sequence, IteratorProtocol, Sendable {
    private let fields: HTTP1FieldList
    private var position = 0

    init(fields: HTTP1FieldList) { self.fields = fields }

    public mutating func next() -> Int? {
        while position < fields.count {
            defer { position += 1 }
            if fields[position].isHopByHop { return position }
        }
        return nil
    }
}

extension HTTP1SmallList where Element == Range<Int> {
    init() { self.init(placeholder: 0..<0) }
}
