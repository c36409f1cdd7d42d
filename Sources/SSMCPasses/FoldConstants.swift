import SSMCIR

/// Evaluates every node whose operands are all constants and replaces its results with constants
/// (`%t = Transpose(%w)` with constant `%w` becomes `%t = const ...`). Ops without a folder are left alone.
public struct FoldConstants: Pass {
  public let name = "fold-constants"
  /// Results larger than this many elements stay as nodes (keeps compile time and memory bounded).
  public var limit = 1 << 26
  public init() {}

  public func run(on graph: inout Graph) throws(Diagnostics) -> Bool {
    var changed = false
    var kept: [Node] = []
    for node in graph.nodes {
      if let schema = OpRegistry.schema(node.op),
        let folded = Folding.tryFold(node, schema: schema, context: graph.context(for: node), limit: limit),
        zip(node.results, folded).allSatisfy({ graph.type(of: $0.0) == nil || graph.type(of: $0.0) == $0.1.type })
      {
        for (result, data) in zip(node.results, folded) {
          graph.constants[result] = data
          graph[result].type = data.type
        }
        changed = true
      } else {
        kept.append(node)
      }
    }
    graph.nodes = kept
    return changed
  }
}
