// sentinel-ratelimit-bench: how many requests a second a limiter lets through when several
// processes share it, or when a proxy is driven over HTTP at a fixed offered rate.
//
//   sentinel-ratelimit-bench table --workers 4 --rps 100 --burst 20 --offered 1000 --seconds 10
//       a shared region (as sentinel-stack's master makes it), N child processes each offering
//       offered/N requests a second on one key; prints admitted per second, all children together.
//   sentinel-ratelimit-bench http --target 127.0.0.1:8080 --offered 1000 --seconds 10 [--connections 16] [--path /]
//       paced keep-alive HTTP/1.1 requests; prints per second how many got 2xx and how many 429.
//
// Output: one line per whole second, "second <i> admitted <n> limited <m>", then a summary line
// "steady mean <x> min <a> max <b>" over seconds 1… (second 0 holds the burst).
import CSentinelRateLimit
import SentinelRateLimit

#if canImport(Glibc)
import Glibc
#endif

func argument(_ name: String, _ fallback: String) -> String {
    let args = CommandLine.arguments
    if let i = args.firstIndex(of: "--" + name), i + 1 < args.count { return args[i + 1] }
    return fallback
}

func fail(_ message: String) -> Never {
    let line = Array("sentinel-ratelimit-bench: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(2)
}

/// Sleeps until the monotonic instant `t` (nanoseconds).
func sleep(until t: UInt64) {
    let now = sentinel_rl_monotonic_ns()
    guard t > now else { return }
    var ts = timespec(tv_sec: Int((t - now) / 1_000_000_000), tv_nsec: Int((t - now) % 1_000_000_000))
    var left = timespec()
    while nanosleep(&ts, &left) != 0, errno == EINTR { ts = left }
}

func report(admitted: [Int], limited: [Int]) {
    for i in admitted.indices { print("second \(i) admitted \(admitted[i]) limited \(limited[i])") }
    let steady = admitted.dropFirst()
    if !steady.isEmpty {
        let mean = Double(steady.reduce(0, +)) / Double(steady.count)
        print("steady mean \(mean) min \(steady.min()!) max \(steady.max()!)")
    }
}

/// One child of `table`: offers `rate` requests a second on one key from `start` for `seconds`.
func child() {
    let fd = Int32(argument("fd", "3"))!
    let start = UInt64(argument("start", "0"))!
    let seconds = Int(argument("seconds", "10"))!
    let rate = Double(argument("rate", "250"))!
    let rule = RateLimitRule(scope: "bench", ratePerSecond: Int(argument("rps", "100"))!, burst: Int(argument("burst", "20"))!)
    let region: RateLimitRegion
    do { region = try RateLimitRegion.attach(fd: fd) } catch { fail("\(error)") }
    let limiter: RateLimiter
    do { limiter = try RateLimiter.make(rules: [rule], in: region)[0] } catch { fail("\(error)") }
    let key: [UInt8] = [10, 0, 0, 1]
    let hash = key.withUnsafeBytes { limiter.keyHash(clientIP: $0, path: UnsafeRawBufferPointer(start: nil, count: 0),
                                                      route: UnsafeRawBufferPointer(start: nil, count: 0), header: nil) }
    var admitted = [Int](repeating: 0, count: seconds)
    var limited = [Int](repeating: 0, count: seconds)
    let gap = 1e9 / rate
    var i = 0.0
    while true {
        let t = start + UInt64(i * gap)
        let slot = Int((t - start) / 1_000_000_000)
        if slot >= seconds { break }
        sleep(until: t)
        // Decide at the scheduled instant: a late wake-up must not shift a request into the next second.
        if limiter.check(hash: hash, now: t, wallClock: 0).action == .proceed { admitted[slot] += 1 } else { limited[slot] += 1 }
        i += 1
    }
    print((admitted + limited).map(String.init).joined(separator: " "))
}

/// Runs `count` copies of this tool with `arguments(i)`, fd 3 = `shareFD` when given; each
/// prints 2 × seconds numbers (admitted per second, then limited per second). Returns the sums.
func runChildren(count: Int, seconds: Int, shareFD: Int32?, arguments: (Int) -> [String]) -> (admitted: [Int], limited: [Int]) {
    var pipes: [Int32] = []
    var pids: [pid_t] = []
    for i in 0..<count {
        var p: [Int32] = [0, 0]
        guard pipe(&p) == 0 else { fail("pipe") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        if let shareFD { posix_spawn_file_actions_adddup2(&actions, shareFD, 3) }
        posix_spawn_file_actions_adddup2(&actions, p[1], 1)
        let argv = ([CommandLine.arguments[0]] + arguments(i)).map { strdup($0) } + [nil]
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/proc/self/exe", &actions, nil, argv, environ)
        for a in argv { free(a) }
        posix_spawn_file_actions_destroy(&actions)
        guard rc == 0 else { fail("posix_spawn: \(rc)") }
        close(p[1])
        pipes.append(p[0])
        pids.append(pid)
    }
    var admitted = [Int](repeating: 0, count: seconds)
    var limited = [Int](repeating: 0, count: seconds)
    for (fd, pid) in zip(pipes, pids) {
        var text: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fd, &buf, buf.count)
            if n < 0, errno == EINTR { continue }
            if n <= 0 { break }
            text += buf[0..<n]
        }
        close(fd)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        let counts = String(decoding: text, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Int($0) }
        guard counts.count == 2 * seconds, status == 0 else { fail("child \(pid) failed (status \(status))") }
        for i in 0..<seconds {
            admitted[i] += counts[i]
            limited[i] += counts[seconds + i]
        }
    }
    return (admitted, limited)
}

/// `table`: N children on one shared region.
func table() {
    let workers = Int(argument("workers", "4"))!
    let seconds = Int(argument("seconds", "10"))!
    let offered = Double(argument("offered", "1000"))!
    let region: RateLimitRegion
    do { region = try RateLimitRegion.createShared() } catch { fail("\(error)") }
    let start = sentinel_rl_monotonic_ns() + 200_000_000
    let (admitted, limited) = runChildren(count: workers, seconds: seconds, shareFD: region.fd) { _ in
        ["child", "--fd", "3", "--start", String(start), "--seconds", String(seconds),
         "--rate", String(offered / Double(workers)), "--rps", argument("rps", "100"), "--burst", argument("burst", "20")]
    }
    report(admitted: admitted, limited: limited)
}

switch CommandLine.arguments.dropFirst().first {
case "table": table()
case "child": child()
case "http": httpLoad()
case "httpchild": httpChild()
default: fail("usage: sentinel-ratelimit-bench table|http [options] (see the comment at the top of main.swift)")
}
