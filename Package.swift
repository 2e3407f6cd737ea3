// swift-tools-version:6.0
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "sentinel",
    products: [
        .library(name: "KDL", targets: ["KDL"]),
        .library(name: "SentinelConfig", targets: ["SentinelConfig"]),
        .executable(name: "sentinel", targets: ["sentinel"]),
        .executable(name: "sentinel-stack", targets: ["sentinel-stack"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // KDL 2 text -> document with source locations; canonical printer. No dependencies.
        .target(name: "KDL", swiftSettings: strict),
        // KDL document -> typed, validated, immutable Sentinel configuration.
        .target(name: "SentinelConfig", dependencies: ["KDL"], swiftSettings: strict),
        .executableTarget(
            name: "sentinel",
            dependencies: [
                "SentinelConfig",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "sentinel-stack",
            dependencies: [
                "SentinelConfig",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        // Fuzz/ holds regression inputs found by fuzzing, read by KDLFuzzRegressionTests via #filePath.
        .testTarget(name: "KDLTests", dependencies: ["KDL"], exclude: ["Fuzz"]),
        .testTarget(name: "SentinelConfigTests", dependencies: ["SentinelConfig", "KDL"]),
    ]
)
