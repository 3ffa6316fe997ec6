// swift-tools-version: 6.0
// Examples of fmctl used as a library: a separate package that depends on fmctl's package by
// path and uses only its public API, the way another project would. `make examples` (part of
// `make test`) builds and runs both, so a change that breaks the public API breaks CI.
//
//     swift run --package-path Examples --scratch-path Examples/.build -c release train-own-model --limit 3000
//     swift run --package-path Examples --scratch-path Examples/.build -c release measure-footprint
import PackageDescription

let package = Package(
    name: "fmctl-examples",
    dependencies: [
        .package(name: "fmctl", path: ".."),
    ],
    targets: [
        // Defines a CNN in code, trains it with per-epoch hooks and energy windows,
        // evaluates it, and round-trips it through a checkpoint.
        .executableTarget(
            name: "train-own-model",
            dependencies: [
                .product(name: "Models", package: "fmctl"),
                .product(name: "Footprint", package: "fmctl"),
            ],
            path: "train-own-model"
        ),
        // Measures its own code with nested energy windows.
        .executableTarget(
            name: "measure-footprint",
            dependencies: [.product(name: "Footprint", package: "fmctl")],
            path: "measure-footprint"
        ),
    ]
)
