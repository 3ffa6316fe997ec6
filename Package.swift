// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "fmctl",
    products: [
        // MARK: - Public API
        .library(name: "Tensor", targets: ["Tensor"]),
        .library(name: "Models", targets: ["Models"]),
        .library(name: "Footprint", targets: ["Footprint"]),
        .library(name: "RunRecords", targets: ["RunRecords"]),
        .library(name: "Reports", targets: ["Reports"]),
        .library(name: "Projection", targets: ["Projection"]),
        .library(name: "DataParallel", targets: ["DataParallel"]),
        .library(name: "MetricsExport", targets: ["MetricsExport"]),
        .library(name: "Compression", targets: ["Compression"]),
        .executable(name: "fmctl", targets: ["fmctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // MARK: - Implementation details
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]
        ),
        .systemLibrary(
            name: "CMPI",
            pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev"])]
        ),
        // oneDNN's int8 GEMM (Debian libdnnl-dev; no pkg-config file), one candidate of the
        // int8 layers' measured kernel choice (docs/compress.md).
        .systemLibrary(
            name: "CDNNL",
            providers: [.apt(["libdnnl-dev"])]
        ),
        .systemLibrary(
            name: "CZlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // The one atomic file writer, CSV and JSON text helpers, shared by Models and the footprint modules.
        .target(name: "FMSupport"),

        // MARK: - Modules
        .target(name: "Tensor", dependencies: ["CBLAS", "CTensorKernels", "CDNNL"]),
        .target(name: "CTensorKernels"),
        .target(name: "Models", dependencies: ["Tensor", "CZlib", "FMSupport"]),
        // Cheaper models: pruning, int8 quantisation, low-rank factorisation (docs/compress.md).
        .target(name: "Compression", dependencies: ["Models", "Tensor"]),
        // Measuring and carbon arithmetic; run records and folders; their rendering.
        .target(name: "Footprint", dependencies: ["FMSupport"], resources: [.copy("Resources")]),
        .target(name: "RunRecords", dependencies: ["Footprint", "FMSupport"]),
        .target(name: "Reports", dependencies: ["RunRecords", "Footprint", "FMSupport"]),
        // Data-parallel training over MPI: the world and its hosts, the gradient all-reduce.
        .target(name: "DataParallel", dependencies: ["CMPI", "Models"]),
        // The price of a workload at scale, from a catalogue of accelerators.
        .target(name: "Projection", dependencies: ["Footprint", "Reports", "FMSupport"], resources: [.copy("Resources")]),
        // A run's figures as Prometheus metrics, to a textfile and a Pushgateway.
        .target(name: "MetricsExport", dependencies: [
            "RunRecords", "Footprint", "FMSupport", .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        .executableTarget(
            name: "fmctl",
            dependencies: [
                "Models", "DataParallel", "Footprint", "RunRecords", "Reports", "Projection", "Tensor", "FMSupport", "MetricsExport",
                "Compression", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // MARK: - Benchmarks (`make bench`)
        .target(name: "CSGEMMBench", dependencies: ["CBLAS"]),
        .executableTarget(name: "fmctl-bench", dependencies: ["Tensor", "Models", "CSGEMMBench"]),

        // MARK: - Tests
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "TensorTests", dependencies: ["Tensor", "CTensorKernels", "TestSupport"]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "CTensorKernels", "TestSupport"]),
        .testTarget(name: "CompressionTests", dependencies: ["Compression", "Models", "Tensor", "CTensorKernels", "TestSupport"]),
        .testTarget(name: "FootprintTests", dependencies: ["Footprint", "RunRecords", "Reports", "FMSupport", "TestSupport"]),
        .testTarget(name: "FMSupportTests", dependencies: ["FMSupport", "TestSupport"]),
        .testTarget(name: "ProjectionTests", dependencies: ["Projection", "Footprint", "TestSupport"]),
        .testTarget(name: "MetricsExportTests", dependencies: ["MetricsExport", "RunRecords", "Footprint", "TestSupport"]),
        .testTarget(name: "EndToEndTests", dependencies: ["fmctl", "Models", "TestSupport"]),
    ]
)
