import SSMCIR

/// Folds the math an imported Mamba scan leaves around `ssmc.SelectiveScan` into the node, where it is exactly
/// what `selective_scan_fn` computes (docs/ops/SelectiveScan.md), in this order, until nothing changes:
///
///     delta = Where(c, a, b), c a constant all-true/all-false  →  delta = a or b
///     delta = Softplus(x) or Where(Greater(x, 20), x, Softplus(x)), no bias yet  →  x, delta_softplus = 1
///     delta = Add(x, b), b per channel ((D, 1) or (1, D, 1)), no bias yet  →  x, delta_bias = b as (D)
///     Add(y, Mul(Dcol, u)), u the scan's own u, no D and no z yet  →  D operand, the Add's result is y
///     Mul(y, Mul(z, Sigmoid(z))), z of u's shape, no z yet  →  z operand, the Mul's result is y
///     u, delta, B, C (, z) all full reversals of L and y's only user one too  →  the unreversed operands,
///         reverse = 1 − reverse, the final reversal's result is y
///
/// Gathers with indices [0, …, L−1] (the exported body's reverse = 0 path) on those operands are dropped, and
/// single-use Reshapes/identity Gathers after y that end at y's type hand their result to the scan.
///
/// The softplus fold needs no bias yet because the bias goes in before the softplus; D needs no z yet because
/// the gate multiplies the skip term too. On the y side the match looks through single-use Reshapes back to
/// y's shape (raise-selective-scan leaves some). A folded delta, y and every value on y's chain must have a
/// single user, so no work is duplicated (a reversal or identity Gather of an input may have other users: it
/// stays for them, the scan reads its input); dce runs after each fold so bypassed nodes stop counting as uses.
public struct FoldScanOperands: Pass {
  public let name = "fold-scan-operands"
  public init() {}

  public func run(on graph: inout Graph) throws(Diagnostics) -> Bool {
    guard graph.nodes.contains(where: { $0.op == "ssmc.SelectiveScan" }) else { return false }
    // raise-selective-scan leaves the dead LinearScan chain reading delta and u: drop it before counting uses.
    var changed = try EliminateDeadCode().run(on: &graph)
    sweep: while true {
      let pattern = PatternGraph(graph)
      for i in graph.nodes.indices where graph.nodes[i].op == "ssmc.SelectiveScan" {
        guard let folded = fold(pattern, scanAt: i) else { continue }
        graph = folded
        _ = try EliminateDeadCode().run(on: &graph)
        changed = true
        continue sweep
      }
      return changed
    }
  }

  /// The graph with one fold applied to the scan at `index`, or nil when none applies.
  private func fold(_ p: PatternGraph, scanAt index: Int) -> Graph? {
    let scan = p.graph.nodes[index]
    guard scan.results.count == 1, scan.attributes["layout_transposed"] == nil, scan.attributes["layout_flipped"] == nil,
      let u = scan.operands[0], let uShape = p.type(u)?.staticShape, uShape.count == 3, p.type(scan.results[0])?.staticShape == uShape
    else { return nil }
    // Identities last: the skip term reads the same (identity-gathered) u value the scan does until then.
    return foldDelta(p, index, scan) ?? foldSkip(p, index, scan, channels: uShape[1]) ?? foldGate(p, index, scan)
      ?? foldReversal(p, index, scan) ?? foldIdentities(p, index, scan)
  }

  // MARK: identities: exporters gather with [0, …, L−1] for reverse = 0; Reshapes back to y's shape

  private func foldIdentities(_ p: PatternGraph, _ index: Int, _ scan: Node) -> Graph? {
    var node = scan
    for k in [0, 1, 3, 4, 6] where operand(scan, k) != nil {
      if let rank = p.type(scan.operands[k])?.rank, let source = p.identityGatherSource(scan.operands[k], axis: rank - 1) {
        node.operands[k] = source
      }
    }
    if node != scan { return replacing(p.graph, index, with: node) }
    guard let views = p.identityViews(scan.results[0]), let root = views.chain.last else { return nil }
    return moving(p.graph, scan, from: index, over: Array(views.chain.dropLast()), to: root, before: [])
  }

  // MARK: delta: constant selection, softplus, bias

