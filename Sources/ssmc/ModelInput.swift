import ArgumentParser
import Foundation
import SSMCFrontend
import SSMCIR
import SSMCPasses

/// Options shared by commands that read a model.
struct ModelOptions: ParsableArguments {
  @Argument(help: "The .onnx model file.")
  var model: String

  @Option(
    name: .customLong("input-shape"),
    help: ArgumentHelp(
      "Fix an input's symbolic dims at compile time (? keeps a dim symbolic). compile takes several shapes per input: one library then serves each of them.",
      valueName: "NAME=D1xD2x..."))
  var inputShapes: [String] = []

  /// The input shapes to compile, one set per shape variant. An input given k shapes takes its i-th shape in
  /// variant i (every input given several shapes must be given the same number); an input given one shape
  /// has it in every variant.
  func shapeVariants() throws -> [ImportOptions] {
    var shapes: [String: [[Int?]]] = [:]
    var order: [String] = []
    for spec in inputShapes {
      let parts = spec.split(separator: "=", maxSplits: 1)
      // Each dim: a number >= 0, or ? (Int?.some(nil)); nil marks a malformed one.
      let dims: [Int??] = parts.count == 2 ? parts[1].split(separator: "x", omittingEmptySubsequences: false).map { token in
        token == "?" ? .some(nil) : Int(token).flatMap { $0 >= 0 ? .some($0) : nil }
      } : []
      guard parts.count == 2, !dims.isEmpty, dims.allSatisfy({ $0 != nil }) else {
        throw ValidationError("--input-shape '\(spec)' must look like NAME=1x3x224x224 (? keeps a dim symbolic)")
      }
      let name = String(parts[0])
      if shapes[name] == nil { order.append(name) }
      shapes[name, default: []].append(dims.map { $0! })
    }
    let counts = Set(shapes.values.map(\.count).filter { $0 > 1 })
    guard counts.count <= 1 else {
      let listed = order.map { "\($0): \(shapes[$0]!.count)" }.joined(separator: ", ")
      throw ValidationError("inputs given several --input-shape must be given the same number of shapes, one per variant (\(listed))")
    }
    let variants = counts.first ?? 1
    return (0..<variants).map { v in
      ImportOptions(inputShapes: shapes.mapValues { $0.count == 1 ? $0[0] : $0[v] })
    }
  }

  /// The input shapes of a command that reads one graph.
  func importOptions() throws -> ImportOptions {
    let variants = try shapeVariants()
    guard variants.count == 1 else {
      throw ValidationError("this command reads the model at one shape: give --input-shape once per input")
    }
    return variants[0]
  }

  /// Loads the model file, printing the problem and exiting non-zero on failure.
  func loadModel() throws -> ONNXModel {
    do {
      return try ONNXModel.load(contentsOf: model)
    } catch {
      throw reportAndExit(error.description)
    }
  }

  /// Imports the loaded model with `options`, printing every problem and exiting non-zero on failure.
  func importGraph(_ onnx: ONNXModel, options: ImportOptions) throws -> Graph {
    do {
      return try Importer.importModel(onnx, options: options)
    } catch {
      throw reportAndExit(error)
    }
  }

  /// Loads and imports the model at the one shape the options give.
  func importGraph() throws -> Graph {
    let options = try importOptions()
    return try importGraph(try loadModel(), options: options)
  }
}

/// Prints diagnostics to stderr and returns the exit code to throw.
func reportAndExit(_ diagnostics: Diagnostics) -> ExitCode {
  reportAndExit(diagnostics.description)
}
func reportAndExit(_ message: String) -> ExitCode {
  FileHandle.standardError.write(Data((message + "\n").utf8))
  return ExitCode(1)
}

/// Pass-pipeline options shared by compile and dump-ir.
struct PipelineOptions: ParsableArguments {
  @Flag(name: .customLong("print-ir-after-all"), help: "Print the IR after every pass (to stderr for compile).")
  var printIRAfterAll = false

  @Option(name: .customLong("print-ir-after"), help: ArgumentHelp("Print the IR after the named pass.", valueName: "PASS"))
  var printIRAfter: [String] = []

  @Option(name: .customLong("stop-after"), help: ArgumentHelp("Stop the pipeline after the named pass.", valueName: "PASS"))
  var stopAfter: String?

  @Option(name: .customLong("passes"), help: ArgumentHelp("Run this comma-separated pass list instead of the default pipeline.", valueName: "LIST"))
  var passes: String?

  func passManager(dump: @escaping @Sendable (String) -> Void) throws -> PassManager {
    var manager: PassManager
    do {
      manager = PassManager(passes: try passes.map(Pipeline.parse) ?? Pipeline.standard)
    } catch {
      throw reportAndExit(error)
    }
    for name in printIRAfter + (stopAfter.map { [$0] } ?? []) where Pipeline.registry[name] == nil {
      throw ValidationError("no pass named '\(name)'; passes: \(Pipeline.registry.keys.sorted().joined(separator: ", "))")
    }
    manager.printAfterAll = printIRAfterAll
    manager.printAfter = Set(printIRAfter)
    manager.stopAfter = stopAfter
    manager.dump = dump
    return manager
  }
}

func writeStandardError(_ text: String) {
  FileHandle.standardError.write(Data(text.utf8))
}
