import SSMCIR

/// A value seen as elementwise math over views of other values: products and exponentials of leaves, each
/// leaf a `Layout` into a value that is not itself a view, Mul or Exp. The raising passes read the factors
/// of a scan's decay and input terms from this form, whatever Reshape/Transpose/Unsqueeze/Expand chains
/// and broadcasts the exporter put between them.
indirect enum Term {
  case leaf(Layout)
  case product([Term])
  case exp(Term)

  func mapLeaves(_ f: (Layout) -> Layout?) -> Term? {
    switch self {
    case .leaf(let l): return f(l).map(Term.leaf)
    case .product(let ts):
      var out: [Term] = []
      for t in ts {
        guard let m = t.mapLeaves(f) else { return nil }
        out.append(m)
      }
      return .product(out)
    case .exp(let t): return t.mapLeaves(f).map(Term.exp)
    }
  }

  /// The factors of a product (nested products flattened); a lone leaf or exp is one factor.
  var factors: [Term] {
    if case .product(let ts) = self { return ts.flatMap(\.factors) }
    return [self]
  }

  /// The layout of a factor that is a plain leaf.
  var leaf: Layout? { if case .leaf(let l) = self { l } else { nil } }
}

/// Builds `Term`s over a graph with static f32 shapes.
struct TermBuilder {
  let graph: Graph
  let producers: [ValueID: Int]
  /// Nodes a builder may visit in all: shared Mul operands are walked once per use, so a chain of squarings
  /// would otherwise take exponential time. Past the budget, values become leaves (no raising, still correct).
  private final class Budget { var left = 4096 }
  private let budget = Budget()

  init(_ graph: Graph) {
    self.graph = graph
    self.producers = graph.producers()
  }

  func shape(_ v: ValueID) -> [Int]? { graph.type(of: v)?.staticShape }

  /// The term of `value` over its own shape.
  func term(_ value: ValueID, depth: Int = 0) -> Term? {
    guard let shape = shape(value) else { return nil }
    let leaf = Term.leaf(.identity(value, shape: shape))
    guard depth < 64, budget.left > 0, graph.constants[value] == nil, let index = producers[value] else { return leaf }
    budget.left -= 1
    let node = graph.nodes[index]
    guard node.results.count == 1, let x = node.operands.first ?? nil else { return leaf }
    switch node.op {
    case "Reshape", "Squeeze", "Unsqueeze", "Flatten", "Identity":
      return term(x, depth: depth + 1)?.mapLeaves { $0.reshaped(shape) } ?? leaf
    case "Transpose":
      guard let rank = graph.type(of: x)?.rank else { return leaf }
      let perm: [Int]
      if case .ints(let p)? = node.attributes["perm"] { perm = p } else { perm = Array((0..<rank).reversed()) }
      return term(x, depth: depth + 1)?.mapLeaves { $0.transposed(perm) } ?? leaf
    case "Expand":
      return term(x, depth: depth + 1)?.mapLeaves { $0.broadcast(to: shape) } ?? leaf
    case "Mul" where graph.type(of: value)?.element == .f32:
      var factors: [Term] = []
      for case let operand? in node.operands {
        guard let t = term(operand, depth: depth + 1)?.mapLeaves({ $0.broadcast(to: shape) }) else { return leaf }
        factors.append(t)
      }
      return .product(factors)
    case "Exp" where graph.type(of: value)?.element == .f32:
      return term(x, depth: depth + 1).map(Term.exp) ?? leaf
    default:
      return leaf
    }
  }
}

/// Appends new nodes (to be spliced into the graph before a given node) with result types from the schemas.
struct NodeSink {
  var nodes: [Node] = []

