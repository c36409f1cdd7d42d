import SSMCIR

/// Results that are views of their operand: the same bytes (Reshape, Flatten, Squeeze, Unsqueeze,
/// Identity), one contiguous run of them (a Slice or Split that cuts only the outermost non-unit dim with
/// step 1, a Gather of one constant index there), or, for a Transpose whose only consumers are MatMuls,
/// the operand read through permuted strides (`strides`; the MatMul lowering asks for them). Such a result gets no memory and no copy: the memory
/// plan gives it the operand's address plus the run's byte offset and keeps the operand alive as long as
/// the view is used. Nothing ever writes through a view (kernels write only their results), so sharing
/// bytes with the operand is safe.
struct ViewPlan {
  /// View value -> (the value it reads, byte offset into it).
  private(set) var views: [ValueID: (source: ValueID, byteOffset: Int)] = [:]
  /// Strided views: Transpose results read only by MatMul, which takes any operand strides. Value -> its
  /// element strides per dim into its (contiguous) source.
  private(set) var strides: [ValueID: [Int]] = [:]

  /// `isExternal`: values that must live in their own (caller's) buffer, e.g. graph outputs; a node with
  /// such a result makes no views.
  init(_ graph: Graph, isExternal: (ValueID) -> Bool) {
    var consumers: [ValueID: Set<String>] = [:]
    for node in graph.nodes {
      for (i, operand) in node.operands.enumerated() {
        // A fused MatMul reads its A and B as MatMul does; its extra operands must be contiguous.
        guard let v = operand else { continue }
        consumers[v, default: []].insert(node.op == "ssmc.FusedMatMul" && i < 2 ? "MatMul" : node.op)
      }
    }
    for node in graph.nodes {
      if node.op == "Transpose", let result = node.results.first, !isExternal(result), consumers[result] == ["MatMul"],
        let source = node.operands.first ?? nil, strides[source] == nil, let permuted = Self.transposedStrides(node, graph) {
        views[result] = (source, 0)
        strides[result] = permuted
        continue
      }
      // All results or none: a node that still runs writes every result.
      guard !node.results.contains(where: isExternal), let offsets = Self.viewOffsets(node, graph) else { continue }
      for (result, offset) in zip(node.results, offsets) {
        views[result] = (node.operands[0]!, offset)
      }
    }
  }

  /// Whether every result of `node` is a view (then the node needs no code at all).
  func isView(_ node: Node) -> Bool { node.results.allSatisfy { views[$0] != nil } }

  /// The value whose memory a view ultimately reads, and the byte offset into it.
  func root(of id: ValueID) -> (value: ValueID, byteOffset: Int) {
    var (value, offset) = (id, 0)
    while let view = views[value] {
      value = view.source
      offset += view.byteOffset
    }
    return (value, offset)
  }

  /// Element strides of a Transpose's result into its operand.
  private static func transposedStrides(_ node: Node, _ graph: Graph) -> [Int]? {
    guard let source = node.operands.first ?? nil, let shape = graph.type(of: source)?.staticShape, shape.count >= 2 else { return nil }
    let perm = (try? graph.context(for: node).ints("perm")) ?? Array((0..<shape.count).reversed())
    guard perm.sorted() == Array(0..<shape.count) else { return nil }
    let strides = rowMajorStrides(shape)
    return perm.map { strides[$0] }
  }

  /// Byte offset into operand 0 of each result, when every result is a contiguous run of operand 0's bytes.
  static func viewOffsets(_ node: Node, _ graph: Graph) -> [Int]? {
    // Reshape-like results are the operand's bytes whatever its shape, sizes given at run time included.
    if ["Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"].contains(node.op), let source = node.operands.first ?? nil,
      let element = graph.type(of: source)?.element, node.results.allSatisfy({ graph.type(of: $0)?.element == element })
    {
      return [0]
    }
    guard let source = node.operands.first ?? nil, let inType = graph.type(of: source), let inShape = inType.staticShape,
      node.results.allSatisfy({ graph.type(of: $0)?.element == inType.element && graph.type(of: $0)?.isStatic == true })
    else { return nil }
    let size = inType.element.byteSize
    let strides = rowMajorStrides(inShape)
    switch node.op {
    case "Slice":
      // Starts computed from extents given at run time are not in `sliceAxes`.
      guard sliceBoundsAreStatic(graph.context(for: node)), let axes = try? sliceAxes(graph.context(for: node)) else { return nil }
      let counts = axes.map { $0.count.value ?? -1 }
      guard counts.allSatisfy({ $0 > 0 }), isContiguousRun(inShape, counts),
        zip(axes, counts).allSatisfy({ $0.step == 1 || $1 == 1 })
      else { return nil }
      return [zip(axes, strides).reduce(0) { $0 + $1.0.start * $1.1 } * size]
    case "Split":
      guard let axisAttribute = try? graph.context(for: node).int("axis") else { return nil }
      let axis = axisAttribute < 0 ? axisAttribute + inShape.count : axisAttribute
      guard axis >= 0 && axis < inShape.count, inShape[..<axis].allSatisfy({ $0 == 1 }) else { return nil }
      var offsets: [Int] = []
      var start = 0
      for result in node.results {
        offsets.append(start * strides[axis] * size)
        start += graph.type(of: result)!.staticShape![axis]
      }
      return offsets
    case "Gather":
      guard let axisAttribute = try? graph.context(for: node).int("axis"), node.operands.count > 1,
        let indices = node.operands[1].flatMap({ graph.constants[$0] }), indices.ints.count == 1
      else { return nil }
      let axis = axisAttribute < 0 ? axisAttribute + inShape.count : axisAttribute
      guard axis >= 0 && axis < inShape.count, inShape[..<axis].allSatisfy({ $0 == 1 }) else { return nil }
      guard var index = indices.ints.first, index >= -inShape[axis] && index < inShape[axis] else { return nil }
      if index < 0 { index += inShape[axis] }
      return [index * strides[axis] * size]
    default:
      return nil
    }
  }

  /// Whether a box of `counts` (starting anywhere) inside `shape` is one contiguous run of elements: after
  /// its first dim with more than one element, it spans every dim whole.
  private static func isContiguousRun(_ shape: [Int], _ counts: [Int]) -> Bool {
    guard let first = counts.indices.first(where: { counts[$0] != 1 }) else { return true }
    return counts.indices.allSatisfy { $0 <= first || counts[$0] == shape[$0] }
  }
}
