/// Every op the IR knows, by IR name. Each family file under Ops/ contributes its schemas.
public enum OpRegistry {
  public static let all: [String: OpSchema] = {
    var table: [String: OpSchema] = [:]
    let families: [[OpSchema]] = [
      elementwiseOps, reductionOps, tensorOps, shapeOps, linalgOps, convolutionOps, normalizationOps, scanOps, recurrentOps,
      s4ndOps, fusionOps, resizeOps, matrixOps, controlFlowOps, visionOps, recurrentNetworkOps, quantizationOps,
      attentionOps, signalSourceOps, signalOps,
    ]
    for schema in families.joined() {
      precondition(table[schema.name] == nil, "op \(schema.name) is defined twice")
      table[schema.name] = schema
    }
    return table
  }()

  public static func schema(_ name: String) -> OpSchema? { all[name] }
  /// Deprecated or older-named ONNX ops imported as another op of the default domain (same semantics; their
  /// adapters are in the importer).
  public static let onnxAliases: [String: String] = ["Upsample": "Resize", "Scatter": "ScatterElements"]
  /// The schema of an ONNX op type in a domain ("" or "ai.onnx" for the default domain).
  public static func schema(onnxType: String, domain: String) -> OpSchema? {
    switch domain {
    case "", "ai.onnx": all[onnxAliases[onnxType] ?? onnxType].flatMap { $0.domain == "" ? $0 : nil }
    case "ai.ssmc": all["ssmc." + onnxType].flatMap { $0.domain == "ai.ssmc" ? $0 : nil }
    default: nil
    }
  }
}
