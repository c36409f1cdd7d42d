/// The lowering of every op ssmc compiles, by IR op name. Each family file contributes its entries.
public enum Lowerings {
  public static let table: [String: Lowering] = {
    var table: [String: Lowering] = [:]
    for family in [
      elementwiseLowerings, layoutLowerings, combineLowerings, indexingLowerings, scatterLowerings, axisIndexingLowerings,
      shapeLowerings, reductionLowerings,
      axisLowerings, normalizationLowerings, linalgLowerings, convolutionLowerings, poolingLowerings,
      scanLowerings, recurrentLowerings, fusionLowerings, fusedProductLowerings, resizeLowerings, matrixLowerings,
      localNormalizationLowerings, controlFlowLowerings, visionLowerings, recurrentNetworkLowerings,
      quantizationLowerings, quantizedProductLowerings, attentionLowerings, signalLowerings,
    ] {
      for (name, lowering) in family {
        precondition(table[name] == nil, "op \(name) is lowered twice")
        table[name] = lowering
      }
    }
    return table
  }()

  public static func supports(_ op: String) -> Bool { table[op] != nil }
}
