/// The rules the WAF ships with: SQL injection (1001xx), cross-site scripting (1002xx), path
/// traversal and restricted files (1003xx), command injection (1004xx), scanners (1005xx) and
/// protocol sizes (1006xx). Written for this project; scores follow the usual convention
/// (5 critical: one hit reaches the default threshold of 5; 3-4: needs a second signal).
public enum WAFStarterRules {
    static let args: [WAFTarget] = [.query, .body, .header("cookie")]
    static let decode: [WAFTransform] = [.urlDecode, .plusToSpace, .jsUnescape, .removeNulls, .htmlEntityDecode, .compressWhitespace]
    static let pathDecode: [WAFTransform] = [.urlDecode, .removeNulls, .backslashToSlash]

    public static func rules() throws(WAFRuleError) -> [WAFRule] {
        func re(_ id: String, _ description: String, _ targets: [WAFTarget], _ transforms: [WAFTransform],
                _ pattern: String, score: Int = 5, paranoia: Int = 1, tags: [String]) throws(WAFRuleError) -> WAFRule {
            WAFRule(id: id, description: description, targets: targets, transforms: transforms,
                    op: .regex(try WAFPattern(pattern)), score: score, paranoia: paranoia,
                    tags: tags + ["paranoia-level/\(paranoia)"])
        }
        let sqli = ["attack-sqli"]
        let xss = ["attack-xss"]
        let lfi = ["attack-lfi"]
        let rce = ["attack-rce"]
        let scanner = ["scanner"]
        let proto = ["protocol"]
        let sp = "[[:space:]/*]"   // whitespace or inline-comment characters between SQL words
        return [
            // SQL injection
            try re("100101", "SQL UNION SELECT", args, decode,
                   #"\bunion"# + sp + "+((all|distinct)" + sp + "+)?[(]*select\\b", tags: sqli),
            try re("100102", "SQL tautology after a quote", args, decode,
                   #"['"`][[:space:]]*\)*[[:space:]]*(or|and|\|\||&&)[[:space:]]+['"(]*[[:alnum:]_]+['")]*[[:space:]]*(=|<>|!=|<=|>=|like[[:space:]]+['"%])"#,
                   tags: sqli),
            try re("100103", "SQL numeric tautology", args, decode,
                   #"\b(or|and)[[:space:]]+([0-9]+)[[:space:]]*(=|<>|!=)[[:space:]]*[0-9]+\b"#, tags: sqli),
            try re("100104", "SQL comment after a quote", args, decode,
                   #"['"`][[:space:]]*\)*[[:space:]]*;?[[:space:]]*(--|#|/\*)"#, score: 3, tags: sqli),
            try re("100105", "SQL time-based probe", args, decode,
                   #"\b(pg_)?sleep[[:space:]]*\([[:space:]]*[0-9.]+[[:space:]]*\)|\bbenchmark[[:space:]]*\([[:space:]]*[0-9]+[[:space:]]*,|\bwaitfor[[:space:]]+delay[[:space:]]+'"#,
                   tags: sqli),
            try re("100106", "SQL stacked query", args, decode,
                   #";[[:space:]]*(drop[[:space:]]+(table|database)[[:space:]]+[[:alnum:]_.`"]+|delete[[:space:]]+from[[:space:]]+[[:alnum:]_.`"]+[[:space:]]*(where\b|;|--|$)|insert[[:space:]]+into[[:space:]]+[[:alnum:]_.`"]+[[:space:]]*(\(|values\b|select\b)|update[[:space:]]+[[:alnum:]_.`"]+[[:space:]]+set[[:space:]]+[[:alnum:]_.`"]+[[:space:]]*=|truncate[[:space:]]+table\b|shutdown[[:space:]]*(--|;|$)|exec(ute)?[[:space:]]+(xp_|sp_))"#,
                   tags: sqli),
            try re("100107", "SQL schema probing", args, decode,
                   #"\binformation_schema\b|\bsys(objects|columns)\b|\bmysql\.user\b|\bpg_catalog\b|\bsqlite_master\b"#,
                   tags: sqli),
            try re("100108", "SQL SELECT … FROM", args, decode,
                   #"\bselect\b.+\bfrom\b"#, score: 3, paranoia: 2, tags: sqli),
            try re("100109", "SQL function call", args, decode,
                   #"\b(concat|char|load_file|group_concat|extractvalue|updatexml|convert|cast)[[:space:]]*\("#,
                   score: 3, paranoia: 2, tags: sqli),
            try re("100110", "Quote or statement separator in a parameter", args, decode,
                   #"['";]"#, score: 2, paranoia: 3, tags: sqli),
            // Cross-site scripting
            try re("100201", "XSS script tag", args + [.path], decode,
                   #"<[[:space:]]*/?[[:space:]]*script\b"#, tags: xss),
            try re("100202", "XSS event handler attribute", args + [.path], decode,
                   #"<[^>]*[[:space:]/"']on[a-z]+[[:space:]]*="#, tags: xss),
            try re("100203", "XSS script URI scheme", args, decode,
                   #"\b(javascript|vbscript|livescript)[[:space:]]*:"#, score: 4, tags: xss),
            try re("100204", "XSS DOM access or script call", args, decode,
                   #"document\.(cookie|domain|write)|window\.location|\beval[[:space:]]*\(|\balert[[:space:]]*\(|fromcharcode[[:space:]]*\("#,
                   score: 4, tags: xss),
            try re("100205", "XSS dangerous HTML element", args, decode,
                   #"<[[:space:]]*(iframe|object|embed|svg|img|body|math|base|form|meta|link|style|video|audio)\b"#,
                   score: 3, tags: xss),
            try re("100206", "HTML tag in a parameter", args, decode,
                   #"<[[:space:]]*[a-z!/?]"#, score: 3, paranoia: 2, tags: xss),
            // Path traversal and restricted files
            try re("100301", "Path traversal (../)", [.path, .query, .body], pathDecode,
                   #"(^|[/=:'"])\.\.(/|$)"#, tags: lfi),
            try re("100302", "Restricted file access", [.path, .query, .body], pathDecode,
                   #"/etc/(passwd|shadow|group|hosts)\b|/proc/self/|\b(win|boot|system)\.ini\b|c:/windows/|\.ht(access|passwd)\b|/\.git/|/\.env\b|\bweb\.config\b"#,
                   tags: lfi),
            WAFRule(id: "100303", description: "Encoded NUL byte", targets: [.path, .query],
                    op: .contains(Array("%00".utf8)), score: 5, tags: lfi + ["paranoia-level/1"]),
            // Command injection
            // A command after a shell separator, followed by what commands take (an option, a
            // path, a variable, a quote) or by the end: "; cat /etc/hosts", "|whoami", "$(id)";
            // not prose like "…; cat food" or "ls is".
            try re("100401", "Shell command after a separator", args, decode,
                   #"(;|\||&&|`|\$\()[[:space:]]*(cat|ls|id|whoami|uname|bash|sh|zsh|python[0-9.]*|perl|php|ruby|chmod|rm|powershell|cmd)([[:space:]]+[-/$~.'"]|[[:space:]]*($|[;|&<>`)]))"#,
                   tags: rce),
            try re("100406", "Network command after a separator", args, decode,
                   #"(;|\||&&|`|\$\()[[:space:]]*(wget|curl|nc|ncat|netcat|ping|nslookup|telnet)[[:space:]]+[^[:space:]]*[./:-]"#,
                   tags: rce),
            try re("100402", "Shell command substitution", args, decode,
                   #"\$\([^)]*\)"#, score: 4, tags: rce),
            try re("100403", "Shell path or IFS evasion", args, decode,
                   #"\$\{?IFS\b|/bin/(ba|z|da|k)?sh\b|/usr/bin/(env|perl|python[0-9.]*)\b"#, tags: rce),
            try re("100404", "JNDI lookup (Log4Shell)", args + [.headers, .path], decode,
                   #"\$\{[^}]*j[^}]*n[^}]*d[^}]*i[^}]*:"#, tags: rce),
            try re("100405", "Backtick command substitution", args, decode,
                   #"`[^`]+`"#, score: 3, paranoia: 2, tags: rce),
            // Scanners
            try re("100501", "Security scanner user agent", [.header("user-agent")], [],
                   #"sqlmap|nikto|nmap|masscan|nuclei|acunetix|wpscan|dirbuster|gobuster|feroxbuster|w3af|zgrab|havij|nessus|openvas|whatweb|arachni|jaeles|zmeu|commix"#,
                   tags: scanner),
            WAFRule(id: "100502", description: "Empty user agent", targets: [.header("user-agent")],
                    op: .lengthBelow(1), score: 2, paranoia: 2, tags: scanner + ["paranoia-level/2"]),
            // Protocol sizes and methods
            try re("100601", "Debugging method", [.method], [], #"^(TRACE|TRACK|DEBUG)$"#, tags: proto),
            WAFRule(id: "100602", description: "Path longer than 2048 bytes", targets: [.path],
                    op: .lengthAbove(2048), score: 3, tags: proto + ["paranoia-level/1"]),
            WAFRule(id: "100603", description: "Query longer than 4096 bytes", targets: [.query],
                    op: .lengthAbove(4096), score: 3, paranoia: 2, tags: proto + ["paranoia-level/2"]),
            WAFRule(id: "100604", description: "Header value longer than 4096 bytes", targets: [.headers],
                    op: .lengthAbove(4096), score: 3, paranoia: 2, tags: proto + ["paranoia-level/2"]),
        ]
    }
}
