// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "fmctl",
    products: [
        // MARK: - Public API
        .library(name: "Tensor", targets: ["Tensor"]),
        .library(name: "Models", targets: ["Models"]),
        .library(name: "Footprint", targets: ["Footprint"]),
        .library(name: "Projection", targets: ["Projection"]),
        .executable(name: "fmctl", targets: ["fmctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // MARK: - Implementation details
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]
        ),
        .systemLibrary(
            name: "CZlib",
            providers: [.apt(["zlib1g-dev"])]
        ),

        // MARK: - Modules
        .target(name: "Tensor", dependencies: ["CBLAS", "CTensorKernels"]),
        .target(name: "CTensorKernels"),
        .target(name: "Models", dependencies: ["Tensor", "CZlib"]),
        .target(name: "Footprint", resources: [.copy("Resources")]),
        .target(name: "Projection", dependencies: ["Footprint"], resources: [.copy("Resources")]),
        .executableTarget(
            name: "fmctl",
            dependencies: [
                "Models", "Footprint", "Projection", "Tensor",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // MARK: - Benchmarks (`make bench`)
        .target(name: "CSGEMMBench", dependencies: ["CBLAS"]),
        .executableTarget(name: "fmctl-bench", dependencies: ["Tensor", "Models", "CSGEMMBench"]),

        // MARK: - Tests
        .testTarget(name: "TensorTests", dependencies: ["Tensor", "CTensorKernels"]),
        .testTarget(name: "ModelsTests", dependencies: ["Models"]),
        .testTarget(name: "FootprintTests", dependencies: ["Footprint"]),
        .testTarget(name: "ProjectionTests", dependencies: ["Projection", "Footprint"]),
        .testTarget(name: "EndToEndTests", dependencies: ["fmctl", "Models"]),
    ]
)
