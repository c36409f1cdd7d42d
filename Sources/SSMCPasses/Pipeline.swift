import Foundation
import SSMCIR

/// The passes ssmc knows, by name, and the default pipeline.
public enum Pipeline {
  /// Every pass, by its CLI name.
  public static let registry: [String: any Pass] = {
    let all: [any Pass] = [
      ShapeInference(), FoldConstants(), EliminateDeadCode(), EliminateCommonSubexpressions(), RaiseLinearAttention(),
      RaiseSelectiveScan(), FoldScanOperands(), AbsorbScanLayouts(), ExpandS4ND(), FoldPadIntoConv(), FuseLayerNorm(), FuseGelu(), FuseElementwise(),
      FuseEpilogue(),
    ]
    return Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })
  }()

  /// The default pipeline, in order, each entry with the reason it runs there.
  public static let standard: [any Pass] = [
    ShapeInference(),  // types for every value; folds the Shape/Gather/Concat chains shapes depend on
    FoldConstants(),  // evaluates all-constant subgraphs (weight transposes, casts) once, at compile time
    ExpandS4ND(),  // S4ND2D -> separable depthwise convs, kernels computed for the now-static input size
    RaiseLinearAttention(),  // Mamba-shaped LinearAttention -> SelectiveScan: needs static shapes and folded view shapes
    RaiseSelectiveScan(),  // LinearScan (an ONNX Scan) + the math around it -> SelectiveScan; before cse/dce clean up
    FoldScanOperands(),  // softplus/bias on delta, D·u, the z gate, reversals -> the scan's operands and flags
    AbsorbScanLayouts(),  // Transpose/flip copies around scans become strided reads and writes (dce drops the copies)
    FoldPadIntoConv(),  // zero Pad + Conv -> Conv with larger pads (S4ND's long kernels); needs folded pads
    EliminateCommonSubexpressions(),  // exporters repeat identical shape math and constants per layer
    FuseLayerNorm(),  // one row-statistics kernel instead of the 6-10 node chains exporters emit for Layer/RMSNorm
    FuseGelu(),  // the 5-node erf GELU becomes one op before fuse-elementwise would absorb its pieces
    FuseElementwise(),  // elementwise chains become one loop each: no intermediate tensors written and re-read
    FuseEpilogue(),  // the (fused) elementwise node after a MatMul/Gemm/Conv runs in the product's store
    EliminateDeadCode(),  // drops what folding and CSE left unused
  ]

  /// Parses a comma-separated list of pass names (`shape-inference,fold-constants,dce`).
  public static func parse(_ list: String) throws(Diagnostics) -> [any Pass] {
    var passes: [any Pass] = []
    for name in list.split(separator: ",").map({ String($0).trimmingCharacters(in: .whitespaces) }) {
      guard let pass = registry[name] else {
        let known = registry.keys.sorted().joined(separator: ", ")
        throw Diagnostics(Diagnostic(.internalError, "unknown pass '\(name)'; known passes: \(known)"))
      }
      passes.append(pass)
    }
    return passes
  }
}
