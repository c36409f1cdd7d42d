import SSMCIR

/// Lets `ssmc.SelectiveScan` read and write its sequence tensors through strides instead of copies:
///
///     SelectiveScan(Transpose(x) {perm = [0, 2, 1]}, ...)  →  SelectiveScan(x, ...) {layout_transposed[u] = 1}
///     SelectiveScan(Slice(x) reversing L, ...)            →  SelectiveScan(x, ...) {layout_flipped[u] = 1}
///     y' = Slice(SelectiveScan(...)) reversing L           →  y' = SelectiveScan(...) {layout_flipped[y] = 1}
///
/// and the same for delta, z (inputs) and Transpose on y. A "reversal" is a Slice with constant steps of ±1
/// whose result has its input's shape (static, or the same symbolic dims) and whose only −1 step is on the
/// axis that stores L (the last axis, or the middle one for a transposed operand): such a Slice is exactly
/// the full reversal of that axis. Chains (a Transpose of a reversal, ...) are absorbed step by step, toggling the flags. An input
/// copy with other users stays for them (dce removes it otherwise); an output copy is absorbed only when it
/// is y's only user and y is no graph output, since the scan's result then takes its place.
public struct AbsorbScanLayouts: Pass {
  public let name = "absorb-scan-layouts"
  public init() {}

  public func run(on graph: inout Graph) throws(Diagnostics) -> Bool {
    var changed = false
    let producers = graph.producers()
    // Inputs: rewriting operands leaves the producer map valid (no node moves).
    for i in graph.nodes.indices where graph.nodes[i].op == "ssmc.SelectiveScan" {
      var layout = ScanLayout(graph.nodes[i])
      for (slot, tensor) in selectiveScanSequenceTensors.enumerated() {
        guard let index = tensor.operand, index < graph.nodes[i].operands.count else { continue }
        while let value = graph.nodes[i].operands[index], let p = producers[value] {
          let producer = graph.nodes[p]
          guard let x = producer.operands.first ?? nil, let step = viewStep(graph, producer, transposed: layout.transposed[slot])
          else { break }
          layout.toggle(step, slot)
          graph.nodes[i].operands[index] = x
          changed = true
        }
      }
      layout.store(in: &graph.nodes[i])
    }
    // The output: absorb the sole user of y while it is a view the layout can express.
    var removed = Set<Int>()
    let uses = graph.useCounts()
    var users: [ValueID: Int] = [:]
    for (j, node) in graph.nodes.enumerated() { for case let v? in node.operands { users[v] = j } }
    for i in graph.nodes.indices where graph.nodes[i].op == "ssmc.SelectiveScan" {
      var layout = ScanLayout(graph.nodes[i])
      while let y = graph.nodes[i].results.first, uses[y] == 1, let j = users[y], !removed.contains(j),
        let step = viewStep(graph, graph.nodes[j], transposed: layout.transposed[3]), graph.nodes[j].operands.first == y
      {
        layout.toggle(step, 3)
        let result = graph.nodes[j].results[0]
        graph.nodes[i].results[0] = result
        removed.insert(j)
        changed = true
      }
      layout.store(in: &graph.nodes[i])
    }
    if !removed.isEmpty { graph.nodes = graph.nodes.enumerated().filter { !removed.contains($0.offset) }.map(\.element) }
    return changed
  }

  enum ViewStep { case transpose, flip }

  /// What `node` does to a rank-3 sequence tensor whose stored layout is transposed or not, if the layout
  /// attributes can express it: a Transpose swapping the last two axes, or a full reversal of the L axis.
  func viewStep(_ graph: Graph, _ node: Node, transposed: Bool) -> ViewStep? {
    guard node.results.count == 1, let input = node.operands.first ?? nil, let inType = graph.type(of: input),
      let outType = graph.type(of: node.results[0]), inType.rank == 3, outType.rank == 3
    else { return nil }
    switch node.op {
    case "Transpose":
      return node.attributes["perm"] == .ints([0, 2, 1]) ? .transpose : nil
    case "Slice":
      return reversedAxis(graph, node, inType, outType) == (transposed ? 1 : 2) ? .flip : nil
    default:
      return nil
    }
  }

  /// The one axis a Slice reverses completely while keeping every other axis whole, or nil.
  func reversedAxis(_ graph: Graph, _ node: Node, _ inType: TensorType, _ outType: TensorType) -> Int? {
    // Equal symbolic dims are equal at every size, so the argument below holds for run-time extents too.
    guard outType.dims == inType.dims, node.operands.count >= 5, let stepsValue = node.operands[4],
      let stepsData = graph.constants[stepsValue], let startsValue = node.operands[1], let startsData = graph.constants[startsValue]
    else { return nil }
    let steps = (0..<stepsData.count).map { Int(stepsData.element(at: $0)) }
    var axes = Array(0..<startsData.count)
    if node.operands.count > 3, let axesValue = node.operands[3] {
      guard let data = graph.constants[axesValue] else { return nil }
      axes = (0..<data.count).map { Int(data.element(at: $0)) }
    }
    guard steps.count == axes.count, steps.allSatisfy({ $0 == 1 || $0 == -1 }) else { return nil }
    // With |step| = 1 and the axis's full length kept, step 1 is the identity and step −1 the reversal.
    var reversed: [Int] = []
    for (axis, step) in zip(axes, steps) where step == -1 { reversed.append(axis < 0 ? axis + inType.rank : axis) }
    return reversed.count == 1 ? reversed[0] : nil
  }
}

/// The layout flags of one SelectiveScan, in the order u, delta, z, y.
struct ScanLayout {
  var transposed: [Bool]
  var flipped: [Bool]

  init(_ node: Node) {
    func flags(_ name: String) -> [Bool] {
      if case .ints(let v)? = node.attributes[name], v.count == 4 { return v.map { $0 != 0 } }
      return [false, false, false, false]
    }
    transposed = flags("layout_transposed")
    flipped = flags("layout_flipped")
  }

  mutating func toggle(_ step: AbsorbScanLayouts.ViewStep, _ slot: Int) {
    switch step {
    case .transpose: transposed[slot].toggle()
    case .flip: flipped[slot].toggle()
    }
  }

  /// Writes the flags back, leaving out an all-default attribute so untouched scans print as before.
  func store(in node: inout Node) {
    for (name, flags) in [("layout_transposed", transposed), ("layout_flipped", flipped)] {
      node.attributes[name] = flags.contains(true) ? .ints(flags.map { $0 ? 1 : 0 }) : nil
    }
  }
}
