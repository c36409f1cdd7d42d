import SSMCIR

/// How the ONNX importer treats the model's free choices.
public struct ImportOptions: Sendable {
  /// Fixes symbolic input dims at import: input name -> full static shape.
  public var inputShapes: [String: [Int]] = [:]
  public init(inputShapes: [String: [Int]] = [:]) { self.inputShapes = inputShapes }
}

/// The opsets ssmc reads: the default domain from 13 to the newest the pinned onnx knows, and our own domain.
public enum SupportedOpsets {
  public static let defaultDomain = 13...28
  public static let ssmcDomain = 1...1
  /// Default-domain ops introduced after opset 13, with the version that introduced them.
  static let introducedAfter13: [String: Int] = [
    "LayerNormalization": 17, "Mish": 18, "GroupNormalization": 18, "Gelu": 20, "RMSNormalization": 23,
  ]
}
