// swift-tools-version: 6.0
// libFuzzer harnesses for fmctl's parsers: a separate package that depends on fmctl's package by
// path, so `make test` never builds with the fuzzer. `make fuzz` builds and runs each harness:
//
//     swift build --package-path Fuzz --scratch-path Fuzz/.build -c debug -Xswiftc -sanitize=fuzzer,address
//     Fuzz/.build/debug/fuzz-idx Fuzz/corpus/idx -max_total_time=60
//
// Each harness defines `LLVMFuzzerTestOneInput` and an `@main` that runs libFuzzer's driver
// (see FuzzerDriver.swift for why libFuzzer's own `main` is not used).
import PackageDescription

let package = Package(
    name: "fmctl-fuzz",
    dependencies: [
        .package(name: "fmctl", path: ".."),
    ],
    targets: [
        // MARK: - Harness support
        .systemLibrary(name: "CFuzzerDriver"),
        .target(name: "FuzzerDriver", dependencies: ["CFuzzerDriver"]),

        // MARK: - Harnesses
        // IDX.read(path:) on the input written to a per-process file: raw and gzip IDX.
        .executableTarget(
            name: "fuzz-idx",
            dependencies: ["FuzzerDriver", .product(name: "Models", package: "fmctl")],
            path: "Sources/fuzz-idx"
        ),
        // Safetensors.read(bytes:path:): length prefix, JSON header, data offsets.
        .executableTarget(
            name: "fuzz-safetensors",
            dependencies: ["FuzzerDriver", .product(name: "Models", package: "fmctl")],
            path: "Sources/fuzz-safetensors"
        ),
        // PowercapInventory.discover over a fixed zone tree whose files and links come from the input.
        .executableTarget(
            name: "fuzz-powercap",
            dependencies: ["FuzzerDriver", .product(name: "Footprint", package: "fmctl")],
            path: "Sources/fuzz-powercap"
        ),
        // ModelDescription.parse, then makeModel when it parses.
        .executableTarget(
            name: "fuzz-model-json",
            dependencies: ["FuzzerDriver", .product(name: "Models", package: "fmctl")],
            path: "Sources/fuzz-model-json"
        ),
    ]
)
