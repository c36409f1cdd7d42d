import SSMCIR

extension OpImport {
  /// Hardmax before opset 13 works on the input coerced to 2-D at `axis` (default 1): each row of
  /// (d0 * ... * d(axis-1), d(axis) * ... * d(n-1)) gets one 1. The IR's Hardmax is the opset-13 form (one
  /// axis), so the old form becomes Flatten, Hardmax on axis 1, and a Reshape back to the input's shape.
  static func coercedHardmax(
    _ node: ONNXNode, operands: [ValueID?], attributes: [String: Attribute], graph: inout Graph, location: Location
  ) throws(Diagnostic) -> [ValueID] {
    guard operands.count == 1, let x = operands[0], node.outputs.count == 1 else {
      throw Diagnostic(.malformedModel, "Hardmax takes one input and has one output", at: location)
    }
    let axis = attributes["axis"] ?? .int(1)
    guard case .int = axis else { throw Diagnostic(.badAttribute, "attribute 'axis' must be an int", at: location) }
    let stem = node.name.isEmpty ? "Hardmax" : node.name
    func fresh(_ suffix: String) -> [(name: String, type: TensorType?)] { [(name: graph.freshName("\(stem)_\(suffix)"), type: nil)] }
    let flat = graph.addNode("Flatten", [x], attributes: ["axis": axis], name: "\(stem)_flatten", results: fresh("flat"))[0]
    let rows = graph.addNode("Hardmax", [flat], attributes: ["axis": .int(1)], name: stem, results: fresh("rows"))[0]
    let shape = graph.addNode("Shape", [x], name: "\(stem)_shape", results: fresh("shape"))[0]
    return graph.addNode("Reshape", [rows, shape], name: "\(stem)_reshape", results: [(name: node.outputs[0], type: nil)])
  }
}
