public import KDL

/// How `sentinel-stack` runs an agent process. Present only when the agent has `command`;
/// the proxy itself ignores these settings.
public struct AgentSupervision: Sendable, Hashable {
    /// When an exited agent is started again.
    public enum RestartPolicy: String, Sendable, Hashable {
        /// Whatever the exit status.
        case always
        /// Only after a non-zero exit or a signal (the default, as in the original's code).
        case onFailure = "on-failure"
        /// Never; the agent stays down.
        case never
    }

    /// One `KEY "value"` of `env { … }`. `${VAR}` references are kept unexpanded (the stack
    /// manager expands them from its own environment at spawn time); their syntax is checked here.
    public struct EnvironmentVariable: Sendable, Hashable {
        public var name: String
        public var value: String
        public var location: KDLSourceLocation
    }

    /// `command "bin" "arg" …`: the program (looked up on `$PATH` when it has no `/`) and its arguments.
    public var command: [String]
    /// `restart-policy`: `always`, `on-failure` (default) or `never`.
    public var restartPolicy: RestartPolicy = .onFailure
    /// `restart-delay-ms`: pause before each restart.
    public var restartDelay: Duration = .milliseconds(1000)
    /// `max-restarts`: restarts allowed before giving up on the agent; nil (written `0`, the
    /// default) is unlimited, as in the original. Unlimited is the default because a security
    /// agent that stays down leaves its routes failing (closed) until an operator intervenes,
    /// while `restart-delay-ms` already bounds the restart rate of a crash loop.
    public var maxRestarts: Int?
    /// `env { KEY "value" }`: extra environment variables for the agent process.
    public var environment: [EnvironmentVariable] = []
    /// `working-directory`: the agent's current directory (default: the stack manager's).
    public var workingDirectory: String?
    /// `stop-timeout-ms`: after SIGTERM at shutdown, how long to wait before SIGKILL.
    public var stopTimeout: Duration = .milliseconds(5000)

    public init(command: [String]) {
        self.command = command
    }

    static let keys = ["command", "restart-policy", "restart-delay-ms", "max-restarts", "env", "working-directory", "stop-timeout-ms"]

    /// Reads the supervision keys of an agent reader; nil when there is no `command`
    /// (other supervision keys without `command` are reported: they would do nothing).
    static func read(from r: inout NodeReader) -> AgentSupervision? {
        let sink = r.sink
        var command: [String]?
        if let node = r.single("command") {
            var cr = NodeReader(node, path: r.path.appending(node), sink: sink)
            let args = cr.arguments()
            let reader = ValueReader(sink: sink, path: cr.path, key: "command")
            let strings = args.compactMap { reader.string($0) }
            if args.isEmpty {
                sink.error(node.location, cr.path, "\"command\" needs the program to run", hint: "command \"/usr/local/bin/my-agent\" \"--socket\" \"/run/sentinel/my-agent.sock\"")
            } else if strings.count == args.count {
                command = strings
            }
            cr.finish()
        }
        let policy = r.choice("restart-policy", default: RestartPolicy.onFailure,
                              options: [("always", .always), ("on-failure", .onFailure), ("never", .never)])
        let delay = r.duration("restart-delay-ms", unit: .milliseconds, default: .milliseconds(1000))!
        let maxRestarts = r.int("max-restarts", default: 0, range: 0...1_000_000)
        let workingDirectory = r.string("working-directory")
        let stopTimeout = r.duration("stop-timeout-ms", unit: .milliseconds, default: .milliseconds(5000), min: .milliseconds(1))!
        var environment: [EnvironmentVariable] = []
        if let envNode = r.single("env", "environment") {
            var er = NodeReader(envNode, path: r.path.appending(envNode), sink: sink)
            er.childNoun = "variable"
            var seen: [String: KDLSourceLocation] = [:]
            for child in er.remainingChildren() {
                guard let v = NodeReader.scalarValue(of: child, path: er.path, sink: sink),
                      let value = ValueReader(sink: sink, path: er.path, key: child.name).string(v, allowEmpty: true) else { continue }
                if !isValidName(child.name) {
                    sink.error(child.location, er.path, "\"\(child.name)\" is not a valid environment variable name",
                               hint: "use letters, digits and _, not starting with a digit")
                    continue
                }
                if let first = seen[child.name] {
                    sink.error(child.location, er.path, "environment variable \"\(child.name)\" is set twice (first at line \(first.line))")
                    continue
                }
                if let problem = EnvInterpolation.problem(in: value) {
                    sink.error(v.location, er.path, "\(child.name): \(problem)", hint: "reference a variable as ${NAME}")
                    continue
                }
                if value.unicodeScalars.contains("\0") {
                    sink.error(v.location, er.path, "\(child.name): environment values cannot contain NUL")
                    continue
                }
                seen[child.name] = child.location
                environment.append(EnvironmentVariable(name: child.name, value: value, location: child.location))
            }
            er.finish()
        }
        guard let command else {
            if !r.has("command") {
                for child in r.node.children where keys.contains(child.name) || child.name == "environment" {
                    sink.error(child.location, r.path.appending(child), "\"\(child.name)\" has no effect without \"command\"",
                               hint: "add command \"<program>\" … so that sentinel-stack runs this agent, or remove the setting")
                }
            }
            return nil
        }
        var s = AgentSupervision(command: command)
        s.restartPolicy = policy
        s.restartDelay = delay
        s.maxRestarts = maxRestarts == 0 ? nil : maxRestarts
        s.environment = environment
        s.workingDirectory = workingDirectory
        s.stopTimeout = stopTimeout
        return s
    }

    static func isValidName(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first else { return false }
        let isLetter: (Unicode.Scalar) -> Bool = { ("A"..."Z").contains($0) || ("a"..."z").contains($0) || $0 == "_" }
        return isLetter(first) && s.unicodeScalars.allSatisfy { isLetter($0) || ("0"..."9").contains($0) }
    }
}
