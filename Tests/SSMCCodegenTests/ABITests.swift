import Glibc
import SSMCRuntime
import Testing
@testable import SSMCCodegen

@Suite struct ABITests {
  /// A C program (the independent client) includes the generated headers of two models, links both
  /// libraries, checks metadata, errors and results against double-precision libm.
  @Test func cProgramRunsTwoModelsAgainstLibm() throws {
    let dir = try TemporaryDirectory()
    try buildModel(expSignature("expmodel", 1000), in: dir.path) { defineExpKernel($0, symbol: "expmodel_kernel", count: 1000) }
    try buildModel(reluCountSignature("relumodel"), in: dir.path) { defineReluCountKernel($0, symbol: "relumodel_kernel") }
    let program = "\(dir.path)/main.c"
    try AtomicFile.write(Array(try testInput("two_models.c").utf8), to: program)
    let executable = "\(dir.path)/main"
    let compile = try run([
      "cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-I", dir.path, program, "-o", executable,
      "-L", dir.path, "-lexpmodel", "-lrelumodel", "-Wl,-rpath,\(dir.path)", "-lm", "-pthread",
    ])
    #expect(compile.status == 0, "\(compile.standardError)")
    let result = try run(["timeout", "120", executable])
    #expect(result.status == 0, "\(result.standardError)")
    #expect(result.standardError.contains("all checks passed"), "\(result.standardError)")
  }

  /// The generated header compiles as C++ (extern "C", no C-only constructs).
  @Test func headerIsCxxSafe() throws {
    let dir = try TemporaryDirectory()
    try AtomicFile.write(Array(HeaderGenerator.header(for: expSignature("m", 3)).utf8), to: "\(dir.path)/m.h")
    try AtomicFile.write(Array("#include \"m.h\"\nint main() { return m_num_inputs() == 1 ? 0 : 1; }\n".utf8), to: "\(dir.path)/t.cc")
    let compile = try run(["c++", "-fsyntax-only", "-Wall", "-Werror", "-I", dir.path, "\(dir.path)/t.cc"])
    #expect(compile.status == 0, "\(compile.standardError)")
  }

  /// The Swift loader opens two models in one process and gets the right numbers from each.
  @Test func swiftLoaderRunsTwoModels() throws {
    let dir = try TemporaryDirectory()
    let expPath = try buildModel(expSignature("swiftexp", 1000), in: dir.path) {
      defineExpKernel($0, symbol: "swiftexp_kernel", count: 1000)
    }
    let reluPath = try buildModel(reluCountSignature("swiftrelu"), in: dir.path) {
      defineReluCountKernel($0, symbol: "swiftrelu_kernel")
    }
    let expModel = try CompiledModel(path: expPath)
    let reluModel = try CompiledModel(path: reluPath)
    #expect(expModel.name == "swiftexp" && reluModel.name == "swiftrelu")
    #expect(expModel.inputs == [TensorInfo(name: "x", elementType: .float32, shape: [1000])])
    #expect(reluModel.outputs.map(\.elementType) == [.float32, .int64])
    #expect(expModel.inputShapeVariants == [[[1000]]] && reluModel.inputShapeVariants == [[[4, 5]]])

    try expModel.setNumThreads(2)
    let x = (0..<1000).map { Float(-30 + 0.061 * Double($0)) }
    let y = try #require(try expModel.run([HostTensor(x, shape: [1000])])[0].floats)
    for (xi, yi) in zip(x, y) {
      let reference = Glibc.exp(Double(xi)) * 2 + Double(xi)
      #expect(Swift.abs(Double(yi) - reference) <= 2e-6 * Swift.max(1, Swift.abs(reference)), "x = \(xi)")
    }

    let input: [Float] = (0..<20).map { Float($0 % 3) - 1 }  // -1, 0, 1, ...
    let outputs = try reluModel.run([HostTensor(input, shape: [4, 5])])
    #expect(outputs[0].floats == input.map { Swift.max($0, 0) * 3 })
    #expect(outputs[1].bytes.withUnsafeBytes { $0.load(as: Int64.self) } == Int64(input.filter { $0 > 0 }.count))
  }

  @Test func swiftLoaderRejectsWrongShapesAndTypes() throws {
    let dir = try TemporaryDirectory()
    let path = try buildModel(expSignature("badshape", 8), in: dir.path) { defineExpKernel($0, symbol: "badshape_kernel", count: 8) }
    let model = try CompiledModel(path: path)
    #expect(throws: RuntimeError.self) { _ = try model.run([]) }
    do {
      _ = try model.run([HostTensor([Float](repeating: 0, count: 9), shape: [9])])
      Issue.record("a wrong shape must throw")
    } catch {
      #expect(error.code == .shapeMismatch)
      #expect(error.message.contains("[8]") && error.message.contains("[9]"), "\(error.message)")
    }
    do {
      _ = try model.run([HostTensor(zeros: .int64, shape: [8])])
      Issue.record("a wrong element type must throw")
    } catch {
      #expect(error.code == .invalidArgument)
    }
  }

  @Test func loaderReportsMissingLibrary() {
    #expect(throws: RuntimeError.self) { _ = try CompiledModel(path: "/nonexistent/libnothing.so") }
  }

  @Test func invalidSignaturesAreRejected() {
    var signature = expSignature("bad-name", 4)
    #expect(throws: CodegenError.self) { try signature.validate() }
    signature = expSignature("ok", 4)
    signature.inputs[0].elementType = 16  // bfloat16: not in the ABI
    #expect(throws: CodegenError.self) { try signature.validate() }
  }
}
