public import SentinelConfig

/// One supervised agent as the master runs it: the configuration's `AgentSupervision` with
/// `${VAR}` already expanded from the master's environment.
///
/// Expanding at load (and reload) time, not at spawn time, makes an undefined variable a
/// configuration error the operator sees at once (`up` refuses to start, `reload` fails with the
/// name of the variable) instead of an agent that crash-loops on an empty setting. Two specs are
/// equal exactly when a reload must restart the agent.
public struct AgentSpec: Sendable, Equatable {
    public typealias RestartPolicy = AgentSupervision.RestartPolicy

    /// The agent id, qualified `namespace/id` or `namespace/service/id` outside the global scope.
    public var name: String
    /// argv; `command[0]` is looked up on `$PATH` when it has no `/`.
    public var command: [String]
    /// `KEY=value` entries added to (or replacing) the master's environment.
    public var environment: [String]
    public var workingDirectory: String?
    public var restartPolicy: RestartPolicy
    public var restartDelay: Duration
    /// nil: unlimited.
    public var maxRestarts: Int?
    public var stopTimeout: Duration
    /// `system { user; group }`: the agent is started through `sentinel-stack exec-as`, which
    /// drops to these credentials before exec. Part of equality: a new user restarts the agent.
    public var credentials: PrivilegeDrop?

    public init(
        name: String, command: [String], environment: [String] = [], workingDirectory: String? = nil,
        restartPolicy: RestartPolicy = .onFailure, restartDelay: Duration = .milliseconds(1000), maxRestarts: Int? = nil,
        stopTimeout: Duration = .milliseconds(5000)
    ) {
        self.name = name
        self.command = command
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.restartPolicy = restartPolicy
        self.restartDelay = restartDelay
        self.maxRestarts = maxRestarts
        self.stopTimeout = stopTimeout
    }

    /// Every agent of `config` (all scopes) that has a `command`, expanded; the first undefined
    /// variable fails the whole set, naming the agent, the key and the variable.
    public static func all(in config: SentinelConfiguration, environment: [String: String]) -> Result<[AgentSpec], ControlError> {
        var scoped: [(String, AgentConfig)] = config.agents.map { ("", $0) }
        for ns in config.namespaces {
            scoped += ns.agents.map { (ns.id + "/", $0) }
            for svc in ns.services { scoped += svc.agents.map { (ns.id + "/" + svc.id + "/", $0) } }
        }
        var specs: [AgentSpec] = []
        for (prefix, agent) in scoped {
            guard let s = agent.supervision else { continue }
            let name = prefix + agent.id
            var env: [String] = []
            for v in s.environment {
                switch expand(v.value, environment: environment) {
                case .success(let value): env.append("\(v.name)=\(value)")
                case .failure(let missing):
                    return .failure(ControlError(
                        "agent \"\(name)\": env \(v.name) (line \(v.location.line)) uses ${\(missing.name)}, which is not set in the environment of sentinel-stack"))
                }
            }
            specs.append(AgentSpec(
                name: name, command: s.command, environment: env, workingDirectory: s.workingDirectory,
                restartPolicy: s.restartPolicy, restartDelay: s.restartDelay, maxRestarts: s.maxRestarts, stopTimeout: s.stopTimeout))
        }
        return .success(specs)
    }

    public struct Undefined: Error, Equatable { public var name: String }

    /// Replaces every `${NAME}` (syntax already checked by the loader); `$` without `{` is literal.
    public static func expand(_ text: String, environment: [String: String]) -> Result<String, Undefined> {
        var out = ""
        let scalars = Array(text.unicodeScalars)
        var i = 0
        while i < scalars.count {
            if scalars[i] == "$", i + 1 < scalars.count, scalars[i + 1] == "{",
               let close = scalars[(i + 2)...].firstIndex(of: "}") {
                let name = String(String.UnicodeScalarView(scalars[(i + 2)..<close]))
                guard let value = environment[name] else { return .failure(Undefined(name: name)) }
                out += value
                i = close + 1
            } else {
                out.unicodeScalars.append(scalars[i])
                i += 1
            }
        }
        return .success(out)
    }
}
