import Foundation
import SSMCCodegen
import SSMCFrontend
import SSMCRuntime
import SSMCTensorIO

/// A failure `run` and `check` report as one line before exiting (`path: what is wrong`).
struct ToolError: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}

/// Reads a tensor file by its extension: `.npy` (NumPy) or `.pb` (a serialized ONNX TensorProto).
func readTensorFile(_ path: String) throws(ToolError) -> ONNXTensor {
  do {
    if path.hasSuffix(".npy") { return try NPY.load(contentsOf: path) }
    if path.hasSuffix(".pb") { return try ONNXTensor.load(contentsOf: path) }
  } catch {
    throw ToolError(String(describing: error))
  }
  throw ToolError("\(path): unknown tensor file type (use .npy or an ONNX TensorProto .pb)")
}

/// Converts the tensors read from `paths` into the model's inputs, checking count, element type and shape.
func modelInputs(_ tensors: [ONNXTensor], paths: [String], for model: CompiledModel) throws(ToolError) -> [HostTensor] {
  guard tensors.count == model.inputs.count else {
    let names = model.inputs.map { "'\($0.name)'" }.joined(separator: ", ")
    throw ToolError("\(model.path) takes \(model.inputs.count) inputs (\(names)) in this order, given \(tensors.count)")
  }
  var result: [HostTensor] = []
  for (index, (tensor, info)) in zip(tensors, model.inputs).enumerated() {
    let what = "\(paths[index]): input \(index) '\(info.name)'"
    guard tensor.elementType == info.elementType.rawValue, let type = ElementType(rawValue: tensor.elementType) else {
      throw ToolError("\(what) must be \(info.elementType), the file holds \(elementTypeName(tensor.elementType))")
    }
    let shape = tensor.dims.map { Int($0) }
    guard info.accepts(shape: shape) else {
      throw ToolError("\(what) must have shape \(info.shape), the file holds \(shape)")
    }
    result.append(HostTensor(elementType: type, shape: shape, bytes: tensor.data))
  }
  return result
}

/// A runtime output as an `ONNXTensor` named after the model's output.
func onnxTensor(_ tensor: HostTensor, name: String) -> ONNXTensor {
  ONNXTensor(name: name, elementType: tensor.elementType.rawValue, dims: tensor.shape.map { Int64($0) }, data: tensor.bytes)
}

/// Loads a compiled model and sets its thread count.
func loadModel(_ path: String, threads: Int?) throws(ToolError) -> CompiledModel {
  do {
    let model = try CompiledModel(path: path)
    if let threads { try model.setNumThreads(threads) }
    return model
  } catch {
    throw ToolError(error.message)
  }
}

/// Writes each tensor to its path atomically; if one write fails, removes the files this call already wrote
/// so a failed run leaves no partial set of outputs.
func writeNPYFiles(_ files: [(path: String, tensor: ONNXTensor)]) throws(ToolError) {
  var written: [String] = []
  for (path, tensor) in files {
    do {
      try AtomicFile.write(try NPY.encode(tensor), to: path)
    } catch {
      for done in written { unlink(done) }
      throw ToolError(String(describing: error))
    }
    written.append(path)
  }
}

/// `[1, 3, 224, 224]`.
func shapeText(_ shape: [Int]) -> String {
  "[" + shape.map(String.init).joined(separator: ", ") + "]"
}

/// Scientific notation with four significant digits, e.g. `1.234e-07`.
func scientific(_ value: Double) -> String {
  value.isFinite ? String(format: "%.3e", value) : "\(value)"
}

func printError(_ message: String) {
  FileHandle.standardError.write(Data(("error: " + message + "\n").utf8))
}
