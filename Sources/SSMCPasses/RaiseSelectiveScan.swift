import SSMCIR

/// Raises a linear recurrence and its readout to Mamba-1's selective scan:
///
///     hs = LinearScan(0, a, b) {axis = 2, output_axis = 2}      a, b, hs: (batch, D, L, N)
///     y  = ReduceSum(views(hs) · views(C), axes = the N axis)
///       →  y = Reshape(SelectiveScan(u, Δ, A, B, C))   when a = exp(Δ·A) and b = Δ·u·B (see `ScanFactors`)
///
/// "views" are Reshape/Transpose/Unsqueeze/Squeeze/Expand chains and broadcasts, tracked exactly by `Layout`;
/// the ReduceSum's input must be hs (re-viewed with the N axis last) times one other factor C. The rewrite
/// fires only when the scan starts from a constant zero state, its final state is unused, and hs feeds
/// nothing but this readout; otherwise the LinearScan stays and compiles through its general lowering.
public struct RaiseSelectiveScan: Pass {
  public let name = "raise-selective-scan"
  public init() {}

  static let viewOps: Set<String> = ["Reshape", "Squeeze", "Unsqueeze", "Flatten", "Identity", "Transpose", "Expand", "Mul"]

  public func run(on graph: inout Graph) throws(Diagnostics) -> Bool {
    var changed = false
    var index = 0
    while index < graph.nodes.count {
      if graph.nodes[index].op == "ReduceSum", let inserted = raise(&graph, readoutAt: index) {
        changed = true
        index += inserted
      }
      index += 1
    }
    return changed
  }

  /// Rewrites the readout at `index` when it closes a Mamba-1 scan; returns the number of nodes inserted.
  private func raise(_ graph: inout Graph, readoutAt index: Int) -> Int? {
    let readout = graph.nodes[index]
    let terms = TermBuilder(graph)
    guard let x = readout.operands.first ?? nil, let xShape = terms.shape(x), let yShape = terms.shape(readout.results[0]),
      let factors = terms.term(x)?.factors, factors.count == 2
    else { return nil }
    let producers = terms.producers
    // Which factor reads a LinearScan's all-states result?
    for (hi, ci) in [(0, 1), (1, 0)] {
      guard let hLeaf = factors[hi].leaf, let cLeaf = factors[ci].leaf, let scanIndex = producers[hLeaf.source] else { continue }
      let scan = graph.nodes[scanIndex]
      guard scan.op == "ssmc.LinearScan", scan.results[1] == hLeaf.source, scan.attributes["axis"] == .int(2),
        scan.attributes["output_axis"] == .int(2), let hShape = terms.shape(hLeaf.source), hShape.count == 4
      else { continue }
      let (numel, state) = (hShape.reduce(1, *), hShape[3])
      // The readout input must be hs merely re-viewed, with the reduced axes the trailing ones covering N.
      guard hLeaf.reshaped([numel])?.canonical == Layout.identity(hLeaf.source, shape: [numel]),
        let axes = reducedAxes(graph, readout, rank: xShape.count),
        axes == Array((xShape.count - axes.count)..<xShape.count), axes.map({ xShape[$0] }).reduce(1, *) == state,
        yShape.reduce(1, *) * state == numel,
        let c = cLeaf.reshaped(hShape),
        isZero(graph, scan.operands[0]), graph.useCounts()[scan.results[0], default: 0] == 0,
        onlyFeeds(graph, scan.results[1], readout: index),
        case .exp(let exponent)? = terms.term(scan.operands[1]!).map({ $0.factors.count == 1 ? $0.factors[0] : $0 }),
        let input = terms.term(scan.operands[2]!)
      else { continue }
      let pieces = ScanFactors(dims: hShape, decay: exponent.factors, input: input.factors, readout: c)
      var sink = NodeSink()
      var g = graph
      guard let y = pieces.emit(&g, &sink, name: readout.name.isEmpty ? "selective_scan" : readout.name),
        let out = sink.reshape(&g, y, to: yShape, name: (readout.name.isEmpty ? "selective_scan" : readout.name) + "_y")
      else { continue }
      g.splice(sink.nodes, before: index, replacing: [readout.results[0]: out])
      graph = g
      return sink.nodes.count
    }
    return nil
  }

  private func reducedAxes(_ graph: Graph, _ node: Node, rank: Int) -> [Int]? {
    guard node.operands.count > 1, let axesValue = node.operands[1], let data = graph.constants[axesValue] else { return nil }
    let axes = (0..<data.count).map { Int(data.element(at: $0)) }.map { $0 < 0 ? $0 + rank : $0 }
    guard axes.allSatisfy({ (0..<rank).contains($0) }) else { return nil }
    return axes.sorted()
  }

  private func isZero(_ graph: Graph, _ value: ValueID?) -> Bool {
    guard let value, let data = graph.constants[value] else { return false }
    return (0..<data.count).allSatisfy { data.element(at: $0) == 0 }
  }

  /// Whether every path from `value` goes through single-use view/Mul nodes into the readout at `readout`.
  private func onlyFeeds(_ graph: Graph, _ value: ValueID, readout: Int) -> Bool {
    let uses = graph.useCounts()
    var users: [ValueID: [Int]] = [:]
    for (i, node) in graph.nodes.enumerated() { for case let v? in node.operands { users[v, default: []].append(i) } }
    var current = value
    for _ in 0..<64 {
      guard uses[current] == 1, let next = users[current]?.first else { return false }
      if next == readout { return true }
      let node = graph.nodes[next]
      guard Self.viewOps.contains(node.op), node.results.count == 1 else { return false }
      current = node.results[0]
    }
    return false
  }
}
