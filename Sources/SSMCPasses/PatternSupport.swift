import SSMCIR

/// What the fusion passes ask of a graph while matching: who produces a value, how often it is used,
/// constants read as scalars. A match is a set of node indices plus the node that replaces them; `apply`
/// rewrites all matches in one sweep.
struct PatternGraph {
  let graph: Graph
  let producers: [ValueID: Int]
  /// Uses as an operand or graph output.
  let uses: [ValueID: Int]
  /// The nodes reading each value, by index (a node reading a value twice is listed twice).
  let users: [ValueID: [Int]]

  init(_ graph: Graph) {
    self.graph = graph
    producers = graph.producers()
    uses = graph.useCounts()
    var users: [ValueID: [Int]] = [:]
    for (i, node) in graph.nodes.enumerated() { for case let v? in node.operands { users[v, default: []].append(i) } }
    self.users = users
  }

  /// The one node that uses `value`, when it has exactly one use (an operand of that node, not a graph output).
  func soleUser(_ value: ValueID) -> (index: Int, node: Node)? {
    guard uses[value] == 1, let i = users[value]?.first else { return nil }
    return (i, graph.nodes[i])
  }

  /// The node producing `value` with op `op` (one of `ops`), with its index.
  func producer(_ value: ValueID?, _ ops: String...) -> (index: Int, node: Node)? {
    guard let value, let i = producers[value], ops.contains(graph.nodes[i].op) else { return nil }
    return (i, graph.nodes[i])
  }

  func type(_ value: ValueID?) -> TensorType? { value.flatMap { graph.type(of: $0) } }

  /// The value of a constant holding one element (of any rank), as Double.
  func scalar(_ value: ValueID?) -> Double? {
    guard let value, let data = graph.constants[value], data.count == 1 else { return nil }
    return data.doubles[0]
  }

  /// True when `value` is a one-element float constant within `relativeTolerance` of `expected`.
  func isScalar(_ value: ValueID?, _ expected: Double, relativeTolerance: Double = 1e-6) -> Bool {
    guard let v = scalar(value), type(value)?.element.isFloat == true else { return false }
    return Swift.abs(v - expected) <= relativeTolerance * Swift.abs(expected)
  }

  /// For a commutative binary node, the operand other than `value` (nil if `value` is not an operand).
  func other(than value: ValueID, in node: Node) -> ValueID? {
    guard node.operands.count == 2 else { return nil }
    if node.operands[0] == value { return node.operands[1] }
    if node.operands[1] == value { return node.operands[0] }
    return nil
  }

  /// The first axis of a keepdims reduction over the trailing axes [axis, rank) of its input; nil for any
  /// other reduction (inner axes, dropped dims, no-op).
  func trailingReductionAxis(_ node: Node) -> Int? {
    guard let input = type(node.operands[0]) else { return nil }
    let context = graph.context(for: node)
    guard (try? context.flag("keepdims")) == true, (try? context.flag("noop_with_empty_axes")) == false else { return nil }
    let rank = input.rank
    var axes: [Int]
    if context.has(1) {
      guard let given = try? context.constantInts(1), !given.isEmpty,
        let normalized = try? context.normalizedAxes(given, rank: rank)
      else { return nil }
      axes = normalized
    } else {
      axes = Array(0..<rank)
    }
    axes.sort()
    guard let first = axes.first, axes == Array(first..<rank) else { return nil }
    return first
  }

  /// True when every result of the nodes in `matched` other than `root` is used only by matched nodes (and
  /// is no graph output), so the nodes can all be replaced by one computing the root's result.
  func onlyUsedInside(_ matched: Set<Int>, root: Int) -> Bool {
    var inside: [ValueID: Int] = [:]
    for i in matched {
      for case let v? in graph.nodes[i].operands { inside[v, default: 0] += 1 }
    }
    for i in matched where i != root {
      for r in graph.nodes[i].results where uses[r, default: 0] != inside[r, default: 0] { return false }
    }
    return true
  }
}

/// One rewrite: the nodes `removed` (which include `root`) give way to `replacement`, placed where the root
/// was. The replacement takes over the root's result value, so its users and its name are unchanged.
struct FusionMatch {
  var root: Int
  var removed: Set<Int>
  var replacement: Node
}

extension Graph {
  /// Applies non-overlapping matches in one pass over the node list. Placing each replacement at its root
  /// keeps the order topological: every operand of the replacement was an operand of a node before the root.
  mutating func apply(_ matches: [FusionMatch]) {
    guard !matches.isEmpty else { return }
    var replacementAt: [Int: Node] = [:]
    var removed = Set<Int>()
    for m in matches {
      precondition(removed.isDisjoint(with: m.removed), "fusion matches overlap")
      removed.formUnion(m.removed)
      replacementAt[m.root] = m.replacement
    }
    var kept: [Node] = []
    for (i, node) in nodes.enumerated() {
      if let replacement = replacementAt[i] { kept.append(replacement) } else if !removed.contains(i) { kept.append(node) }
    }
    nodes = kept
  }
}