  private func foldDelta(_ p: PatternGraph, _ index: Int, _ scan: Node) -> Graph? {
    guard let delta = scan.operands[1], p.uses[delta] == 1, p.type(delta) == p.type(scan.operands[0]) else { return nil }
    var node = scan
    if let chosen = p.constantSelection(delta) {
      node.operands[1] = chosen
      return replacing(p.graph, index, with: node)
    }
    let hasBias = operand(scan, 7) != nil
    if flag(scan, "delta_softplus") == 0, !hasBias, let x = p.softplusInput(delta), p.type(x) == p.type(delta) {
      node.operands[1] = x
      node.attributes["delta_softplus"] = .int(1)
      return replacing(p.graph, index, with: node)
    }
    guard !hasBias, let add = p.producer(delta, "Add")?.node, add.operands.count == 2, let channels = p.type(delta)?.staticShape?[1]
    else { return nil }
    for (x, b) in [(add.operands[0], add.operands[1]), (add.operands[1], add.operands[0])] {
      guard let x, let b, p.type(x) == p.type(delta), let vector = p.channelVector(b, channels: channels) else { continue }
      var graph = p.graph
      var sink = NodeSink()
      guard let bias = vector.materialize(&graph, &sink, channels: channels, name: "delta_bias") else { return nil }
      node.operands[1] = x
      set(&node, 7, bias)
      graph.nodes[index] = node
      graph.nodes.insert(contentsOf: sink.nodes, at: index)
      return graph
    }
    return nil
  }

  // MARK: y: skip term, gate, reversal

  private func foldSkip(_ p: PatternGraph, _ index: Int, _ scan: Node, channels: Int) -> Graph? {
    guard operand(scan, 5) == nil, operand(scan, 6) == nil, let user = p.resultUser(scan.results[0]), user.node.op == "Add",
      let term = p.other(than: user.value, in: user.node), p.uses[term] == 1, let mul = p.producer(term, "Mul")?.node,
      mul.operands.count == 2, let u = scan.operands[0]
    else { return nil }
    for (dcol, x) in [(mul.operands[0], mul.operands[1]), (mul.operands[1], mul.operands[0])] {
      guard x == u, let dcol, let vector = p.channelVector(dcol, channels: channels) else { continue }
      var graph = p.graph
      var sink = NodeSink()
      guard let d = vector.materialize(&graph, &sink, channels: channels, name: "D") else { return nil }
      var node = scan
      set(&node, 5, d)
      return moving(graph, node, from: index, over: user.reshapes, to: user.index, before: sink.nodes)
    }
    return nil
  }

  private func foldGate(_ p: PatternGraph, _ index: Int, _ scan: Node) -> Graph? {
    guard operand(scan, 6) == nil, let user = p.resultUser(scan.results[0]), user.node.op == "Mul",
      let gate = p.other(than: user.value, in: user.node), gate != user.value, p.uses[gate] == 1,
      let silu = p.producer(gate, "Mul")?.node, silu.operands.count == 2
    else { return nil }
    for (z, s) in [(silu.operands[0], silu.operands[1]), (silu.operands[1], silu.operands[0])] {
      guard let z, p.type(z) == p.type(scan.operands[0]), let sigmoid = p.producer(s, "Sigmoid")?.node,
        sigmoid.operands.first == z
      else { continue }
      var node = scan
      set(&node, 6, z)
      return moving(p.graph, node, from: index, over: user.reshapes, to: user.index, before: [])
    }
    return nil
  }

  private func foldReversal(_ p: PatternGraph, _ index: Int, _ scan: Node) -> Graph? {
    guard let user = p.resultUser(scan.results[0]), p.reversalSource(user.node.results[0], axis: 2) == user.value else { return nil }
    var node = scan
    for k in [0, 1, 3, 4, 6] where operand(scan, k) != nil {
      guard let rank = p.type(scan.operands[k])?.rank, let source = p.reversalSource(scan.operands[k], axis: rank - 1) else { return nil }
      node.operands[k] = source
    }
    node.attributes["reverse"] = .int(1 - flag(scan, "reverse"))
    return moving(p.graph, node, from: index, over: user.reshapes, to: user.index, before: [])
  }

  // MARK: helpers

  private func operand(_ node: Node, _ k: Int) -> ValueID? { k < node.operands.count ? node.operands[k] : nil }

  private func set(_ node: inout Node, _ k: Int, _ value: ValueID) {
    while node.operands.count <= k { node.operands.append(nil) }
    node.operands[k] = value
  }

  private func flag(_ node: Node, _ name: String) -> Int {
    if case .int(let v)? = node.attributes[name] { return v }
    return 0
  }

  private func replacing(_ graph: Graph, _ index: Int, with node: Node) -> Graph {
    var graph = graph
    graph.nodes[index] = node
    return graph
  }

  /// The scan takes over the result of the node at `root` (its y-side user) and moves there, after `inserted`:
  /// every new operand was read by a node before the root, so the order stays topological. The Reshapes between
  /// and the root itself go away; their other inputs become dead and dce drops them.
  private func moving(_ graph: Graph, _ scan: Node, from index: Int, over reshapes: [Int], to root: Int, before inserted: [Node]) -> Graph {
    var graph = graph
    var node = scan
    node.results[0] = graph.nodes[root].results[0]
    let removed = Set(reshapes + [index])
    var kept: [Node] = []
    for (k, n) in graph.nodes.enumerated() where !removed.contains(k) {
      if k == root {
        kept += inserted
        kept.append(node)
      } else {
        kept.append(n)
      }
    }
    graph.nodes = kept
    return graph
  }
}
