import Glibc
import SentinelReactor

// reactor-bench: evidence for issue 13's reactor (docs/benchmarks.md, "Reactor groundwork").
//   reactor-bench respond --port P [--level] [--buffer BYTES]  HTTP/1 keep-alive responder
//   reactor-bench proxy --port P --upstream H:P [--level]  one-upstream byte relay
//   reactor-bench timers                                   lazy wheel vs eager heap
// respond/proxy run one reactor thread until SIGTERM/SIGINT, then print the process's
// getrusage and the reactor's counters on stderr.

let arguments = Array(CommandLine.arguments.dropFirst())

/// One line on stderr (write(2): no shared FILE*).
func log(_ line: String) {
    var text = line + "\n"
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}
func option(_ name: String) -> String? {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count else { return nil }
    return arguments[i + 1]
}
let mode = arguments.first ?? "help"
var config = ReactorConfiguration()
if arguments.contains("--level") { config.triggering = .level }
if let size = option("--buffer").flatMap({ Int($0) }) { config.bufferSize = size }

if mode == "timers" {
    TimerBench.run(connections: 10_000, requests: 20_000_000, timeoutMs: 60_000, stepMicros: 20)
    exit(0)
}
guard mode == "respond" || mode == "proxy", let portText = option("--port"), let port = Int(portText) else {
    log("usage: reactor-bench respond|proxy --port P [--upstream HOST:PORT] [--level] | timers")
    exit(2)
}
let upstream = option("--upstream").flatMap { SocketAddress($0) }
if mode == "proxy" && upstream == nil {
    log("proxy needs --upstream HOST:PORT")
    exit(2)
}

// Signals are taken by a thread of ours (sigwait), so block them before any thread starts.
var signals = sigset_t()
sigemptyset(&signals)
sigaddset(&signals, SIGTERM)
sigaddset(&signals, SIGINT)
pthread_sigmask(SIG_BLOCK, &signals, nil)
signal(SIGPIPE, SIG_IGN)

let listener = try Sockets.listen(on: SocketAddress(host: "127.0.0.1", port: port)!, backlog: 4096)
let reactor = try ReactorHandle.start(config) { r in
    if let upstream {
        r.addListener(fd: listener) { _ in RelayDriver(upstream: upstream) }
    } else {
        r.addListener(fd: listener) { _ in HTTPResponder() }
    }
    r.setAccepting(true)
}
log("reactor-bench \(mode) on 127.0.0.1:\(port) (\(config.triggering == .edge ? "edge" : "level")-triggered), pid \(getpid())")

var received: Int32 = 0
sigwait(&signals, &received)
let stats = reactor.ask { $0.stats }
reactor.stop()
var usage = rusage()
getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
let userMicros = Int(usage.ru_utime.tv_sec) * 1_000_000 + Int(usage.ru_utime.tv_usec)
let systemMicros = Int(usage.ru_stime.tv_sec) * 1_000_000 + Int(usage.ru_stime.tv_usec)
log("rusage user_us=\(userMicros) sys_us=\(systemMicros)")
if let stats { log("stats \(stats)") }
