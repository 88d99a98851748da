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
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .systemLibrary(
            name: "CRocksDB",
            pkgConfig: "rocksdb",
            providers: [.apt(["librocksdb-dev", "libsnappy-dev"])]
        ),
        .target(
            name: "ChatFlowStorage",
            dependencies: ["CRocksDB"]
        ),
        .target(
            name: "ChatFlowCore",
            dependencies: [
                "ChatFlowStorage",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "ChatFlowCLI",
            dependencies: [
                "ChatFlowCore",
                "ChatFlowStorage",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        .testTarget(name: "ChatFlowStorageTests", dependencies: ["ChatFlowStorage"]),
        .testTarget(name: "ChatFlowCoreTests", dependencies: ["ChatFlowCore", "ChatFlowStorage"]),
        .testTarget(name: "ChatFlowCLITests", dependencies: ["ChatFlowCore", "ChatFlowStorage"]),
        .executableTarget(
            name: "ChatFlowBenchmarks",
            dependencies: [
                "ChatFlowCore",
                "ChatFlowStorage",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/ChatFlowBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
