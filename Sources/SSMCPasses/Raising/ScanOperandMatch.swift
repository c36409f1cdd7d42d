import SSMCIR

/// The matching pieces `FoldScanOperands` uses: per-channel vectors, full reversals of the L axis, softplus
/// in its plain and PyTorch threshold forms, and the chain of Reshapes between a scan and its result's user.
extension PatternGraph {
  /// Where a per-channel (D, 1) or (1, D, 1) f32 value broadcast over (batch, D, L) comes from, as a
  /// (D)-shaped operand: a constant, or the (D) value an Unsqueeze/Reshape made it from, or (nil) a value
  /// that needs a Reshape. Nil when `value` is not per-channel (it varies along L, or is of another type).
  func channelVector(_ value: ValueID, channels: Int) -> ChannelVector? {
    guard let valueType = type(value), valueType.element == .f32, let shape = valueType.staticShape,
      shape == [channels, 1] || shape == [1, channels, 1]
    else { return nil }
    if let data = graph.constants[value] { return .constant(TensorData(.f32, shape: [channels], bytes: data.bytes)) }
    if let view = producer(value, "Unsqueeze", "Reshape")?.node, let source = view.operands.first ?? nil,
      type(source)?.staticShape == [channels], type(source)?.element == .f32
    {
      return .value(source)
    }
    return .reshape(value)
  }

  /// The x of `value = Softplus(x)` or of PyTorch's `Where(Greater(x, 20), x, Softplus(x))`.
  func softplusInput(_ value: ValueID) -> ValueID? {
    if let softplus = producer(value, "Softplus")?.node { return softplus.operands.first ?? nil }
    guard let select = producer(value, "Where")?.node, select.operands.count == 3, let x = select.operands[1],
      let greater = producer(select.operands[0], "Greater")?.node, greater.operands.count == 2, greater.operands[0] == x,
      isScalar(greater.operands[1], 20),
      let softplus = producer(select.operands[2], "Softplus")?.node, softplus.operands.first == x
    else { return nil }
    return x
  }

  /// The branch a `Where` with a constant, uniform condition always selects, when it has the result's type.
  func constantSelection(_ value: ValueID) -> ValueID? {
    guard let select = producer(value, "Where")?.node, select.operands.count == 3, let condition = select.operands[0],
      let data = graph.constants[condition], data.count > 0
    else { return nil }
    let first = data.element(at: 0)
    guard (0..<data.count).allSatisfy({ data.element(at: $0) == first }), let chosen = select.operands[first != 0 ? 1 : 2],
      type(chosen) == type(value), type(value)?.staticShape != nil
    else { return nil }
    return chosen
  }

  /// The x of `value = reversal of x along axis` (a Gather with constant indices [L−1, …, 0] or a Slice
  /// with step −1 over the whole axis), with the same static shape as x.
  func reversalSource(_ value: ValueID?, axis: Int) -> ValueID? {
    guard let value, let node = producer(value, "Gather", "Slice")?.node, let x = node.operands.first ?? nil,
      let inType = type(x), let outType = type(value), inType == outType, let shape = inType.staticShape,
      (0..<shape.count).contains(axis)
    else { return nil }
    if node.op == "Slice" { return AbsorbScanLayouts().reversedAxis(graph, node, inType, outType) == axis ? x : nil }
    return gatherIndices(node, rank: shape.count, length: shape[axis], axis: axis) == .reversal ? x : nil
  }

  /// The x of `value = Gather(x, [0, 1, …, L−1]) along axis`: the identity (an exported reverse = 0).
  func identityGatherSource(_ value: ValueID?, axis: Int) -> ValueID? {
    guard let value, let node = producer(value, "Gather")?.node, let x = node.operands.first ?? nil,
      let inType = type(x), inType == type(value), let shape = inType.staticShape, (0..<shape.count).contains(axis),
      gatherIndices(node, rank: shape.count, length: shape[axis], axis: axis) == .identity
    else { return nil }
    return x
  }

  enum GatherOrder { case identity, reversal }

  /// Whether a Gather along `axis` takes the positions of an axis of `length` in order or reversed (both
  /// when length is 1, reported as the identity).
  private func gatherIndices(_ node: Node, rank: Int, length: Int, axis: Int) -> GatherOrder? {
    guard case .int(var gatherAxis) = node.attributes["axis"] ?? .int(0), node.operands.count == 2,
      let indicesValue = node.operands[1], let indices = graph.constants[indicesValue], indices.shape.count == 1,
      indices.count == length
    else { return nil }
    if gatherAxis < 0 { gatherAxis += rank }
    guard gatherAxis == axis else { return nil }
    let positions = (0..<length).map { k in
      let index = Int(indices.element(at: k))
      return index < 0 ? index + length : index
    }
    if positions == Array(0..<length) { return .identity }
    return positions == Array((0..<length).reversed()) ? .reversal : nil
  }

  /// The chain of single-use Reshapes and identity Gathers after a scan's result `y` up to the last value of
  /// y's type in it: a row-major Reshape chain back to the same shape is the identity. Nil if there is none.
  func identityViews(_ y: ValueID) -> (chain: [Int], result: ValueID)? {
    var current = y
    var chain: [Int] = []
    var found: (chain: [Int], result: ValueID)?
    while chain.count < 8, let user = soleUser(current), user.node.operands.first == current, user.node.results.count == 1,
      user.node.op == "Reshape" || identityGatherSource(user.node.results[0], axis: 2) == current
    {
      chain.append(user.index)
      current = user.node.results[0]
      if type(current) == type(y) { found = (chain, current) }
    }
    return found
  }

  /// The sole user of a scan's result `y`, looking through single-use Reshapes that end at y's own shape
  /// (a row-major Reshape chain back to the same shape is the identity): the Reshapes' indices, the value the
  /// user reads, and the user.
  func resultUser(_ y: ValueID) -> (reshapes: [Int], value: ValueID, index: Int, node: Node)? {
    guard let shape = type(y)?.staticShape else { return nil }
    var current = y
    var reshapes: [Int] = []
    while let user = soleUser(current) {
      let (j, node) = (user.index, user.node)
      if node.op == "Reshape", node.operands.first == current, reshapes.count < 8 {
        reshapes.append(j)
        current = node.results[0]
        continue
      }
      guard type(current)?.staticShape == shape, node.results.count == 1, type(node.results[0]) == type(y) else { return nil }
      return (reshapes, current, j, node)
    }
    return nil
  }
}

/// A (D)-shaped per-channel operand to be: already a value, a constant to add, or a value to Reshape.
enum ChannelVector {
  case value(ValueID)
  case constant(TensorData)
  case reshape(ValueID)

  /// The operand, adding the constant or the Reshape node (to `sink`) when needed.
  func materialize(_ graph: inout Graph, _ sink: inout NodeSink, channels: Int, name: String) -> ValueID? {
    switch self {
    case .value(let v): return v
    case .constant(let data): return graph.addConstant(name: graph.freshName(name), data)
    case .reshape(let v): return sink.reshape(&graph, v, to: [channels], name: name)
    }
  }
}
