import SSMCIR

/// Merges trees of elementwise nodes into one `ssmc.FusedElementwise` node, so each tree is one loop that
/// reads its inputs once and writes one result, instead of one loop and one stored tensor per node:
///
///     %s = Sigmoid(%x); %y = Mul(%x, %s)
///       ->  %y = ssmc.FusedElementwise(%x) {expr = "Mul(a0, Sigmoid(a0))"}
///     %t = Mul(%a, %b); %u = Add(%c, %t); %y = Gelu(%u)     (%a, %b, %c of the result's shape or broadcast)
///       ->  %y = ssmc.FusedElementwise(%c, %a, %b) {expr = "Gelu(Add(a0, Mul(a1, a2)))"}
///
/// Algorithm: walk the nodes from last to first; each elementwise node not yet taken roots a group, which
/// absorbs the producer of an operand when that producer is elementwise (`ElementwiseExpression.callableOps`,
/// attributes plain numbers or strings), its result has this one use (no other node, no graph output), and
/// its result has the root's shape, so nothing is computed more often than before. Absorbed producers'
/// operands are tried in turn. One-element constants become literals (`Mul(a0, 0.5)`) where the expression
/// can type them; other values become operands `aK`, numbered in order of first appearance. Groups of one
/// node stay as they are. Must not fire across a value with several users or a graph output (it stays
/// materialized and becomes an operand), nor absorb a producer whose result is smaller than the root's
/// (a per-row factor would be recomputed per element).
public struct FuseElementwise: Pass {
  public let name = "fuse-elementwise"
  public init() {}

  public func run(on graph: inout Graph) throws(Diagnostics) -> Bool {
    let patterns = PatternGraph(graph)
    var taken = Set<Int>()
    var matches: [FusionMatch] = []
    for i in graph.nodes.indices.reversed() where !taken.contains(i) && patterns.isFusable(graph.nodes[i]) {
      var builder = GroupBuilder(patterns: patterns, root: i, taken: taken)
      guard let match = builder.build() else { continue }
      taken.formUnion(match.removed)
      matches.append(match)
    }
    graph.apply(matches)
    return !matches.isEmpty
  }
}

extension PatternGraph {
  /// True for a node the expression language can state: a callable op with one result, every operand
  /// present and typed, attributes that are numbers or unquoted-safe strings.
  func isFusable(_ node: Node) -> Bool {
    guard ElementwiseExpression.callableOps.contains(node.op), node.results.count == 1, type(node.results[0]) != nil,
      node.operands.allSatisfy({ $0 != nil && type($0) != nil })
    else { return false }
    return node.attributes.values.allSatisfy { value in
      switch value {
      case .int, .float: true
      case .string(let s): !s.contains("'")
      default: false
      }
    }
  }
}

/// Grows one group from its root and writes its expression.
private struct GroupBuilder {
  let patterns: PatternGraph
  let root: Int
  var taken: Set<Int>
  var removed: Set<Int> = []
  var operands: [ValueID] = []
  let rootType: TensorType

  init(patterns: PatternGraph, root: Int, taken: Set<Int>) {
    self.patterns = patterns
    self.root = root
    self.taken = taken
    rootType = patterns.type(patterns.graph.nodes[root].results[0])!
  }

  mutating func build() -> FusionMatch? {
    let node = patterns.graph.nodes[root]
    removed = [root]
    let expression = call(node)
    guard removed.count > 1 else { return nil }
    let replacement = Node(
      op: "ssmc.FusedElementwise", operands: operands, results: node.results,
      attributes: ["expr": .string(expression.description)], name: node.name)
    // The shape rule must give back the root's type; anything else means the expression does not say what
    // the nodes computed, so the group is dropped rather than trusted.
    guard let schema = OpRegistry.schema(replacement.op),
      let inferred = try? schema.inferTypes(patterns.graph.context(for: replacement)), inferred == [rootType]
    else { return nil }
    return FusionMatch(root: root, removed: removed, replacement: replacement)
  }

  /// The expression of `node` with its absorbable producers inlined.
  private mutating func call(_ node: Node) -> ElementwiseExpression {
    let values = node.operands.map { $0! }
    let literals = literalTexts(node)
    var arguments: [ElementwiseExpression] = []
    for (k, v) in values.enumerated() {
      if let text = literals[k] {
        arguments.append(.literal(text))
      } else if let j = patterns.producers[v], absorbable(j, value: v) {
        taken.insert(j)
        removed.insert(j)
        arguments.append(call(patterns.graph.nodes[j]))
      } else {
        arguments.append(.operand(operandIndex(v)))
      }
    }
    return .call(op: node.op, attributes: node.attributes, arguments: arguments)
  }

  private func absorbable(_ index: Int, value: ValueID) -> Bool {
    !taken.contains(index) && patterns.uses[value] == 1 && patterns.isFusable(patterns.graph.nodes[index])
      && patterns.type(value)?.dims == rootType.dims
  }

  private mutating func operandIndex(_ v: ValueID) -> Int {
    if let i = operands.firstIndex(of: v) { return i }
    operands.append(v)
    return operands.count - 1
  }

  /// Operands of `node` written as literals: one-element f32, f64 or signed integer constants (not NaN, whose
  /// sign and payload a literal would not keep) no larger in rank than the result, with the element type of
  /// the first value argument that stays a value.
  private func literalTexts(_ node: Node) -> [Int: String] {
    let range = ElementwiseExpression.valueArguments(of: node.op, count: node.operands.count)
    var candidates: [Int: TensorData] = [:]
    for k in range {
      guard let v = node.operands[k], let data = patterns.graph.constants[v], data.count == 1,
        data.shape.count <= rootType.rank, data.element == .f32 || data.element == .f64 || data.element.isSignedInteger, !data.doubles[0].isNaN
      else { continue }
      candidates[k] = data
    }
    guard let anchor = range.first(where: { candidates[$0] == nil }), let element = patterns.type(node.operands[anchor])?.element
    else { return [:] }
    var texts: [Int: String] = [:]
    for (k, data) in candidates where data.element == element {
      switch element {
      case .f32: texts[k] = Float(data.doubles[0]).description
      case .f64: texts[k] = data.doubles[0].description
      default: texts[k] = String(data.ints[0])
      }
    }
    return texts
  }
}
