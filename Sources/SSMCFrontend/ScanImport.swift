import SSMCIR

/// Recognizes ONNX `Scan` nodes whose body is the first-order linear recurrence a scan over a sequence
/// computes (the form `tools/ssmc_export/scan_function.py` emits for SelectiveScan, and exporters of
/// Mamba-style models write), and imports them as `ssmc.LinearScan`; raise-selective-scan then turns the
/// recurrence and the math around it into `ssmc.SelectiveScan` when it is Mamba-1's scan.
///
/// The body is checked by its dataflow, not its names: one state input h, two scan inputs, and nodes
///
///     m = Mul(x, h)   (either operand order; x one scan input)
///     n = Add(m, y)   (either operand order; y the other scan input)
///     outputs: n as the new state, and n (directly or through Identity) as the only scan output
///
/// with nothing else in the body. Every direction must be forward and both scan inputs must scan the same
/// axis. Any other Scan stays unsupported (ssmc does not compile general control flow).
enum ScanImport {
  struct Recurrence {
    var initial: String, a: String, b: String
    var axis: Int, outputAxis: Int
  }

  /// The recurrence `node` computes, or nil when it is not a Scan of this form.
  static func recognize(_ node: ONNXNode, opset: Int) -> Recurrence? {
    guard node.domain == "", node.opType == "Scan", let version = SupportedOpsets.activeVersion(of: "Scan", opset: opset),
      version >= 9, node.inputs.count == 3, node.outputs.count == 2,
      case .int(let scanInputs)? = node.attribute("num_scan_inputs")?.value, scanInputs == 2,
      case .graph(let body)? = node.attribute("body")?.value, body.initializers.isEmpty,
      body.inputs.count == 3, body.outputs.count == 2
    else { return nil }
    guard let inputAxes = node.scanInts("scan_input_axes", count: 2), inputAxes[0] == inputAxes[1],
      let outputAxes = node.scanInts("scan_output_axes", count: 1), node.scanInts("scan_input_directions", count: 2) == [0, 0],
      node.scanInts("scan_output_directions", count: 1) == [0]
    else { return nil }
    let (h, x0, x1) = (body.inputs[0].name, body.inputs[1].name, body.inputs[2].name)
    // Follow Identity nodes back to what they copy.
    var copies: [String: String] = [:]
    var producers: [String: ONNXNode] = [:]
    for n in body.nodes {
      guard n.domain == "", n.attributes.isEmpty, n.outputs.count == 1 else { return nil }
      if n.opType == "Identity", n.inputs.count == 1 { copies[n.outputs[0]] = n.inputs[0] } else { producers[n.outputs[0]] = n }
    }
    func resolve(_ name: String) -> String {
      var name = name
      var steps = 0
      while let next = copies[name], steps < body.nodes.count { name = next; steps += 1 }
      return name
    }
    let newState = resolve(body.outputs[0].name)
    guard resolve(body.outputs[1].name) == newState, producers.count == 2,
      let add = producers[newState], add.opType == "Add", add.inputs.count == 2
    else { return nil }
    let addInputs = add.inputs.map(resolve)
    guard let mulIndex = addInputs.firstIndex(where: { producers[$0]?.opType == "Mul" }) else { return nil }
    let mul = producers[addInputs[mulIndex]]!
    let y = addInputs[1 - mulIndex]
    let mulInputs = mul.inputs.map(resolve)
    guard mulInputs.count == 2, mulInputs.contains(h) else { return nil }
    let x = mulInputs[0] == h ? mulInputs[1] : mulInputs[0]
    guard Set([x, y]) == Set([x0, x1]), x != y, x != h else { return nil }
    let outer = (a: x == x0 ? node.inputs[1] : node.inputs[2], b: y == x0 ? node.inputs[1] : node.inputs[2])
    return Recurrence(initial: node.inputs[0], a: outer.a, b: outer.b, axis: inputAxes[0], outputAxis: outputAxes[0])
  }

  /// Adds the `ssmc.LinearScan` for a recognized Scan; its results are the Scan's final state and scan output.
  static func convert(
    _ recurrence: Recurrence, _ node: ONNXNode, values: [String: ValueID], location: Location, graph: inout Graph
  ) throws(Diagnostic) -> [ValueID] {
    var operands: [ValueID] = []
    for name in [recurrence.initial, recurrence.a, recurrence.b] {
      guard let id = values[name] else {
        throw Diagnostic(.malformedModel, "input '\(name)' is not produced by any earlier node, initializer or graph input", at: location)
      }
      operands.append(id)
    }
    let results = node.outputs.enumerated().map { (i, name) in
      (name: name.isEmpty ? graph.freshName("\(node.name.isEmpty ? "Scan" : node.name)_unused\(i)") : name, type: TensorType?.none)
    }
    return graph.addNode(
      "ssmc.LinearScan", operands,
      attributes: ["axis": .int(recurrence.axis), "output_axis": .int(recurrence.outputAxis)], name: node.name, results: results)
  }
}

extension ONNXNode {
  /// A Scan attribute with one int per scan input or output (axes, directions): all 0 when absent, nil when
  /// it has another count.
  func scanInts(_ name: String, count: Int) -> [Int]? {
    guard let attribute = attribute(name) else { return Array(repeating: 0, count: count) }
    guard case .ints(let values) = attribute.value, values.count == count else { return nil }
    return values.map { Int($0) }
  }
}
