// swift-tools-version:6.0
import PackageDescription

/// Hot-path modules drop dynamic exclusivity checks in release builds (a measurable cost per
/// request on the proxy path; the code keeps its exclusivity discipline, checked in debug).
let hotPath: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "sentinel",
    products: [
        .library(name: "KDL", targets: ["KDL"]),
        .library(name: "SentinelConfig", targets: ["SentinelConfig"]),
        .library(name: "SentinelPolicy", targets: ["SentinelPolicy"]),
        .library(name: "SentinelProxy", targets: ["SentinelProxy"]),
        .library(name: "SentinelHTTP1", targets: ["SentinelHTTP1"]),
        .library(name: "SentinelTLS", targets: ["SentinelTLS"]),
        .library(name: "SentinelReactor", targets: ["SentinelReactor"]),
        .library(name: "SentinelAgentProtocol", targets: ["SentinelAgentProtocol"]),
        .library(name: "SentinelRateLimit", targets: ["SentinelRateLimit"]),
        .executable(name: "sentinel", targets: ["sentinel"]),
        .executable(name: "sentinel-stack", targets: ["sentinel-stack"]),
        .executable(name: "sentinel-guard", targets: ["sentinel-guard"]),
        .library(name: "SentinelAgentSDK", targets: ["SentinelAgentSDK"]),
        .executable(name: "sentinel-agent-echo", targets: ["sentinel-agent-echo"]),
        .executable(name: "sentinel-agent-auth", targets: ["sentinel-agent-auth"]),
        .executable(name: "sentinel-agent-waf", targets: ["sentinel-agent-waf"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // HTTP/2 for gRPC health checks (h2c with prior knowledge); only SentinelProxy uses it.
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
        // The logging API of lifecycle and health events (JSON handler: SentinelObservability).
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // Foundation-free formats every layer shares: civil dates from Unix seconds, JSON string
        // escaping. stdlib only and no dependencies, so SentinelTLS and SentinelConfig can use it too.
        .target(name: "SentinelFormat", swiftSettings: strict + hotPath),
        // KDL 2 text -> document with source locations; canonical printer. No dependencies.
        .target(name: "KDL", swiftSettings: strict),
        // KDL document -> typed, validated, immutable Sentinel configuration.
        .target(name: "SentinelConfig", dependencies: ["KDL", "SentinelFormat"], swiftSettings: strict),
        // Pure request policy (route matching). No NIO, no Foundation: testable and reusable anywhere.
        .target(name: "SentinelPolicy", swiftSettings: strict + hotPath),
        // Strict HTTP/1.1 head parsers and chunked decoder on raw bytes (offsets, no copies).
        // No NIO, no Foundation: fuzzable with plain swiftc.
        .target(name: "SentinelHTTP1", swiftSettings: strict + hotPath),
        // The system OpenSSL 3 (libssl-dev): only SentinelTLS and its C shim import it.
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        // OpenSSL's macro APIs (and OSSL_PARAM plumbing) as plain C functions Swift can call.
        // Its public header declares opaque struct pointers only, so no OpenSSL or libc header
        // is owned by two modules.
        .target(name: "CSentinelTLS", dependencies: ["COpenSSL"]),
        // Sans-I/O TLS on OpenSSL: TLSEngine (one SSL* per connection), TLSContextSet (one SSL_CTX
        // per certificate, SNI), TicketKeyRing, certificate loading and checks. All of Sentinel's C
        // and pointer handling for TLS lives here. stdlib + Glibc only (no NIO, no Foundation).
        .target(name: "SentinelTLS", dependencies: ["COpenSSL", "CSentinelTLS", "SentinelFormat"], swiftSettings: strict),
        // Agent protocol v2: frames (u32 length, type byte, JSON payload), the incremental frame
        // decoder, and every message as Codable with the wire's names. No NIO; FoundationEssentials
        // for JSON only. Shared by the proxy's agent client and the agent SDK.
        .target(name: "SentinelAgentProtocol", swiftSettings: strict),
        // The WAF agent's rule engine: ordered rules, transforms, anomaly scoring, paranoia levels,
        // exclusions, the starter rule set and its JSON settings. Pure (glibc regex only): no sockets.
        .target(name: "SentinelWAF", swiftSettings: strict),
        // The auth agent's checks: JWT (HS256, RS256, ES256; PEM or JWKS keys; exp/nbf with leeway,
        // issuer, audience) and API keys, on the system OpenSSL. Pure: no sockets.
        .target(name: "SentinelAuth", dependencies: ["COpenSSL"], swiftSettings: strict),
        // Parse-speed and allocation benchmark for SentinelHTTP1 (run with -c release).
        .executableTarget(
            name: "sentinel-h1-bench",
            dependencies: ["SentinelHTTP1", "CAllocationCounter"],
            path: "Benchmarks/http1-parse"
        ),
        // Handshake CPU and allocations of the SentinelTLS engine, and record throughput (run with -c release).
        .executableTarget(
            name: "sentinel-tls-bench",
            dependencies: ["SentinelTLS", "CAllocationCounter"],
            path: "Benchmarks/tls-handshake"
        ),
        // Counts malloc calls by interposing malloc in the process that links it (benchmarks only).
        .target(name: "CAllocationCounter", path: "Benchmarks/CAllocationCounter"),
        // What every process reports about itself: process_* metrics, reload gauges, and the JSON
        // log handler of lifecycle and health events.
        .target(
            name: "SentinelObservability",
            dependencies: ["SentinelFormat", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // The system zlib (zlib1g-dev), with its init macros as plain functions.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // Response compression and guarded decompression on zlib, pure (no NIO, no Foundation):
        // Accept-Encoding q-values, the compress-or-not decision, a streaming Deflater, InflateGuard.
        .target(name: "SentinelCompression", dependencies: ["CZlib"], swiftSettings: strict + hotPath),
        // libmaxminddb (libmaxminddb-dev) behind an opaque C shim: open, country lookup, close.
        // Its header declares no system types, so importing it owns no libc header (FINDINGS.md).
        .target(name: "CMaxMindDB", linkerSettings: [.linkedLibrary("maxminddb")]),
        // HTTP/1.1 data plane: listeners, connection lifecycle, builtin handlers, metrics.
        .target(
            name: "SentinelProxy",
            dependencies: [
                "CMaxMindDB",
                "SentinelPolicy",
                "SentinelObservability",
                "SentinelFormat",
                .product(name: "Logging", package: "swift-log"),
                "SentinelHTTP1",
                "SentinelTLS",
                "SentinelAgentProtocol",
                "SentinelRateLimit",
                "SentinelReactor",
                "SentinelCompression",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
            ],
            swiftSettings: strict + hotPath
        ),
        // Test helpers shared by the test targets: scripted upstreams, raw HTTP clients, the proxy
        // harness, process runners, script-made fixtures.
        .target(
            name: "SentinelTestSupport",
            dependencies: [
                "SentinelProxy",
                // The scriptable fake agent speaks the agent protocol over a Unix socket.
                "SentinelAgentProtocol",
                // Configuration text → snapshot, for tests that start from configuration.
                "SentinelRuntime",
                "SentinelConfig",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // Configuration -> data-plane snapshot, shared by `sentinel` and the worker role of `sentinel-stack`.
        .target(
            name: "SentinelRuntime",
            dependencies: ["SentinelConfig", "SentinelPolicy", "SentinelProxy", "SentinelHTTP1", "SentinelTLS", "SentinelRateLimit"],
            swiftSettings: strict
        ),
        // The only C of the process model and the reactor: posix_spawn close-from and memfd (GNU
        // extensions); epoll, eventfd, accept4 and MSG_NOSIGNAL sends for SentinelReactor.
        .target(name: "CSentinelLinux"),
        // The data path's own event loop (issue 13): one epoll reactor per thread, sans-I/O
        // connection drivers, a timer wheel, a mailbox for control messages. No NIO, no Foundation.
        .target(name: "SentinelReactor", dependencies: ["CSentinelLinux"], swiftSettings: strict + hotPath),
        // Reactor responder/proxy for wrk, and timer micro-benchmarks (run with -c release; not installed).
        .executableTarget(name: "reactor-bench", dependencies: ["SentinelReactor"], path: "Benchmarks/reactor",
            exclude: ["respond-vs-nginx.sh"]),
        // Atomics on shared memory, the monotonic clock and memfd for SentinelRateLimit.
        .target(name: "CSentinelRateLimit"),
        // Rate limiting without NIO: the token bucket (pure), the bounded key table in memory
        // workers share, SipHash keys, the verdict and its headers; the RESP codec of the Redis backend.
        .target(name: "SentinelRateLimit", dependencies: ["CSentinelRateLimit"], swiftSettings: strict + hotPath),
        // Shared-table and HTTP rate-limit measurements (docs/benchmarks.md; run with -c release).
        .executableTarget(name: "sentinel-ratelimit-bench", dependencies: ["SentinelRateLimit", "CSentinelRateLimit"],
            path: "Benchmarks/ratelimit", exclude: ["measure-stack.sh", "measure-redis.sh"]),
        // libsystemd's sd_notify for Type=notify (READY=1, RELOADING=1, STOPPING=1, STATUS=).
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        // The orphan guard in C with libc only (docs/stack.md): the `sentinel-guard` process costs
        // about 1 MiB of RSS where a Swift process costs 20; `sentinel-stack guard` runs the same
        // code when no `sentinel-guard` is installed beside `sentinel-stack`.
        .target(name: "CSentinelGuard"),
        .executableTarget(name: "sentinel-guard", dependencies: ["CSentinelGuard"]),
        // Master process: listener table, worker generations, signals, control socket, systemd.
        // Never imports the data plane; the `sentinel-stack` executable joins the two.
        .target(
            name: "SentinelMaster",
            dependencies: [
                "SentinelConfig", "SentinelObservability", "CSentinelLinux", "CSentinelGuard", "CSystemd", "SentinelRateLimit",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "sentinel",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                "SentinelConfig",
                "SentinelObservability",
                "SentinelPolicy",
                "SentinelProxy",
                "SentinelRuntime",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "sentinel-stack",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                "SentinelConfig",
                "SentinelObservability",
                "SentinelMaster",
                "SentinelProxy",
                "SentinelRuntime",
                "SentinelTLS",
                "SentinelRateLimit",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        // The Swift agent SDK (issue 14): the handler protocol, the Unix-socket server (handshake,
        // concurrent events per connection, Ping/Pong, Cancel, Configure), decision and header-op
        // builders, and the test kit (FakeProxy, AgentTestHarness). Messages: SentinelAgentProtocol.
        .target(
            name: "SentinelAgentSDK",
            dependencies: [
                "SentinelAgentProtocol",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // The shipped agents' handlers (echo, auth, WAF), testable in-process with the SDK's test kit.
        .target(
            name: "SentinelBundledAgents",
            dependencies: ["SentinelAgentSDK", "SentinelAgentProtocol", "SentinelAuth", "SentinelWAF", "SentinelObservability",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "sentinel-agent-echo",
            dependencies: ["SentinelBundledAgents", "SentinelAgentSDK", "SentinelObservability",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "sentinel-agent-auth",
            dependencies: ["SentinelBundledAgents", "SentinelAgentSDK", "SentinelAuth", "SentinelObservability",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "sentinel-agent-waf",
            dependencies: ["SentinelBundledAgents", "SentinelAgentSDK", "SentinelWAF", "SentinelObservability",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict
        ),
        // Round trips through the SDK's server (allow-all and WAF handlers; run with -c release; not installed).
        .executableTarget(
            name: "agent-roundtrip",
            dependencies: ["SentinelAgentSDK", "SentinelAgentProtocol", "SentinelBundledAgents", "SentinelWAF"],
            path: "Benchmarks/agent-roundtrip"
        ),
        .testTarget(name: "SentinelAgentSDKTests", dependencies: ["SentinelAgentSDK", "SentinelAgentProtocol"]),
        .testTarget(
            name: "SentinelBundledAgentsTests",
            dependencies: ["SentinelBundledAgents", "SentinelAgentSDK", "SentinelAgentProtocol", "SentinelAuth", "SentinelWAF",
                           // The example configuration's agent blocks, converted as the proxy converts them.
                           "KDL", "SentinelConfig", "SentinelTestSupport"]
        ),
        // Fuzz/ holds regression inputs found by fuzzing, read by KDLFuzzRegressionTests via #filePath;
        // Conformance/ the official KDL 2 suite, read by KDLConformanceTests via #filePath.
        .testTarget(name: "KDLTests", dependencies: ["KDL"], exclude: ["Fuzz", "Conformance"]),
        .testTarget(name: "SentinelConfigTests", dependencies: ["SentinelConfig", "KDL"]),
        // Runs the built executables as child processes.
        .testTarget(name: "CLITests", dependencies: [
            "sentinel", "sentinel-stack", "SentinelTestSupport",
            // ShippedAgentsEndToEndTests runs the built agents behind a sentinel child process.
            "sentinel-agent-echo", "sentinel-agent-auth", "sentinel-agent-waf",
        ]),
        // Master state machine (pure) and the `sentinel-stack` binaries run as child processes.
        .testTarget(
            name: "StackTests",
            dependencies: [
                "SentinelMaster", "SentinelConfig", "SentinelObservability", "sentinel-stack", "SentinelTestSupport",
                // The orphan guard's parser and rules (GuardTests); its process (GuardProcessTests).
                "CSentinelGuard", "sentinel-guard",
                .product(name: "Logging", package: "swift-log"),
                // The shipped agents run under the stack and are probed with the SDK's fake proxy.
                "SentinelAgentSDK", "SentinelAgentProtocol", "sentinel-agent-echo", "sentinel-agent-auth", "sentinel-agent-waf",
            ],
            // sd-ns.sh: the systemd-in-namespaces launcher SystemdUnitTests runs.
            exclude: ["systemd"]),
        .testTarget(name: "SentinelPolicyTests", dependencies: ["SentinelPolicy"]),
        // The shared table across child processes runs sentinel-ratelimit-bench.
        .testTarget(name: "SentinelRateLimitTests", dependencies: ["SentinelRateLimit", "SentinelTestSupport", "sentinel-ratelimit-bench"]),
        .testTarget(name: "SentinelFormatTests", dependencies: ["SentinelFormat"]),
        // q-values, the compress-or-not table, Deflater round trips through zlib, zip bombs.
        .testTarget(name: "SentinelCompressionTests", dependencies: ["SentinelCompression", "CZlib"]),
        // Frames and messages against byte-exact fixtures; hostile lengths and random bytes.
        .testTarget(name: "SentinelAgentProtocolTests", dependencies: ["SentinelAgentProtocol"]),
        .testTarget(name: "SentinelWAFTests", dependencies: ["SentinelWAF"]),
        // Keys and signatures made at run time with the openssl command line.
        .testTarget(name: "SentinelAuthTests", dependencies: ["SentinelAuth", "SentinelTestSupport"]),
        // Configuration → running system: every key of the schema either reaches the snapshot
        // (or a process role) or is refused by the feature gate; limits end to end.
        .testTarget(
            name: "SentinelRuntimeTests",
            dependencies: ["SentinelRuntime", "SentinelConfig", "SentinelProxy", "SentinelPolicy", "SentinelMaster", "KDL", "SentinelTestSupport"]
        ),
        // The JSON log handler (pure: lines to a closure) and process metrics.
        .testTarget(
            name: "SentinelObservabilityTests",
            dependencies: ["SentinelObservability", .product(name: "Logging", package: "swift-log")]),
        // glibc heap statistics for growth tests (malloc.h is not in the Glibc module).
        .target(name: "CHeapUsage", path: "Tests/CHeapUsage"),
        // NIO only for the differential test against llhttp (NIOHTTP1's HTTPRequestDecoder).
        .testTarget(
            name: "SentinelHTTP1Tests",
            dependencies: [
                "SentinelHTTP1",
                "CHeapUsage",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        // The reactor with real sockets on 127.0.0.1 (and TLS through TLSEngine under a driver).
        .testTarget(name: "SentinelReactorTests", dependencies: ["SentinelReactor", "SentinelTLS", "SentinelTestSupport"]),
        // Engine pairs in memory, openssl s_client over loopback; certificates made at run time.
        .testTarget(name: "SentinelTLSTests", dependencies: ["SentinelTLS", "SentinelTestSupport"]),
        .testTarget(
            name: "SentinelProxyTests",
            dependencies: [
                "SentinelProxy",
                "SentinelObservability",
                "SentinelFormat",
                "SentinelTestSupport",
                // Compressed responses decoded through the guarded inflater (deflate).
                "SentinelCompression",
                // Configuration text → snapshot → wire, for settings tested end to end.
                "SentinelRuntime",
                "SentinelConfig",
                "SentinelHTTP1",
                // HTTPS listener tests build ticket-key rings.
                "SentinelTLS",
                .product(name: "NIOEmbedded", package: "swift-nio"),
                "SentinelPolicy",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                // The scripted gRPC health server of the grpc health-check tests.
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
            ]
        ),
    ]
)
