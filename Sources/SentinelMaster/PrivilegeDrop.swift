#if canImport(Glibc)
import Glibc
#endif

/// `system { user; group }` for `sentinel-stack`: the master keeps its privileges (it binds the
/// listeners, including ports below 1024, and may need to bind new ones on reload), and every
/// worker and agent runs as the configured user.
///
/// posix_spawn cannot change credentials in the child before exec, so workers and agents are
/// started through `sentinel-stack exec-as`, which drops and then execs the real program (see
/// `ExecAs` for why the worker role cannot drop by itself). Order: setgid, initgroups (the user's
/// supplementary groups, which also removes root's), setuid; then the result is checked. A worker
/// also checks on start that it runs as the expected user (`verify`), and refuses to serve otherwise.
public struct PrivilegeDrop: Sendable, Equatable {
    public var user: String
    public var uid: UInt32
    public var gid: UInt32

    public init(user: String, uid: UInt32, gid: UInt32) {
        self.user = user
        self.uid = uid
        self.gid = gid
    }

    /// Resolves the names in the master. nil: nothing to do (no `user`, or the master already
    /// runs as exactly that user and group). A master that is not root cannot switch users: error.
    public static func resolve(user: String?, group: String?) -> Result<PrivilegeDrop?, ControlError> {
        guard let user else {
            if let group { return .failure(ControlError("system { group \"\(group)\" } needs user as well: sentinel-stack drops to a user")) }
            return .success(nil)
        }
        guard let account = lookupUser(user) else { return .failure(ControlError("system { user \"\(user)\" }: no such user")) }
        var gid = account.gid
        if let group {
            guard let g = lookupGroup(group) else { return .failure(ControlError("system { group \"\(group)\" }: no such group")) }
            gid = g
        }
        if getuid() == account.uid, geteuid() == account.uid, getgid() == gid, getegid() == gid { return .success(nil) }
        guard geteuid() == 0 else {
            return .failure(ControlError(
                "system { user \"\(user)\" } needs sentinel-stack up to run as root (it runs as uid \(geteuid())); or run it as \(user) and remove user/group"))
        }
        return .success(PrivilegeDrop(user: user, uid: account.uid, gid: gid))
    }

    /// Changes this process's credentials; throws if any step fails or root is still reachable.
    public func apply() throws(ControlError) {
        guard setgid(gid) == 0 else { throw ControlError("setgid(\(gid)): \(errorText())") }
        guard initgroups(user, gid) == 0 else { throw ControlError("initgroups(\(user)): \(errorText())") }
        guard setuid(uid) == 0 else { throw ControlError("setuid(\(uid)): \(errorText())") }
        guard getuid() == uid, geteuid() == uid, getgid() == gid, getegid() == gid else {
            throw ControlError("credentials are uid \(geteuid()) gid \(getegid()) after dropping to \(uid):\(gid)")
        }
        if uid != 0, setuid(0) == 0 { throw ControlError("root could be regained after dropping to \(user)") }
    }

    static let userVariable = "SENTINEL_STACK_DROP_USER"
    static let uidVariable = "SENTINEL_STACK_DROP_UID"
    static let gidVariable = "SENTINEL_STACK_DROP_GID"

    /// Whether this process runs as exactly this user and group and cannot become root again.
    public func verify() throws(ControlError) {
        guard getuid() == uid, geteuid() == uid, getgid() == gid, getegid() == gid else {
            throw ControlError("running as uid \(geteuid()) gid \(getegid()), expected \(user) (\(uid):\(gid))")
        }
        if uid != 0, setuid(0) == 0 { throw ControlError("root could be regained as \(user)") }
    }

    /// What a worker's environment carries: the credentials it must find itself running with.
    public var environment: [String: String] {
        [Self.userVariable: user, Self.uidVariable: String(uid), Self.gidVariable: String(gid)]
    }

    /// The drop a worker was told to make, or nil. A partial or malformed set is an error, so a
    /// worker never serves as root because a variable went missing.
    public static func fromEnvironment() throws(ControlError) -> PrivilegeDrop? {
        func value(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }
        let user = value(userVariable), uid = value(uidVariable), gid = value(gidVariable)
        if user == nil, uid == nil, gid == nil { return nil }
        guard let user, let u = uid.flatMap(UInt32.init), let g = gid.flatMap(UInt32.init) else {
            throw ControlError("incomplete privilege drop variables \(userVariable)/\(uidVariable)/\(gidVariable)")
        }
        return PrivilegeDrop(user: user, uid: u, gid: g)
    }

    /// argv of `sentinel-stack exec-as` for running `program` with `arguments` (argv[0] included).
    public func execArguments(program: String, arguments: [String]) -> [String] {
        ["sentinel-stack", "exec-as", user, String(uid), String(gid), program, "--"] + arguments
    }

    static func lookupUser(_ name: String) -> (uid: uid_t, gid: gid_t)? {
        var pwd = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16384)
        guard getpwnam_r(name, &pwd, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return (pwd.pw_uid, pwd.pw_gid)
    }

    static func lookupGroup(_ name: String) -> gid_t? {
        var grp = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 16384)
        guard getgrnam_r(name, &grp, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return grp.gr_gid
    }
}
