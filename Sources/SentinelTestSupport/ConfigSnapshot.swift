public import SentinelProxy
public import SentinelRuntime
import SentinelConfig

extension ProcessIdentity {
    /// A fixed identity for tests: sticky key `[1]`, proxy id `t`, zone `z`, no ticket keys.
    public static let forTests = ProcessIdentity(stickyKey: [1], proxyID: "t", zone: "z")
}

extension ServerSnapshot {
    /// Configuration text → the data-plane snapshot, as `sentinel` builds it (loader,
    /// validation, feature gate, `SnapshotBuilder`), with instance id `t`.
    public static func fromConfig(_ text: String, process: ProcessIdentity = .forTests) throws -> ServerSnapshot {
        let config = try ConfigLoader.load(text: text).get().config
        return try SnapshotBuilder.build(config, instanceID: "t", process: process)
    }
}
