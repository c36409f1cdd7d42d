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
    help: ArgumentHelp("Fix an input's symbolic dims at compile time.", valueName: "NAME=D1xD2x..."))
  var inputShapes: [String] = []

  func importOptions() throws -> ImportOptions {
    var shapes: [String: [Int]] = [:]
    for spec in inputShapes {
      let parts = spec.split(separator: "=", maxSplits: 1)
      let dims = parts.count == 2 ? parts[1].split(separator: "x").map { Int($0) } : []
      guard parts.count == 2, !dims.isEmpty, dims.allSatisfy({ $0 != nil && $0! >= 0 }) else {
        throw ValidationError("--input-shape '\(spec)' must look like NAME=1x3x224x224")
      }
      shapes[String(parts[0])] = dims.map { $0! }
    }
    return ImportOptions(inputShapes: shapes)
  }

  /// Loads and imports the model, printing every problem and exiting non-zero on failure.
  func importGraph() throws -> Graph {
    let options = try importOptions()
    let onnx: ONNXModel
    do {
      onnx = try ONNXModel.load(contentsOf: model)
    } catch {
      throw reportAndExit(error.description)
    }
    do {
      return try Importer.importModel(onnx, options: options)
    } catch {
      throw reportAndExit(error)
    }
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
