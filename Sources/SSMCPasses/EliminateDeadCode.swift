import SSMCIR

/// Removes nodes and constants that no graph output depends on. Graph inputs stay (they are the ABI).
public struct EliminateDeadCode: Pass {
  public let name = "dce"
  public init() {}

  public func run(on graph: inout Graph) throws(Diagnostics) -> Bool {
    var live = Set(graph.outputs.map(\.value))
    var keep = [Bool](repeating: false, count: graph.nodes.count)
    for (i, node) in graph.nodes.enumerated().reversed() where node.results.contains(where: live.contains) {
      keep[i] = true
      for case let v? in node.operands { live.insert(v) }
    }
    let before = (graph.nodes.count, graph.constants.count)
    graph.nodes = graph.nodes.enumerated().filter { keep[$0.offset] }.map(\.element)
    graph.constants = graph.constants.filter { live.contains($0.key) }
    return before != (graph.nodes.count, graph.constants.count)
  }
}
