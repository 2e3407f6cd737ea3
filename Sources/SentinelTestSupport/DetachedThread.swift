import Glibc

/// Runs `body` on a new detached thread (a test's blocking peer: a slow reader, a server that
/// accepts and answers), independent of Swift's cooperative pool, which blocking calls would starve.
public func detachThread(_ body: @escaping @Sendable () -> Void) {
    let box = Unmanaged.passRetained(ThreadBody(body))
    var tid = pthread_t()
    pthread_create(&tid, nil, { raw in
        Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue().body()
        return nil
    }, box.toOpaque())
    pthread_detach(tid)
}

private final class ThreadBody: Sendable {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}
