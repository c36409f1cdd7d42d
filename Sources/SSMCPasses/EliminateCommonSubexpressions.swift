import SSMCIR

/// Merges nodes that compute the same op on the same operands with the same attributes, and constants with
/// identical type and bytes: `%a = Relu(%x); %b = Relu(%x)` leaves only `%a`, and uses of `%b` read `%a`.
/// Every op in the IR is free of side effects, so any two identical nodes are interchangeable.
public struct EliminateCommonSubexpressions: Pass {
  public let name = "cse"
  public init() {}

  private struct Key: Hashable {
    var op: String
    var operands: [ValueID?]
    var attributes: [String: Attribute]
    var resultCount: Int
  }

  public func run(on graph: inout Graph) throws(Diagnostics) -> Bool {
    var replacement: [ValueID: ValueID] = [:]
    var constantsSeen: [TensorData: ValueID] = [:]
    let outputValues = Set(graph.outputs.map(\.value))
    for id in graph.constants.keys.sorted() {
      let data = graph.constants[id]!
      if let first = constantsSeen[data], !outputValues.contains(id) {
        replacement[id] = first
      } else if constantsSeen[data] == nil {
        constantsSeen[data] = id
      }
    }
    var seen: [Key: [ValueID]] = [:]
    var kept: [Node] = []
    for var node in graph.nodes {
      node.operands = node.operands.map { $0.map { replacement[$0] ?? $0 } }
      let key = Key(op: node.op, operands: node.operands, attributes: node.attributes, resultCount: node.results.count)
      if let earlier = seen[key], !node.results.contains(where: outputValues.contains) {
        for (r, e) in zip(node.results, earlier) { replacement[r] = e }
      } else {
        if seen[key] == nil { seen[key] = node.results }
        kept.append(node)
      }
    }
    guard !replacement.isEmpty else { return false }
    graph.nodes = kept
    for id in replacement.keys { graph.constants[id] = nil }
    for i in graph.outputs.indices { graph.outputs[i].value = replacement[graph.outputs[i].value] ?? graph.outputs[i].value }
    return true
  }
}
