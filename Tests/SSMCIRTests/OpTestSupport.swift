@testable import SSMCIR

/// Small drivers for op tests: a graph with the given inputs and statements, whose LAST node is the op under
/// test. Result types are written `?` in the text; the shape rule or the folder computes them.
enum OpTest {
  static func graph(_ inputs: String, _ body: String) throws -> Graph {
    try Parser.parseGraph("graph @t(\(inputs)) {\n\(body)\nreturn\n}")
  }

  /// The result types the shape rule gives the last node, as text (`f32[2,B,1]`).
  static func types(_ inputs: String, _ body: String) throws -> [String] {
    let g = try graph(inputs, body)
    let node = g.nodes.last!
    return try OpRegistry.schema(node.op)!.inferTypes(g.context(for: node)).map(\.description)
  }

  /// The shape rule's error for the last node, or nil when it accepts the node.
  static func error(_ inputs: String, _ body: String) throws -> Diagnostic? {
    let g = try graph(inputs, body)
    let node = g.nodes.last!
    do {
      _ = try OpRegistry.schema(node.op)!.inferTypes(g.context(for: node))
      return nil
    } catch {
      return error
    }
  }

  /// The folder's results for the last node.
  static func fold(_ body: String, inputs: String = "") throws -> [TensorData] {
    let g = try graph(inputs, body)
    let node = g.nodes.last!
    let schema = OpRegistry.schema(node.op)!
    let results = try schema.fold!(g.context(for: node))
    // A folder must agree with the shape rule on the result types.
    let types = try schema.inferTypes(g.context(for: node))
    if results.map(\.type) != types { throw Disagreement(folded: results.map(\.type), inferred: types) }
    return results
  }
}

/// A folder's result types differ from its shape rule's.
struct Disagreement: Error {
  var folded: [TensorType]
  var inferred: [TensorType]
}
