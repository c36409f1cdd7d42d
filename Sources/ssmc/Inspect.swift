import ArgumentParser
import SSMCFrontend
import SSMCIR

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
  }
}
