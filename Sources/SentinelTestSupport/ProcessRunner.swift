public import Foundation

/// What a finished child process left behind.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String

    public init(status: Int32, stdout: String, stderr: String) { (self.status, self.stdout, self.stderr) = (status, stdout, stderr) }
}

/// Runs a tool to completion, feeding it `input` on stdin (then end of file), or `stdin`, or
/// nothing. `environment`: the child's whole environment (nil: this process's).
public func runProcess(
    _ tool: String, _ args: [String], cwd: String? = nil, input: String? = nil, stdin: FileHandle? = nil,
    environment: [String: String]? = nil
) throws -> ProcessResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: tool)
    p.arguments = args
    if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    if let environment { p.environment = environment }
    let out = Pipe()
    let err = Pipe()
    let inp = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = input != nil ? inp : stdin ?? FileHandle.nullDevice
    try p.run()
    if let input {
        inp.fileHandleForWriting.write(Data(input.utf8))
        try? inp.fileHandleForWriting.close()
    }
    // Read both pipes concurrently so neither fills up and blocks the child.
    nonisolated(unsafe) var errData = Data()
    let errDone = DispatchSemaphore(value: 0)
    DispatchQueue.global().async {
        errData = err.fileHandleForReading.readDataToEndOfFile()
        errDone.signal()
    }
    let o = out.fileHandleForReading.readDataToEndOfFile()
    errDone.wait()
    p.waitUntilExit()
    return ProcessResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
}

/// Runs one of the package's executables (`sentinel`, `sentinel-stack`) to completion, with
/// this process's environment minus what would point it elsewhere (`SENTINEL_CONFIG`,
/// `NOTIFY_SOCKET`), plus `env`.
public func runBuilt(_ tool: String, _ args: [String], env: [String: String] = [:]) throws -> ProcessResult {
    var environment = ProcessInfo.processInfo.environment
    environment.removeValue(forKey: "SENTINEL_CONFIG")
    environment.removeValue(forKey: "NOTIFY_SOCKET")
    for (k, v) in env { environment[k] = v }
    return try runProcess(builtProducts + "/" + tool, args, environment: environment)
}

/// The package's root directory (the one with `Package.swift`).
public let packageRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    while url.path != "/" {
        url.deleteLastPathComponent()
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
    }
    fatalError("no Package.swift above \(#filePath)")
}()

/// Where `swift build` put the executables: next to the test bundle.
public let builtProducts: String = {
    let candidates = [Bundle.main.bundleURL.path, Bundle.main.bundleURL.deletingLastPathComponent().path]
    for c in candidates where FileManager.default.isExecutableFile(atPath: c + "/sentinel") { return c }
    return packageRoot + "/.build/debug"
}()

/// A new temporary directory `<prefix>-<pid>-<random>` in which `script` (sh) has run, for
/// fixtures made at run time (certificates by the `openssl` command line: no private key is
/// committed). The test runner leaves without running atexit handlers, so a run cannot remove
/// its own directory; each removes those of earlier runs whose process is gone. `arguments` are
/// the script's positional parameters ($1 …).
public func scriptedFixtureDirectory(prefix: String, script: String, arguments: [String] = []) throws -> String {
    let tmp = NSTemporaryDirectory()
    let dir = tmp + "\(prefix)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    if let entries = try? FileManager.default.contentsOfDirectory(atPath: tmp) {
        for e in entries where e.hasPrefix(prefix + "-") {
            let parts = e.dropFirst(prefix.count + 1).split(separator: "-")
            guard parts.count == 2, let pid = Int32(parts[0]), pid != getpid() else { continue }
            if kill(pid, 0) != 0, errno == ESRCH { try? FileManager.default.removeItem(atPath: tmp + e) }
        }
    }
    let result = try runProcess("/bin/sh", ["-c", script, prefix] + arguments, cwd: dir)
    guard result.status == 0 else { throw FixtureScriptFailed(prefix: prefix, stderr: result.stderr) }
    return dir
}

public struct FixtureScriptFailed: Error {
    public var prefix: String
    public var stderr: String
}