  mutating func add(_ graph: inout Graph, _ op: String, _ operands: [ValueID?], _ attributes: [String: Attribute] = [:], name: String, results: Int = 1) -> [ValueID]? {
    let ids = (0..<results).map { i in graph.addValue(name: graph.freshName(results == 1 ? name : "\(name)_\(i)"), type: nil) }
    let node = Node(op: op, operands: operands, results: ids, attributes: attributes, name: name)
    guard let schema = OpRegistry.schema(op), let types = try? schema.inferTypes(graph.context(for: node)), types.count == results else {
      return nil
    }
    for (id, t) in zip(ids, types) { graph[id].type = t }
    // Views of constants (A re-laid out) become constants now: the passes after raising do not fold again.
    if let folded = Folding.tryFold(node, schema: schema, context: graph.context(for: node), limit: FoldConstants().limit) {
      for (id, data) in zip(ids, folded) { graph.constants[id] = data }
      return ids
    }
    nodes.append(node)
    return ids
  }

  mutating func add1(_ graph: inout Graph, _ op: String, _ operands: [ValueID?], _ attributes: [String: Attribute] = [:], name: String) -> ValueID? {
    add(&graph, op, operands, attributes, name: name)?.first
  }

  mutating func reshape(_ graph: inout Graph, _ x: ValueID, to shape: [Int], name: String) -> ValueID? {
    if graph.type(of: x)?.staticShape == shape { return x }
    let target = graph.addConstant(name: graph.freshName(name + "_shape"), TensorData(int64s: shape.map(Int64.init)))
    return add1(&graph, "Reshape", [x, target], name: name)
  }

  /// A value holding exactly what `layout` reads, as a tensor of `layout.shape`: Reshape the source into the
  /// layout's non-broadcast digits ordered by stride, Transpose them into place, Expand the broadcast digits.
  /// Nil unless the non-broadcast digits cover the source exactly once (a permuted row-major layout).
  mutating func materialize(_ graph: inout Graph, _ layout: Layout, name: String) -> ValueID? {
    guard let sourceShape = graph.type(of: layout.source)?.staticShape else { return nil }
    let canonical = layout.canonical
    let fine = canonical.axes.flatMap { $0 }
    let real = fine.indices.filter { fine[$0].stride != 0 }
    let byStride = real.sorted { fine[$0].stride > fine[$1].stride }
    var expected = 1
    for i in byStride.reversed() {
      guard fine[i].stride == expected else { return nil }
      expected *= fine[i].size
    }
    guard expected == sourceShape.reduce(1, *) else { return nil }
    // Digits already in the source's order and nothing broadcast: a plain Reshape.
    if real.count == fine.count && real == byStride { return reshape(&graph, layout.source, to: layout.shape, name: name) }
    guard var x = reshape(&graph, layout.source, to: byStride.map { fine[$0].size }, name: name + "_split") else { return nil }
    // Transpose the real digits from stride order into the layout's order.
    let perm = real.map { byStride.firstIndex(of: $0)! }
    if perm != Array(perm.indices) {
      guard let t = add1(&graph, "Transpose", [x], ["perm": .ints(perm)], name: name + "_order") else { return nil }
      x = t
    }
    let fineShape = fine.map(\.size)
    if real.count != fine.count {
      let ones = fine.map { $0.stride == 0 ? 1 : $0.size }
      guard let r = reshape(&graph, x, to: ones, name: name + "_unsqueeze") else { return nil }
      let target = graph.addConstant(name: graph.freshName(name + "_expand_shape"), TensorData(int64s: fineShape.map(Int64.init)))
      guard let e = add1(&graph, "Expand", [r, target], name: name + "_expand") else { return nil }
      x = e
    }
    return reshape(&graph, x, to: layout.shape, name: name)
  }
}

extension Graph {
  /// Inserts `nodes` before node `index` and redirects every use of each `replacements` key to its value.
  mutating func splice(_ nodes: [Node], before index: Int, replacing replacements: [ValueID: ValueID]) {
    self.nodes.insert(contentsOf: nodes, at: index)
    for (old, new) in replacements { replaceUses(of: old, with: new) }
  }
}
