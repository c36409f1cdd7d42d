import ArgumentParser
import SSMCFrontend
import SSMCIR
import SSMCCodegen
import SSMCPasses

struct Inspect: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Show a model's inputs and outputs, op histogram, parameter count and unsupported ops.")

  @Argument(help: "The .onnx model file.") var model: String

  func run() throws {
    let onnx: ONNXModel
    do {
      onnx = try ONNXModel.load(contentsOf: model)
    } catch {
      throw reportAndExit(error.description)
    }
    let summary = ModelSummary(onnx)
    print(summary.text, terminator: "")
    if let graph = try? Importer.importModel(onnx, options: ImportOptions()) {
      print(Self.inferredOutputs(graph), terminator: "")
      print(Self.batchReport(graph))
    }
  }

  /// The output types shape inference works out, symbolic dims as expressions of the input dims
  /// (`f32[batch,(height + 31)/32]`), or the first problem it meets.
  static func inferredOutputs(_ graph: Graph) -> String {
    var inferred = graph
    do {
      _ = try ShapeInference().run(on: &inferred)
    } catch {
      return "inferred output types: none (\(error.all.count) problem\(error.all.count == 1 ? "" : "s")\(error.all.first.map { ", first: " + $0.description } ?? ""))\n"
    }
    return "inferred output types:\n" + inferred.outputs.map { "  \($0.name): \(inferred.type(of: $0.value).map(\.description) ?? "?")\n" }.joined()
  }

  /// Whether the kernels can take the symbolic dims at run time: the standard pipeline, then the compiler's
  /// check, whose first problem names the ops that cannot yet.
  static func runtimeExtentsReport(_ graph: Graph) -> String {
    var optimized = graph
    do {
      try PassManager(passes: Pipeline.standard).run(&optimized)
      try ModelCompiler(graph: optimized, name: "inspect").check()
      return "given at run time (every op on them takes run-time extents; no --input-shape needed)"
    } catch {
      let first = error.all.first.map { "\n  " + $0.description } ?? ""
      return "to be fixed with --input-shape (give it several times to serve several shapes from one library):\(first)"
    }
  }

  /// Whether the batch size can be left to run time (see `RuntimeBatch`), and why not.
  static func batchReport(_ graph: Graph) -> String {
    let inner = graph.inputs.flatMap { id in
      (graph.type(of: id)?.dims ?? []).enumerated().compactMap { axis, dim in
        if case .symbol(let name) = dim, axis > 0 { "'\(name)' of input '\(graph[id].name)'" } else { nil }
      }
    }
    if !inner.isEmpty {
      return "shape: \(inner.joined(separator: ", ")) \(inner.count == 1 ? "is" : "are") " + runtimeExtentsReport(graph)
    }
    do {
      guard let symbol = try RuntimeBatch.symbol(of: graph) else { return "batch: fixed (all input dims are static)" }
      _ = try RuntimeBatch.analyze(graph, symbol: symbol)
      return "batch: '\(symbol)' is given at run time (no op mixes samples; ssmc compiles one sample and runs it per sample)"
    } catch {
      let first = error.all.first.map { "\n  " + $0.description } ?? ""
      return "batch: must be fixed with --input-shape (\(error.all.count) problem\(error.all.count == 1 ? "" : "s")):\(first)"
    }
  }
}
