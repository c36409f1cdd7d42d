import SSMCIR

/// ONNX `Loop`, unrolled at import: ssmc compiles static graphs, so a loop whose trip count and condition
/// are known at compile time (a constant, or computed from constants, as exporters' loops over fixed
/// ranges are) becomes one copy of its body per iteration, with the scan outputs stacked by Concat.
extension Importer {
  /// Iterations unrolled at most: a longer loop would make a graph too large to compile well.
  static let loopUnrollLimit = 1024

  static func isLoop(_ node: ONNXNode) -> Bool { node.domain.isEmpty && node.opType == "Loop" }

  mutating func importLoop(_ node: ONNXNode, inputs: [ImportedValue?], location: Location) {
    func fail(_ message: String) { refuse(node, message, at: location) }
    guard case .graph(let body)? = node.attribute("body")?.value else { return fail("Loop needs a graph attribute 'body'") }
    let carriedCount = node.inputs.count - 2
    let scanCount = body.outputs.count - 1 - carriedCount
    guard carriedCount >= 0, body.inputs.count == 2 + carriedCount, scanCount >= 0, node.outputs.count == carriedCount + scanCount
    else {
      return fail("Loop's body takes \(body.inputs.count) inputs and gives \(body.outputs.count) outputs, which do not fit the node's \(node.inputs.count) inputs and \(node.outputs.count) outputs")
    }
    // M and cond are tensors; loop-carried values may be sequences (SequenceImport.swift).
    let operands = inputs.prefix(2).map { $0?.tensor }
    guard zip(inputs.prefix(2), operands).allSatisfy({ $0 == nil || $1 != nil }) else { return fail("Loop's M and cond must be tensors") }
    var tripCount: Int? = nil
    if let m = operands[0] {
      guard let value = importTimeConstant(m)?.ints.first else {
        return fail("Loop's trip count M must be known at compile time (ssmc unrolls loops)")
      }
      tripCount = value
    }
    var running = true
    if operands.count > 1, let c = operands[1] {
      guard let value = importTimeConstant(c) else { return fail("Loop's initial condition must be known at compile time (ssmc unrolls loops)") }
      running = value.doubles.first.map { $0 != 0 } ?? false
    }
    guard tripCount != nil || running == false || body.outputs[0].name != body.inputs[1].name else {
      return fail("Loop has neither a trip count nor a condition that changes: it would not end")
    }
    guard inputs.dropFirst(2).allSatisfy({ $0 != nil }) else { return fail("Loop's loop-carried initial values must all be given") }
    var carried = inputs.dropFirst(2).map { $0! }
    var scans: [[ValueID]] = Array(repeating: [], count: scanCount)
    let prefix = node.name.isEmpty ? "loop" : node.name
    var iteration = 0
    while running && iteration < (tripCount ?? Int.max) {
      guard iteration < Self.loopUnrollLimit else {
        return fail("Loop runs more than \(Self.loopUnrollLimit) iterations; ssmc unrolls loops and stops there")
      }
      let counter = graph.addConstant(name: "\(prefix)/iteration_\(iteration)", TensorData(int64s: [Int64(iteration)], shape: []))
      let condition = graph.addConstant(name: "\(prefix)/condition_\(iteration)", TensorData(.bool, shape: [], bytes: [1]))
      guard let outputs = importSubgraph(body, bindings: [.tensor(counter), .tensor(condition)] + carried, name: "\(prefix) body", location: location) else {
        failedValues.formUnion(node.outputs)
        return
      }
      carried = Array(outputs[1..<(1 + carriedCount)])
      for k in 0..<scanCount {
        guard let scanned = outputs[1 + carriedCount + k].tensor else { return fail("Loop's scan output \(k) must be a tensor, is a sequence") }
        scans[k].append(scanned)
      }
      iteration += 1
      guard let condition = outputs[0].tensor, let next = importTimeConstant(condition) else {
        return fail("Loop's condition is computed at run time in iteration \(iteration - 1); ssmc unrolls loops, so it must be known at compile time")
      }
      running = next.doubles.first.map { $0 != 0 } ?? false
    }
    for (name, value) in zip(node.outputs, carried) { bind(name, value) }
    for k in 0..<scanCount where !node.outputs[carriedCount + k].isEmpty {
      guard !scans[k].isEmpty else {
        return fail("Loop runs no iteration, so its scan output \(k) is empty with a shape ssmc cannot know")
      }
      bind(node.outputs[carriedCount + k], .tensor(stack(scans[k], axis: 0, name: node.outputs[carriedCount + k], prefix: prefix)))
    }
  }
}
