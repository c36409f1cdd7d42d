import SSMCIR

/// Replaces the exact (erf) GELU that exporters spell out with one Gelu node:
///
///     u = Div(x, 1.41421...) | Mul(x, 0.70710...)
///     y = 0.5 * x * Add(Erf(u), 1)     (the three factors multiplied in any order and grouping)
///       ->  y = Gelu(x)                (approximate = "none")
///
/// The product may be any tree of Mul nodes (operands in either order) whose inner results have no other
/// user. Fires only when the constants are one-element float constants within f32 rounding of 0.5, 1 and
/// sqrt(2) (or 1/sqrt(2)), the same x feeds the Erf argument and the product, the intermediate values have
/// no users outside the pattern and are not graph outputs, and y has x's type. x * Sigmoid(x) (SiLU) is left
/// to fuse-elementwise, since the IR has no SiLU op.
public struct FuseGelu: Pass {
  public let name = "fuse-gelu"
  public init() {}

  public func run(on graph: inout Graph) throws(Diagnostics) -> Bool {
    let patterns = PatternGraph(graph)
    var matches: [FusionMatch] = []
    var claimed = Set<Int>()
    for (i, node) in graph.nodes.enumerated() where node.op == "Mul" && !claimed.contains(i) {
      guard let match = patterns.gelu(at: i, node), match.removed.isDisjoint(with: claimed) else { continue }
      claimed.formUnion(match.removed)
      matches.append(match)
    }
    graph.apply(matches)
    return !matches.isEmpty
  }
}

extension PatternGraph {
  /// The factors of the product `node` computes, descending into operands that are Mul nodes used only there.
  fileprivate func productFactors(_ node: Node, index: Int) -> (factors: [ValueID], nodes: Set<Int>) {
    var factors: [ValueID] = []
    var nodes: Set<Int> = [index]
    for case let operand? in node.operands {
      if let (j, inner) = producer(operand, "Mul"), uses[operand] == 1 {
        let (f, n) = productFactors(inner, index: j)
        factors += f
        nodes.formUnion(n)
      } else {
        factors.append(operand)
      }
    }
    return (factors, nodes)
  }

  fileprivate func gelu(at i: Int, _ node: Node) -> FusionMatch? {
    let (factors, mulNodes) = productFactors(node, index: i)
    guard factors.count == 3, let half = factors.firstIndex(where: { isScalar($0, 0.5) }) else { return nil }
    let rest = factors.enumerated().filter { $0.offset != half }.map(\.element)
    for (x, erfPlusOne) in [(rest[0], rest[1]), (rest[1], rest[0])] {
      guard let (iAdd, add) = producer(erfPlusOne, "Add"), let addOperand = add.operands[0],
        let erfValue = isScalar(addOperand, 1) ? add.operands[1] : (isScalar(add.operands[1], 1) ? addOperand : nil),
        let (iErf, erf) = producer(erfValue, "Erf"), let (iScale, scale) = producer(erf.operands[0], "Div", "Mul"),
        scalesBySqrtHalf(scale, x: x)
      else { continue }
      guard let xType = type(x), xType.element.isFloat, type(node.results[0]) == xType, type(erfPlusOne) == xType
      else { return nil }
      let removed = mulNodes.union([iAdd, iErf, iScale])
      guard onlyUsedInside(removed, root: i) else { return nil }
      let replacement = Node(op: "Gelu", operands: [x], results: node.results, name: node.name)
      return FusionMatch(root: i, removed: removed, replacement: replacement)
    }
    return nil
  }

  /// True for Div(x, sqrt 2), Mul(x, 1/sqrt 2) and Mul(1/sqrt 2, x).
  private func scalesBySqrtHalf(_ node: Node, x: ValueID) -> Bool {
    let sqrtTwo = 2.0.squareRoot()
    if node.op == "Div" { return node.operands[0] == x && isScalar(node.operands[1], sqrtTwo) }
    guard let c = other(than: x, in: node) else { return false }
    return isScalar(c, 1 / sqrtTwo)
  }
}
