import SSMCIR

/// ONNX `Scan` that is not a linear recurrence (see ScanImport.swift), unrolled at import like `Loop`: one
/// copy of the body per position of the scanned axis, fed that position's slices (Gather), with the scan
/// outputs stacked (Unsqueeze + Concat) in their directions. Scan-8's batch axis becomes one such scan per
/// batch entry. The sequence length must be known at import, so the scan inputs' shapes are inferred there
/// (`importTimeType`).
extension Importer {
  static func isScan(_ node: ONNXNode) -> Bool { node.domain.isEmpty && node.opType == "Scan" }

  mutating func unrollScan(_ node: ONNXNode, operands: [ValueID?], opset: Int, location: Location) {
    func fail(_ message: String) { refuse(node, message, at: location) }
    guard let version = SupportedOpsets.activeVersion(of: "Scan", opset: opset) else { return fail("Scan is not defined in opset \(opset)") }
    guard case .graph(let body)? = node.attribute("body")?.value,
      case .int(let scanInputCount)? = node.attribute("num_scan_inputs")?.value
    else { return fail("Scan needs the attributes 'body' and 'num_scan_inputs'") }
    // Scan-8 has a leading sequence_lens input and a batch axis 0 on every input and output.
    let batched = version < 9
    let first = batched ? 1 : 0
    let m = Int(scanInputCount)
    let n = node.inputs.count - first - m
    let k = body.outputs.count - n
    guard m >= 1, n >= 0, k >= 0, body.inputs.count == n + m, node.outputs.count == n + k,
      operands[first...].allSatisfy({ $0 != nil })
    else {
      return fail("Scan's body takes \(body.inputs.count) inputs and gives \(body.outputs.count) outputs, which do not fit the node's \(node.inputs.count) inputs, \(node.outputs.count) outputs and num_scan_inputs \(m)")
    }
    let directionsName = batched ? "directions" : "scan_input_directions"
    guard let inputAxes = batched ? Array(repeating: 0, count: m) : node.scanInts("scan_input_axes", count: m),
      let inputDirections = node.scanInts(directionsName, count: m),
      let outputAxes = batched ? Array(repeating: 0, count: k) : node.scanInts("scan_output_axes", count: k),
      let outputDirections = batched ? Array(repeating: 0, count: k) : node.scanInts("scan_output_directions", count: k)
    else { return fail("Scan's axes and directions attributes must have one entry per scan input or output") }
    let prefix = node.name.isEmpty ? "scan" : node.name
    let states = operands[first..<(first + n)].map { $0! }
    let scanned = operands[(first + n)...].map { $0! }
    var plan = ScanPlan(
      body: body, inputAxes: inputAxes, inputDirections: inputDirections, outputAxes: outputAxes,
      outputDirections: outputDirections, prefix: prefix, location: location)
    guard batched else {
      switch scanSteps(plan, states: states, scanned: scanned) {
      case .success(let (finalStates, outputs)):
        for (name, value) in zip(node.outputs, finalStates + outputs) where !name.isEmpty { values[name] = value }
      case .failure(let problem): problem.message.isEmpty ? failedValues.formUnion(node.outputs) : fail(problem.message)
      }
      return
    }
    // Scan-8: one scan per batch entry, the results stacked along the batch axis again.
    guard let batch = scanned.first.flatMap({ importTimeType($0)?.staticShape?.first }), batch >= 1 else {
      return fail("Scan-8's batch size must be known at import (ssmc unrolls Scan)")
    }
    if let lengths = operands[0] {
      let full = importTimeType(scanned[0])?.staticShape.flatMap { $0.count > 1 ? $0[1] : nil }
      guard let given = importTimeConstant(lengths)?.ints, given.allSatisfy({ $0 == full }) else {
        return fail("Scan-8's sequence_lens must be known at import and equal the full sequence length")
      }
    }
    plan.prefix = "\(prefix)/batch"
    var perBatch: [[ValueID]] = []
    for b in 0..<batch {
      let index = graph.addConstant(name: "\(prefix)/batch_\(b)", TensorData(int64s: [Int64(b)], shape: []))
      func entry(_ value: ValueID) -> ValueID {
        graph.addNode("Gather", [value, index], attributes: ["axis": .int(0)], results: [(name: "\(prefix)/entry", type: nil)])[0]
      }
      let entryStates = states.map(entry)
      let entryScanned = scanned.map(entry)
      switch scanSteps(plan, states: entryStates, scanned: entryScanned) {
      case .success(let (finalStates, outputs)): perBatch.append(finalStates + outputs)
      case .failure(let problem): return problem.message.isEmpty ? failedValues.formUnion(node.outputs) : fail(problem.message)
      }
    }
    for (j, name) in node.outputs.enumerated() where !name.isEmpty {
      values[name] = stack(perBatch.map { $0[j] }, axis: 0, name: name, prefix: prefix)
    }
  }

