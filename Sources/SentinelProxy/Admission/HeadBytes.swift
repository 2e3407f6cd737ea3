import SentinelHTTP1

/// The bytes of one parsed request head, for the admission phases that read them.
///
/// A parsed head is ranges into the buffer it was parsed from, counted from that buffer's first
/// readable byte: they are right only until the head is consumed (the reader index moves past
/// it). Every phase that reads the head takes a `HeadBytes`, which exists only inside the one
/// scope of the driver that runs those phases (`ProxyConnectionHandler.startRequest`); the
/// head is consumed after that scope returns. Made once per request with one check that the
/// buffer holds the whole head; every range of the head lies inside it (the parser's
/// invariant, tested in `AdmissionTests`), and debug builds check each access as well.
struct HeadBytes {
    /// Exactly the head's bytes.
    let raw: UnsafeRawBufferPointer

    init(_ buffer: UnsafeRawBufferPointer, head: RequestHead) {
        precondition(head.headLength <= buffer.count, "the request head is no longer at the front of the buffer")
        raw = UnsafeRawBufferPointer(rebasing: buffer[..<head.headLength])
    }
}
