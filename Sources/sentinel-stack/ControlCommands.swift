import ArgumentParser
import SentinelMaster

/// `sentinel-stack status`: the running master's generations and workers, as one JSON line.
struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the running master's generations and worker pids (JSON).")

    @OptionGroup var options: StackConfigOption

    func run() throws {
        do {
            try ControlClient.send(.status, socketPath: options.controlSocket()) { emit($0 + "\n", fd: 1) }
        } catch {
            emit("sentinel-stack: \(error)\n", fd: 2)
            throw ExitCode(3)
        }
    }
}

/// `sentinel-stack reload`: asks the master to reload and waits for the verdict.
struct Reload: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reload the running master's configuration and wait for the verdict.",
        discussion: """
            Exit 0: the new generation is live. Exit 1: the reload failed (every diagnostic is \
            printed) and the previous generation keeps serving. Exit 3: no master is running.
            """
    )

    @OptionGroup var options: StackConfigOption

    func run() throws {
        var answer: [String: String] = [:]
        do {
            try ControlClient.send(.reload, socketPath: options.controlSocket()) { answer = FlatJSON.fields($0) }
        } catch {
            emit("sentinel-stack: \(error)\n", fd: 2)
            throw ExitCode(3)
        }
        if answer["ok"] == "true" {
            emit("sentinel-stack: reloaded, generation \(answer["generation"] ?? "?") is live\n", fd: 1)
            return
        }
        if let diagnostics = answer["diagnostics"] { emit(diagnostics + "\n", fd: 2) }
        emit("sentinel-stack: reload failed: \(answer["error"] ?? "no answer from the master")\n", fd: 2)
        throw ExitCode(1)
    }
}

/// `sentinel-stack stop`: graceful stop; returns once the master has exited.
struct Stop: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stop the running master gracefully and wait until it has exited.")

    @OptionGroup var options: StackConfigOption

    func run() throws {
        do {
            try ControlClient.send(.stop, socketPath: options.controlSocket()) { _ in }
        } catch {
            emit("sentinel-stack: \(error)\n", fd: 2)
            throw ExitCode(3)
        }
        emit("sentinel-stack: stopped\n", fd: 1)
    }
}
