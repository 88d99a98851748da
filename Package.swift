// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "ChatFlow",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "chatflow", targets: ["ChatFlowCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .systemLibrary(
            name: "CRocksDB",
            pkgConfig: "rocksdb",
            providers: [.apt(["librocksdb-dev", "libsnappy-dev"])]
        ),
        .target(
            name: "CRocksDBLogger",
            dependencies: ["CRocksDB"]
        ),
        .target(
            name: "ChatFlowStorage",
            dependencies: ["CRocksDB", "CRocksDBLogger"]
        ),
        .target(
            name: "ChatFlowCore",
            dependencies: [
                "ChatFlowStorage",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "ChatFlowServer",
            dependencies: [
                "ChatFlowCore",
                "ChatFlowStorage",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("openapi.yaml"), .copy("Web")]
        ),
        .executableTarget(
            name: "ChatFlowCLI",
            dependencies: [
                "ChatFlowCore",
                "ChatFlowServer",
                "ChatFlowStorage",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ]
        ),
        .target(name: "ChatFlowTestSupport", path: "Tests/ChatFlowTestSupport"),
        .testTarget(name: "ChatFlowStorageTests", dependencies: ["ChatFlowStorage", "ChatFlowTestSupport"]),
        .testTarget(
            name: "ChatFlowCoreTests",
            dependencies: ["ChatFlowCore", "ChatFlowStorage", "ChatFlowTestSupport", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "ChatFlowCLITests", dependencies: ["ChatFlowCore", "ChatFlowStorage", "ChatFlowTestSupport"]),
        .testTarget(
            name: "ChatFlowServerTests",
            dependencies: [
                "ChatFlowServer",
                "ChatFlowCore",
                "ChatFlowStorage",
                "ChatFlowTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdWSTesting", package: "hummingbird-websocket"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "ChatFlowBenchmarks",
            dependencies: [
                "ChatFlowCore",
                "ChatFlowServer",
                "ChatFlowStorage",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            path: "Benchmarks/ChatFlowBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    cxxLanguageStandard: .cxx17
)
