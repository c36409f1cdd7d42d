import ArgumentParser
import Foundation
import SSMCCodegen
import SSMCFrontend
import SSMCIR
import SSMCPasses

struct Compile: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Compile an ONNX model to a native shared library with a C ABI (and its header).")

  enum Emit: String, ExpressibleByArgument, CaseIterable {
    case so, obj, asm, llvm, header, ir
  }

  @OptionGroup var model: ModelOptions
  @OptionGroup var pipeline: PipelineOptions

  @Option(name: .shortAndLong, help: "Output file (default: libNAME.so, or NAME.EXT for other --emit kinds).")
  var output: String?

  @Option(help: "Symbol prefix for the C ABI (default: from the model file name).")
  var name: String?

  @Option(name: .customLong("target-cpu"), help: "CPU to generate code for: native, or an LLVM CPU name (znver4, x86-64-v3, ...).")
  var targetCPU = "native"

  @Option(name: .customLong("target-triple"), help: "Target triple for cross-compiling objects (default: the host's).")
  var targetTriple: String?

  @Option(help: "What to write: so (library + header), obj, asm, llvm, header, ir.")
  var emit: Emit = .so

  @Option(name: .customLong("opt-level"), help: ArgumentHelp("Optimization level 0...3; -O0 ... -O3 work too.", valueName: "N"))
  var optLevel = 3

  @Flag(help: "Time every node: the library's NAME_profile() then reports per-node times (see docs/abi.md).")
  var profile = false

  func run() throws {
    let modelName = try symbolName()
    let shapes = try model.shapeVariants()
    let variants = shapes.count > 1
    if variants && profile { throw ValidationError("--profile times a library of one shape: give --input-shape once per input") }
    if variants && emit == .ir { throw ValidationError("--emit ir writes one graph: give --input-shape once per input") }
    let onnx = try model.loadModel()
    let outputPath = output ?? defaultOutput(modelName)
    let lanes = Self.vectorLanes(cpu: targetCPU)
    var compilers: [ModelCompiler] = []
    for (index, options) in shapes.enumerated() {
      guard let compiler = try variantCompiler(
        onnx, options: options, variant: variants ? index : nil, name: modelName, lanes: lanes, outputPath: outputPath)
      else { return }
      compilers.append(compiler)
    }
    do {
      // The variants must share one interface; checked before the slow part.
      let interface = try LibrarySignature(compilers.map { $0.signature() })
      let target = try TargetMachine(TargetOptions(cpu: targetCPU, triple: targetTriple, optLevel: optLevel))
      if emit == .header {
        try writeAtomically(HeaderGenerator.header(for: interface), to: outputPath)
        return
      }
      let module = LLVMModule(name: modelName)
      var signatures: [ModelSignature] = []
      for compiler in compilers { signatures.append(try compiler.emit(into: module)) }
      switch emit {
      case .obj, .asm, .llvm:
        try target.compile(module)
        try target.emit(module, as: emit == .obj ? .object : emit == .asm ? .assembly : .llvmIR, to: outputPath)
      default:
        let library = try LibrarySignature(signatures)
        let header = try SharedLibraryBuilder.build(module: module, library: library, target: target, to: outputPath)
        let headerPath = URL(fileURLWithPath: outputPath).deletingLastPathComponent().appendingPathComponent("\(modelName).h").path
        try writeAtomically(header, to: headerPath)
      }
    } catch let error as CodegenError {
      throw reportAndExit("\(model.model): error: \(error.message)")
    }
  }

  /// Imports, proves the batch of, and runs the pipeline on the graph at one set of input shapes, and checks
  /// it can be compiled. `variant` is its index when the library has several; nil after writing `--emit ir`.
  func variantCompiler(
    _ onnx: ONNXModel, options: ImportOptions, variant: Int?, name modelName: String, lanes: Int, outputPath: String
  ) throws -> ModelCompiler? {
    // Problems of one variant of several name it.
    let variantName = variant.map { "shape variant \($0) (\(Self.describe(options))): " } ?? ""
    func located(_ diagnostics: [Diagnostic]) -> [Diagnostic] {
      diagnostics.map { d in
        var d = d
        d.location.file = d.location.file ?? model.model
        d.message = variantName + d.message
        return d
      }
    }
    var graph = try model.importGraph(onnx, options: options)
    // A symbolic leading input dim left after --input-shape is a batch size given at run time: compile one
    // sample, once proven that no op mixes samples. Other symbolic dims go to the kernels as run-time extents
    // (the leading ones too), where every op on them can take that (`ModelCompiler.check`).
    var batch: RuntimeBatch? = nil
    do {
      if RuntimeBatch.innerSymbols(of: graph).isEmpty, let symbol = try RuntimeBatch.symbol(of: graph) {
        batch = try RuntimeBatch.analyze(graph, symbol: symbol)
        graph = RuntimeBatch.specialize(graph, symbol: symbol, samples: 1)
      }
    } catch {
      throw reportAndExit(Diagnostics(located(error.all)))
    }
    var manager = try pipeline.passManager(dump: { writeStandardError($0) })
    manager.printer = Printer(elideConstantsLargerThan: 16)
    do {
      try manager.run(&graph)
    } catch {
      throw reportAndExit(Diagnostics(located(error.all)))
    }
    if emit == .ir {
      try writeAtomically(Printer().print(graph), to: outputPath)
      return nil
    }
    let compiler = ModelCompiler(
      graph: graph, name: modelName, vectorLanes: lanes, profile: profile,
      inputSampleAxes: batch?.inputAxes ?? [], outputSampleAxes: batch?.outputAxes ?? [],
      x86AVX512: lanes == 16 && (targetTriple.map { $0.hasPrefix("x86_64") } ?? true), variant: variant)
    do {
      try compiler.check()
    } catch {
      throw reportAndExit(located(error.all).map(\.description).joined(separator: "\n"))
    }
    return compiler
  }

  /// `x=1x3x224x224, y=?x8` for the input shapes of one variant.
  static func describe(_ options: ImportOptions) -> String {
    var parts: [String] = []
    for (name, dims) in options.inputShapes.sorted(by: { $0.key < $1.key }) {
      let text: [String] = dims.map { $0.map { String($0) } ?? "?" }
      parts.append("\(name)=\(text.joined(separator: "x"))")
    }
    return parts.joined(separator: ", ")
  }

  func symbolName() throws -> String {
    if let name {
      guard let first = name.unicodeScalars.first, !("0"..."9").contains(first),
        name.unicodeScalars.allSatisfy({ $0.isASCII && ($0 == "_" || $0.properties.isAlphabetic || ("0"..."9").contains($0)) })
      else { throw ValidationError("--name '\(name)' must be a C identifier") }
      return name
    }
    var stem = URL(fileURLWithPath: model.model).deletingPathExtension().lastPathComponent
    if stem == "model" { stem = URL(fileURLWithPath: model.model).deletingLastPathComponent().lastPathComponent }
    var result = String(stem.unicodeScalars.map { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)) ? Character($0) : "_" })
    if result.isEmpty || result.first!.isNumber { result = "m_" + result }
    if result.hasPrefix("ssmc") { result = "m_" + result }
    return result
  }

  func defaultOutput(_ name: String) -> String {
    switch emit {
    case .so: "lib\(name).so"
    case .obj: "\(name).o"
    case .asm: "\(name).s"
    case .llvm: "\(name).ll"
    case .header: "\(name).h"
    case .ir: "\(name).ssmc"
    }
  }

  /// f32 lanes of the target's widest vectors; kernels size their register blocks with it.
  static func vectorLanes(cpu: String) -> Int {
    let name = cpu == "native" ? TargetMachine.hostCPU : cpu
    let avx512 = ["znver4", "znver5", "x86-64-v4", "skylake-avx512", "cascadelake", "cooperlake", "cannonlake", "icelake-client",
      "icelake-server", "tigerlake", "rocketlake", "sapphirerapids", "emeraldrapids", "graniterapids", "graniterapids-d", "knl", "knm"]
    if avx512.contains(name) { return 16 }
    if name.hasPrefix("x86-64") && name != "x86-64-v3" { return 4 }
    return 8
  }
}

/// Writes text to `path` through a temporary file and a rename, so no partial file is ever left.
func writeAtomically(_ text: String, to path: String) throws {
  let temporary = path + ".tmp-\(getpid())"
  do {
    try Data(text.utf8).write(to: URL(fileURLWithPath: temporary))
    guard rename(temporary, path) == 0 else {
      unlink(temporary)
      throw reportAndExit("error: cannot write \(path): \(String(cString: strerror(errno)))")
    }
  } catch let error as ExitCode {
    throw error
  } catch {
    unlink(temporary)
    throw reportAndExit("error: cannot write \(path): \(error.localizedDescription)")
  }
}
