import ArgumentParser
import Foundation
import SSMCFrontend
import SSMCRuntime
import SSMCTensorIO

struct Run: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run a compiled model library on tensor files and write its outputs as .npy files.",
    discussion: """
      Inputs are given in the model's input order, each as .npy (little-endian, C order) or as an ONNX \
      TensorProto .pb file. Output K is written to OUTDIR/output_K.npy. Exits 1 on any error, leaving no \
      output file behind.
      """)

  @Argument(help: ArgumentHelp("The model library made by `ssmc compile`.", valueName: "LIB.so"))
  var library: String

  @Option(
    name: [.customShort("i"), .customLong("input")],
    help: ArgumentHelp("An input tensor file, in graph-input order.", valueName: "INPUT"))
  var inputs: [String] = []

  @Option(
    name: [.customShort("o"), .customLong("output-dir")],
    help: ArgumentHelp("Directory for output_K.npy (created if missing).", valueName: "OUTDIR"))
  var outputDirectory = "."

  @Option(help: "Threads to run with, the calling thread included (0: one per online CPU; default: the library's).")
  var threads: Int?

  func validate() throws {
    if let threads, threads < 0 { throw ValidationError("--threads must be >= 0") }
  }

  func run() throws {
    do {
      try execute()
    } catch {
      printError(error.description)
      throw ExitCode(1)
    }
  }

  private func execute() throws(ToolError) {
    let model = try loadModel(library, threads: threads)
    var tensors: [ONNXTensor] = []
    for path in inputs { tensors.append(try readTensorFile(path)) }
    let hostInputs = try modelInputs(tensors, paths: inputs, for: model)
    let outputs: [HostTensor]
    do {
      outputs = try model.run(hostInputs)
    } catch {
      throw ToolError("\(library): run failed: \(error.message)")
    }
    do {
      try FileManager.default.createDirectory(atPath: outputDirectory, withIntermediateDirectories: true)
    } catch {
      throw ToolError("\(outputDirectory): cannot create the output directory: \(error.localizedDescription)")
    }
    let directory = outputDirectory.hasSuffix("/") ? outputDirectory : outputDirectory + "/"
    let files = outputs.enumerated().map { k, tensor in
      (path: "\(directory)output_\(k).npy", tensor: onnxTensor(tensor, name: model.outputs[k].name))
    }
    try writeNPYFiles(files)
    for (k, (file, info)) in zip(files, model.outputs).enumerated() {
      print("output \(k) '\(info.name)': \(info.elementType) \(shapeText(outputs[k].shape)) -> \(file.path)")
    }
  }
}
