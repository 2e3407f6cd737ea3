/// Renders diagnostics for a terminal or a log: one block per diagnostic, errors first counted.
extension ConfigError {
    /// Every diagnostic, then a count line, e.g. `3 errors, 1 warning`.
    public func rendered() -> String {
        var lines = diagnostics.map(\.description)
        let e = errors.count
        let w = diagnostics.count - e
        lines.append("\(e) error\(e == 1 ? "" : "s")" + (w > 0 ? ", \(w) warning\(w == 1 ? "" : "s")" : ""))
        return lines.joined(separator: "\n")
    }
}

/// The version reported by `--version`, the status handler and `sentinel_build_info`.
public enum SentinelVersion {
    public static let semver = "0.1.0"
    public static let release = "26.11_1"
    public static var full: String { "\(semver) (release \(release))" }
}
