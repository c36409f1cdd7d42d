import SSMCIR

/// SplitToSequence and ConcatFromSequence: the sequence ops that turn tensors into sequences and back,
/// lowered at import to Split (and Squeeze) and to Concat (after Unsqueeze when `new_axis` is set).
extension Importer {
  func intAttribute(_ node: ONNXNode, _ name: String, default value: Int) -> Int {
    if case .int(let v)? = node.attribute(name)?.value { return Int(v) }
    return value
  }

  /// SplitToSequence(input, split?): `split` absent gives pieces of size 1 (the split axis squeezed away
  /// when keepdims is 0); a scalar `split` gives pieces of that size, the last one smaller; a 1-D `split`
  /// gives the listed sizes. keepdims only matters when `split` is absent, as ONNX says.
  mutating func splitToSequence(
    _ node: ONNXNode, input: ValueID, split: ValueID?, location: Location
  ) throws(Diagnostic) -> [ValueID] {
    let stem = node.name.isEmpty ? "SplitToSequence" : node.name
    var axis = intAttribute(node, "axis", default: 0)
    let keepdims = intAttribute(node, "keepdims", default: 1) != 0
    var splitData: TensorData? = nil
    if let split {
      guard let data = importTimeConstant(split) else {
        throw Diagnostic(.unsupportedFeature, "SplitToSequence's split must be known at compile time (ssmc keeps sequences as fixed lists of tensors)", at: location)
      }
      guard data.shape.count <= 1 else { throw Diagnostic(.badOperand, "SplitToSequence's split must be a scalar or 1-D, has shape \(data.shape)", at: location) }
      splitData = data
    }
    // The split dim's size is needed unless the sizes are all listed.
    var sizes: [Int]
    if let data = splitData, data.shape.count == 1 {
      sizes = data.ints
    } else {
      guard let type = importTimeType(input) else {
        throw Diagnostic(.unsupportedFeature, "SplitToSequence needs its input's shape at compile time to count the pieces; it is not known here", at: location)
      }
      guard axis >= -type.rank, axis < type.rank else {
        throw Diagnostic(.badAttribute, "SplitToSequence axis \(axis) is out of range for rank \(type.rank)", at: location)
      }
      if axis < 0 { axis += type.rank }
      guard let d = type.dims[axis].value else {
        throw Diagnostic(.unsupportedFeature, "SplitToSequence needs the size of axis \(axis) at compile time; it is \(type.dims[axis])", at: location)
      }
      let piece = splitData?.ints.first ?? 1
      guard piece > 0 else { throw Diagnostic(.badOperand, "SplitToSequence's split \(piece) must be positive", at: location) }
      sizes = Array(repeating: piece, count: d / piece)
      if d % piece != 0 { sizes.append(d % piece) }
    }
    guard !sizes.isEmpty else { return [] }
    let splitSizes = graph.addConstant(name: graph.freshName("\(stem)_split"), TensorData(int64s: sizes.map(Int64.init)))
    let pieces = graph.addNode(
      "Split", [input, splitSizes], attributes: ["axis": .int(axis)], name: node.name,
      results: sizes.indices.map { (name: graph.freshName("\(stem)_piece\($0)"), type: nil) })
    guard splitData == nil && !keepdims else { return pieces }
    let axes = graph.addConstant(name: graph.freshName("\(stem)_axes"), TensorData(int64s: [Int64(axis)]))
    return pieces.map { graph.addNode("Squeeze", [$0, axes], results: [(name: graph.freshName("\(stem)_squeezed"), type: nil)])[0] }
  }

  /// ConcatFromSequence: Concat of the elements along `axis`, or stacked along a new `axis` (Unsqueeze
  /// first) when `new_axis` is 1.
  mutating func concatFromSequence(_ node: ONNXNode, list: [ValueID], location: Location) throws(Diagnostic) -> ValueID {
    guard case .int(let axis)? = node.attribute("axis")?.value else {
      throw Diagnostic(.badAttribute, "ConcatFromSequence needs the attribute 'axis'", at: location)
    }
    guard !list.isEmpty else {
      throw Diagnostic(.unsupportedFeature, "ConcatFromSequence of an empty sequence has no shape ssmc can know", at: location)
    }
    let stem = node.name.isEmpty ? "ConcatFromSequence" : node.name
    let name = node.outputs.first.flatMap { $0.isEmpty ? nil : $0 } ?? graph.freshName(stem)
    if intAttribute(node, "new_axis", default: 0) != 0 {
      return stack(list, axis: Int(axis), name: name, prefix: stem, nodeName: node.name)
    }
    return graph.addNode("Concat", list, attributes: ["axis": .int(Int(axis))], name: node.name, results: [(name: name, type: nil)])[0]
  }
}
