import SSMCIR

/// Removes nodes and constants that no graph output depends on. Graph inputs stay (they are the ABI).
public struct EliminateDeadCode: Pass {
  public let name = "dce"
  public init() {}

  public func run(on graph: inout Graph) throws(Diagnostics) -> Bool {
    let live = Self.liveness(graph.nodes, outputs: graph.outputs.map(\.value))
    let before = (graph.nodes.count, graph.constants.count)
    graph.nodes = graph.nodes.enumerated().filter { live.nodes.contains($0.offset) }.map(\.element)
    graph.constants = graph.constants.filter { live.values.contains($0.key) }
    return before != (graph.nodes.count, graph.constants.count)
  }

  /// The indices of `nodes` (in order) that `outputs` depend on, and every value those outputs need.
  static func liveness(_ nodes: [Node], outputs: [ValueID]) -> (nodes: Set<Int>, values: Set<ValueID>) {
    var values = Set(outputs)
    var live: Set<Int> = []
    for (index, node) in nodes.enumerated().reversed() where node.results.contains(where: values.contains) {
      live.insert(index)
      for case let operand? in node.operands { values.insert(operand) }
    }
    return (live, values)
  }
}
