import Glibc
import SentinelReactor
import Synchronization

final class Answer<T: Sendable>: Sendable {
    let value = Mutex<T?>(nil)
}

extension ReactorHandle {
    /// Runs `body` on the reactor thread and waits for the answer (1 s at most).
    func ask<T: Sendable>(_ body: @escaping @Sendable (Reactor) -> T) -> T? {
        let answer = Answer<T>()
        guard send(.run({ r in
            let v = body(r)
            answer.value.withLock { $0 = v }
        })) else { return nil }
        for _ in 0..<1000 {
            if let v = answer.value.withLock({ $0 }) { return v }
            usleep(1000)
        }
        return nil
    }
}
