import SSMCIR

/// How the ONNX importer treats the model's free choices.
public struct ImportOptions: Sendable {
  /// Fixes symbolic input dims at import: input name -> full shape, nil where the model's dim stays as it is.
  public var inputShapes: [String: [Int?]] = [:]
  public init(inputShapes: [String: [Int?]] = [:]) { self.inputShapes = inputShapes }
}

/// The opsets ssmc reads: the default domain from 1 to the newest the pinned onnx knows, and our own domain. Within that range each node's op version is the newest definition not
/// above the model's opset (`onnxOpVersions`); older definitions are converted to the IR's form by the
/// adapters in `OpImport`, or rejected where their semantics differ and no adapter exists.
public enum SupportedOpsets {
  public static let defaultDomain = 1...28
  public static let ssmcDomain = 1...1
  /// Ops whose definitions before this version mean something the IR does not express (and no adapter exists).
  /// Before version 7 the binary ops took a `broadcast` attribute with their own rules instead of numpy's.
  static let oldestSupportedVersion: [String: Int] = [
    "Softmax": 13, "LogSoftmax": 13, "BatchNormalization": 9,
    "Add": 7, "Sub": 7, "Mul": 7, "Div": 7, "Pow": 7, "And": 7, "Or": 7, "Xor": 7, "Equal": 7, "Less": 7,
    "Greater": 7, "PRelu": 7, "Gemm": 7, "Concat": 4, "Reshape": 5, "Cast": 6, "Tile": 6, "Clip": 6, "Pad": 2,
    "Split": 2, "Upsample": 7,
  ]

  /// Ops deprecated from this opset on: a model of that opset or newer may not use them.
  static let deprecatedFrom: [String: Int] = ["Scatter": 11]

  /// The version of `op` that `opset` selects, or nil when the opset predates the op.
  static func activeVersion(of op: String, opset: Int) -> Int? {
    guard let history = onnxOpVersions[op] else { return opset }
    return history.last { $0 <= opset }
  }
}
