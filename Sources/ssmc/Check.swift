import ArgumentParser
import Foundation
import SSMCFrontend
import SSMCRuntime
import SSMCTensorIO

struct Check: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run a compiled model on an ONNX test_data_set_N folder and compare with its expected outputs.",
    discussion: """
      Reads input_0.pb, input_1.pb, ... (until one is missing), runs the library, and compares each output \
      with output_K.pb elementwise: |actual - expected| <= atol + rtol * |expected| (NaN equals NaN; \
      integers and booleans must be equal). With --rel-to-max R a floating-point output passes instead when \
      its max-abs error <= R * max|expected|. Exits 0 when every output passes, 1 on a mismatch, 2 when the \
      files or the library cannot be used.
      """)

  @Argument(help: ArgumentHelp("The model library made by `ssmc compile`.", valueName: "LIB.so"))
  var library: String

  @Argument(help: ArgumentHelp("A folder with input_K.pb and output_K.pb files.", valueName: "DATASET_DIR"))
  var dataset: String

  @Option(help: "Relative tolerance of the elementwise rule.")
  var rtol = 1e-3

  @Option(help: "Absolute tolerance of the elementwise rule.")
  var atol = 1e-7

  @Option(
    name: .customLong("rel-to-max"),
    help: ArgumentHelp("Pass when max-abs error <= R * max|expected| (floating-point outputs).", valueName: "R"))
  var relativeToMax: Double?

  @Option(help: "Threads to run with, the calling thread included (0: one per online CPU; default: the library's).")
  var threads: Int?

  func run() throws {
    let results: [(name: String, comparison: TensorComparison)]
    do throws(ToolError) {
      // Checked here rather than in validate() so that bad values exit 2 like other usage errors.
      for (name, value) in [("--rtol", rtol), ("--atol", atol), ("--rel-to-max", relativeToMax ?? 0)] where !(value >= 0) {
        throw ToolError("\(name) must be a number >= 0")
      }
      if let threads, threads < 0 { throw ToolError("--threads must be >= 0") }
      results = try compareOutputs()
    } catch {
      printError(error.description)
      throw ExitCode(2)
    }
    let tolerance = Tolerance(rtol: rtol, atol: atol, relativeToMax: relativeToMax)
    var failures = 0
    for (k, (name, comparison)) in results.enumerated() {
      print(report(index: k, name: name, comparison, tolerance: tolerance))
      if !comparison.passed { failures += 1 }
    }
    if failures == 0 {
      print("PASS: \(results.count) output\(results.count == 1 ? "" : "s") within tolerance")
    } else {
      print("FAIL: \(failures) of \(results.count) output\(results.count == 1 ? "" : "s") out of tolerance")
      throw ExitCode(1)
    }
  }

  /// Reads the data set, runs the model and compares every output; throws only when nothing can be compared.
  private func compareOutputs() throws(ToolError) -> [(name: String, comparison: TensorComparison)] {
    let directory = dataset.hasSuffix("/") ? dataset : dataset + "/"
    let inputPaths = numberedFiles(directory + "input_")
    let expectedPaths = numberedFiles(directory + "output_")
    guard !expectedPaths.isEmpty else { throw ToolError("\(dataset): no output_0.pb (is this a test_data_set_N folder?)") }

    let model = try loadModel(library, threads: threads)
    // A model without inputs (all values folded into constants) has a data set without input files.
    guard !inputPaths.isEmpty || model.inputs.isEmpty else {
      throw ToolError("\(dataset): no input_0.pb, but \(library) takes \(model.inputs.count) inputs")
    }
    var tensors: [ONNXTensor] = []
    for path in inputPaths { tensors.append(try readTensorFile(path)) }
    var expected: [ONNXTensor] = []
    for path in expectedPaths { expected.append(try readTensorFile(path)) }
    guard expected.count == model.outputs.count else {
      throw ToolError("\(dataset) holds \(expected.count) expected outputs, \(library) has \(model.outputs.count)")
    }
    let inputs = try modelInputs(tensors, paths: inputPaths, for: model)
    let outputs: [HostTensor]
    do {
      outputs = try model.run(inputs)
    } catch {
      throw ToolError("\(library): run failed: \(error.message)")
    }
    let tolerance = Tolerance(rtol: rtol, atol: atol, relativeToMax: relativeToMax)
    return zip(outputs, expected).enumerated().map { k, pair in
      let name = model.outputs[k].name
      return (name, TensorComparison(actual: onnxTensor(pair.0, name: name), expected: pair.1, tolerance: tolerance))
    }
  }

  /// `prefix0.pb`, `prefix1.pb`, ... up to the first number with no file.
  private func numberedFiles(_ prefix: String) -> [String] {
    var paths: [String] = []
    while FileManager.default.fileExists(atPath: "\(prefix)\(paths.count).pb") { paths.append("\(prefix)\(paths.count).pb") }
    return paths
  }
}

/// One output's line: its numbers, then PASS or FAIL.
func report(index: Int, name: String, _ c: TensorComparison, tolerance: Tolerance) -> String {
  let head = "output \(index) '\(name)'"
  if let problem = c.problem { return "\(head): \(problem)  FAIL" }
  var line = "\(head) \(elementTypeName(c.elementType)) \(shapeText(c.shape)): max-abs \(scientific(c.maxAbsError))"
  line += "  max-rel \(scientific(c.maxRelError))  rel-to-max \(scientific(c.relativeToMax))"
  line += "  mismatches \(c.mismatches)/\(c.elementCount)"
  if let worst = c.worstIndex { line += "  worst \(shapeText(worst))" }
  return line + (c.passed ? "  PASS" : "  FAIL")
}
