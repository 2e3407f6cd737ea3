/// libFuzzer entry point for the KDL parser.
///
/// The configuration file is untrusted input, so the parser must never crash, hang or blow
/// the stack on any byte string. Beyond "no crash", this target checks two properties that
/// catch silent misparses: the canonical text of any accepted document re-parses to the same
/// canonical text (printer and parser agree), and the `String` and `[UInt8]` entry points
/// agree on every valid UTF-8 input.
///
/// Built by `Fuzz/fuzz-kdl.sh` together with `Sources/KDL/*.swift` as one module (hence no
/// `import KDL`).
@_cdecl("LLVMFuzzerTestOneInput")
public func kdlFuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let fromBytes = Result { () throws(KDLError) -> KDLDocument in try KDLParser.parse(bytes: bytes) }
    if let text = String(validating: bytes, as: UTF8.self) {
        let fromText = Result { () throws(KDLError) -> KDLDocument in try KDLParser.parse(text) }
        switch (fromBytes, fromText) {
        case (.success(let a), .success(let b)):
            precondition(a == b, "String and [UInt8] parses differ")
        case (.failure(let a), .failure(let b)):
            precondition(a == b, "String and [UInt8] errors differ: \(a) vs \(b)")
        default:
            preconditionFailure("String and [UInt8] entry points disagree on acceptance")
        }
    }
    guard case .success(let document) = fromBytes else { return 0 }
    let printed = document.canonicalText()
    let reparsed: KDLDocument
    do {
        reparsed = try KDLParser.parse(printed)
    } catch {
        fatalError("canonical text does not re-parse: \(error)\n--- canonical text:\n\(printed)")
    }
    let reprinted = reparsed.canonicalText()
    precondition(reprinted == printed, "round trip changed the document:\n\(printed)\n--- became:\n\(reprinted)")
    return 0
}
