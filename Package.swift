// swift-tools-version:6.0
import PackageDescription

// LLVM 19 from Debian's llvm-19-dev: headers and libLLVM-19 live under this prefix.
let llvmPrefix = "/usr/lib/llvm-19"

let package = Package(
  name: "ssmc",
  products: [
    .executable(name: "ssmc", targets: ["ssmc"]),
    .library(name: "SSMCRuntime", targets: ["SSMCRuntime"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
  ],
  targets: [
    // The IR: builds and tests with nothing but the standard library.
    .target(name: "SSMCIR"),
    // protoc-c output for onnx.proto (regenerate with tools/gen-onnx-proto.sh).
    .target(
      name: "ONNXProto",
      linkerSettings: [.linkedLibrary("protobuf-c")]),
    .target(name: "SSMCFrontend", dependencies: ["SSMCIR", "ONNXProto"]),
    .target(name: "SSMCPasses", dependencies: ["SSMCIR"]),
    // Tensor files (.npy) and output comparison for `ssmc run` and `ssmc check`.
    .target(name: "SSMCTensorIO", dependencies: ["SSMCFrontend"]),
    // LLVM's C API; a shim header gathers the llvm-c headers we use.
    .target(
      name: "CLLVM",
      cSettings: [.unsafeFlags(["-I\(llvmPrefix)/include"])],
      linkerSettings: [
        .unsafeFlags(["-L\(llvmPrefix)/lib", "-Xlinker", "-rpath", "-Xlinker", "\(llvmPrefix)/lib"]),
        .linkedLibrary("LLVM-19"),
      ]),
    .target(
      name: "SSMCCodegen",
      dependencies: ["SSMCIR", "CLLVM"],
      swiftSettings: [.unsafeFlags(["-Xcc", "-I\(llvmPrefix)/include"])]),
    // Loads compiled models through dlopen; knows nothing of the compiler.
    .target(name: "SSMCRuntime"),
    .executableTarget(
      name: "ssmc",
      dependencies: [
        "SSMCIR", "SSMCFrontend", "SSMCPasses", "SSMCCodegen", "SSMCRuntime", "SSMCTensorIO",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      swiftSettings: [.unsafeFlags(["-Xcc", "-I\(llvmPrefix)/include"])]),
    // FileCheck-style matcher for text IR tests (STYLE.md section 5); test support, not shipped.
    .target(name: "SSMCCheck"),
    .testTarget(name: "SSMCIRTests", dependencies: ["SSMCIR"]),
    // Fixtures are .onnx files written by tools/make-frontend-fixtures.py; tests find them via #filePath.
    .testTarget(name: "SSMCFrontendTests", dependencies: ["SSMCFrontend"], exclude: ["Fixtures"]),
    // Fixtures are written by tools/make-tensor-fixtures.py.
    .testTarget(name: "SSMCTensorIOTests", dependencies: ["SSMCTensorIO", "SSMCFrontend"], exclude: ["Fixtures"]),
    // Runs the built ssmc executable; Fixtures/affine.c is a hand-written library with the generic C ABI.
    .testTarget(name: "ssmcTests", dependencies: ["ssmc", "SSMCTensorIO", "SSMCFrontend"], exclude: ["Fixtures"]),
    .testTarget(name: "SSMCCheckTests", dependencies: ["SSMCCheck"]),
    // LLVM wrappers, kernel DSL, math functions, C ABI (C and Swift clients), memory plan and workspaces.
    .testTarget(
      name: "SSMCCodegenTests", dependencies: ["SSMCCodegen", "SSMCIR", "SSMCRuntime"], exclude: ["Inputs"],
      swiftSettings: [.unsafeFlags(["-Xcc", "-I\(llvmPrefix)/include"])]),
    .testTarget(
      name: "SSMCPassesTests", dependencies: ["SSMCPasses", "SSMCIR", "SSMCCheck"],
      exclude: ["Inputs"]),
  ]
)
