// swift-tools-version: 6.0
// libFuzzer targets for rnnconf's readers (issue 11). Not part of the main package's build:
// `bash scripts/fuzz` builds them with -sanitize=fuzzer and runs them.
import PackageDescription

let package = Package(
  name: "rnnconf-fuzz",
  dependencies: [.package(name: "rnnconf", path: "..")],
  targets: [
    // libFuzzer's driver and the input-to-file step, shared by the targets.
    .target(name: "FuzzDriver"),
    .executableTarget(name: "FuzzNPY", dependencies: ["FuzzDriver", .product(name: "KerasImport", package: "rnnconf")]),
    .executableTarget(name: "FuzzCaseLoader", dependencies: ["FuzzDriver", .product(name: "Conformance", package: "rnnconf")]),
    .executableTarget(name: "FuzzKerasConfig", dependencies: ["FuzzDriver", .product(name: "KerasImport", package: "rnnconf")]),
    .executableTarget(name: "FuzzKerasFile", dependencies: ["FuzzDriver", .product(name: "KerasImport", package: "rnnconf"),
                                                            .product(name: "RNNRef", package: "rnnconf")]),
  ]
)
