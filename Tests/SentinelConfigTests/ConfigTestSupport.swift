import Foundation
import SentinelConfig
import Testing

/// Loads configuration text and returns the diagnostics (empty when valid).
func diagnostics(_ text: String, file: String = "test.kdl") -> [ConfigDiagnostic] {
    switch ConfigLoader.load(text: text, file: file) {
    case .success(let loaded): return loaded.warnings.filter { $0.severity == .error }
    case .failure(let e): return e.diagnostics.filter { $0.severity == .error }
    }
}

/// Loads text that must be valid.
func valid(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> SentinelConfiguration? {
    switch ConfigLoader.load(text: text, file: "test.kdl") {
    case .success(let loaded): return loaded.config
    case .failure(let e):
        Issue.record("expected a valid configuration, got:\n\(e.rendered())", sourceLocation: sourceLocation)
        return nil
    }
}

/// A minimal valid configuration with `extra` appended.
func minimal(_ extra: String = "", routes: String? = nil) -> String {
    """
    system { worker-threads 1 }
    listeners { listener "http" { address "127.0.0.1:0"; protocol "http" } }
    routes {
    \(routes ?? #"route "h" { matches { path "/health" }; builtin-handler "health" }"#)
    }
    \(extra)
    """
}

/// A temporary directory removed when the value is released.
final class TempDir {
    let path: String

    init() {
        let base = FileManager.default.temporaryDirectory.path
        path = base + "/sentinel-test-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    @discardableResult
    func write(_ name: String, _ text: String) -> String {
        let full = path + "/" + name
        let dir = (full as NSString).deletingLastPathComponent
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try! text.write(toFile: full, atomically: true, encoding: .utf8)
        return full
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// The package root, found from this file's path.
let packageRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    while url.path != "/" {
        url.deleteLastPathComponent()
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
    }
    fatalError("Package.swift not found above \(#filePath)")
}()
