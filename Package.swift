// swift-tools-version: 6.0
import PackageDescription

let package = Package(
  name: "rnnconf",
  platforms: [.macOS(.v13)],
  // MARK: - Public products
  products: [
    .library(name: "HDF5", targets: ["HDF5"]),
    .library(name: "RNNRef", targets: ["RNNRef"]),
    .library(name: "Conformance", targets: ["Conformance"]),
    .library(name: "KerasImport", targets: ["KerasImport"]),
    .library(name: "Conversion", targets: ["Conversion"]),
    .executable(name: "rnnconf", targets: ["rnnconf"]),
    .executable(name: "rnnconf-bench", targets: ["rnnconf-bench"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1"),
    .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
    // `swift package generate-documentation --target KerasImport` (and RNNRef, Conformance).
    .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    // Test-only: ConformanceTests parses the CI kit (ci/*.yml).
    .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
  ],
  targets: [
    // MARK: - Implementation details
    .systemLibrary(
      name: "CHDF5",
      pkgConfig: "hdf5",
      providers: [.apt(["libhdf5-dev"]), .brew(["hdf5"])]
    ),
    .target(name: "HDF5", dependencies: ["CHDF5"]),
    // GEMM micro-kernels per instruction set (portable, AVX2+FMA, AVX-512F), each compiled with a
    // per-function target attribute and chosen at run time by CPU feature detection: no flags.
    .target(name: "CRNNKernels"),
    .target(
      name: "RNNRef",
      dependencies: ["CRNNKernels", .product(name: "RealModule", package: "swift-numerics")]
    ),
    .target(
      name: "Conformance",
      dependencies: ["HDF5", "RNNRef", "KerasImport", .product(name: "ZIPFoundation", package: "ZIPFoundation")]
    ),
    .target(
      name: "KerasImport",
      dependencies: ["HDF5", "RNNRef", .product(name: "ZIPFoundation", package: "ZIPFoundation")]
    ),
    // `rnnconf convert`: a source into the canonical form and out as another framework's files.
    .target(
      name: "Conversion",
      dependencies: ["HDF5", "RNNRef", "Conformance", "KerasImport", .product(name: "ZIPFoundation", package: "ZIPFoundation")]
    ),
    .executableTarget(
      name: "rnnconf",
      dependencies: [
        "HDF5", "RNNRef", "Conformance", "KerasImport", "Conversion",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),
    .executableTarget(name: "rnnconf-bench", dependencies: ["RNNRef", "_TestSupport"]),
    // Seeded generator and random cells shared by the tests and the benchmark (not a product).
    .target(name: "_TestSupport", dependencies: ["RNNRef"]),
    // GFLOP/s of SwiftMatmul, the C kernels and (loaded at run time if present) OpenBLAS.
    .executableTarget(name: "rnnconf-gemm-bench", dependencies: ["RNNRef"]),
    // The README's Swift example, verbatim (KerasImportTests.ExampleTests checks and runs it).
    .executableTarget(name: "rnnconf-example", dependencies: ["KerasImport"], path: "Examples/rnnconf-example"),

    // MARK: - Tests
    .testTarget(name: "HDF5Tests", dependencies: ["HDF5"], exclude: ["Data"]),
    .testTarget(name: "RNNRefTests", dependencies: ["RNNRef", "_TestSupport"]),
    .testTarget(
      name: "ConformanceTests",
      dependencies: ["Conformance", "HDF5", "RNNRef", .product(name: "Yams", package: "Yams")],
      exclude: ["JUnitSchema", "Snapshots", "Data"]
    ),
    .testTarget(
      name: "ConversionTests",
      dependencies: ["Conversion", "Conformance", "KerasImport", "HDF5", "RNNRef", "_TestSupport"]
    ),
    .testTarget(
      name: "KerasImportTests",
      dependencies: ["KerasImport", "HDF5", "RNNRef", "Conformance", "_TestSupport", .product(name: "ZIPFoundation", package: "ZIPFoundation")],
      exclude: ["Data"]
    ),
  ]
)