  /// What one unrolled scan needs besides its values.
  struct ScanPlan {
    var body: ONNXGraph
    var inputAxes, inputDirections, outputAxes, outputDirections: [Int]
    var prefix: String
    var location: Location
  }

  /// A failed unrolling: the message to report, or "" when the body's own problems were already reported.
  struct ScanProblem: Error {
    var message: String
  }

  /// Unrolls the scan over `scanned` from `states`: the final states and the stacked scan outputs.
  mutating func scanSteps(
    _ plan: ScanPlan, states initial: [ValueID], scanned: [ValueID]
  ) -> Result<([ValueID], [ValueID]), ScanProblem> {
    var length: Int? = nil
    var axes: [Int] = []
    for (i, value) in scanned.enumerated() {
      guard let shape = importTimeType(value)?.staticShape else {
        return .failure(ScanProblem(message: "Scan input \(i)'s shape must be known at import (ssmc unrolls Scan over its sequence length)"))
      }
      let axis = plan.inputAxes[i] < 0 ? plan.inputAxes[i] + shape.count : plan.inputAxes[i]
      guard (0..<shape.count).contains(axis) else {
        return .failure(ScanProblem(message: "scan axis \(plan.inputAxes[i]) is out of range for input \(i) of rank \(shape.count)"))
      }
      guard length == nil || length == shape[axis] else {
        return .failure(ScanProblem(message: "Scan inputs disagree on the sequence length: \(length!) and \(shape[axis])"))
      }
      length = shape[axis]
      axes.append(axis)
    }
    guard let length, length >= 1 else {
      return .failure(ScanProblem(message: "Scan over an empty sequence has scan outputs of a shape ssmc cannot know"))
    }
    guard length <= Self.loopUnrollLimit else {
      return .failure(ScanProblem(message: "Scan runs \(length) steps; ssmc unrolls Scan and stops at \(Self.loopUnrollLimit)"))
    }
    let (n, k) = (initial.count, plan.outputAxes.count)
    var states = initial
    var rows: [[ValueID]] = Array(repeating: [], count: k)
    for step in 0..<length {
      var slices: [ValueID] = []
      for (i, value) in scanned.enumerated() {
        let position = plan.inputDirections[i] == 1 ? length - 1 - step : step
        let index = graph.addConstant(name: "\(plan.prefix)/position_\(position)", TensorData(int64s: [Int64(position)], shape: []))
        slices.append(graph.addNode("Gather", [value, index], attributes: ["axis": .int(axes[i])],
                                    results: [(name: "\(plan.prefix)/slice", type: nil)])[0])
      }
      guard let imported = importSubgraph(
        plan.body, bindings: (states + slices).map { .tensor($0) }, name: "\(plan.prefix) body", location: plan.location)
      else { return .failure(ScanProblem(message: "")) }
      let outputs = imported.compactMap(\.tensor)
      guard outputs.count == imported.count else { return .failure(ScanProblem(message: "a Scan body gives a sequence; Scan carries tensors")) }
      states = Array(outputs[..<n])
      for j in 0..<k { rows[j].append(outputs[n + j]) }
    }
    var stacked: [ValueID] = []
    for j in 0..<k {
      let ordered = plan.outputDirections[j] == 1 ? Array(rows[j].reversed()) : rows[j]
      // A negative output axis counts in the stacked result's rank (one more than a row's).
      guard let rowRank = importTimeType(ordered[0])?.rank else {
        return .failure(ScanProblem(message: "the rank of Scan output \(j) must be known at import"))
      }
      let axis = plan.outputAxes[j] < 0 ? plan.outputAxes[j] + rowRank + 1 : plan.outputAxes[j]
      guard (0...rowRank).contains(axis) else {
        return .failure(ScanProblem(message: "scan_output_axes \(plan.outputAxes[j]) is out of range for output \(j)"))
      }
      stacked.append(stack(ordered, axis: axis, name: "\(plan.prefix)/output_\(j)", prefix: plan.prefix))
    }
    return .success((states, stacked))
  }

  /// `values` stacked along a new axis `axis` (Unsqueeze each, then Concat; a negative axis counts in the
  /// stacked rank, for both).
  mutating func stack(_ values: [ValueID], axis: Int, name: String, prefix: String, nodeName: String = "") -> ValueID {
    let axisConstant = graph.addConstant(name: "\(prefix)/stack_axis", TensorData(int64s: [Int64(axis)]))
    let rows = values.map { graph.addNode("Unsqueeze", [$0, axisConstant], results: [(name: "\(prefix)/row", type: nil)])[0] }
    return graph.addNode("Concat", rows, attributes: ["axis": .int(axis)], name: nodeName, results: [(name: name, type: nil)])[0]
  }
}
