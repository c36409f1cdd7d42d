import SSMCIR

/// A batch size given at run time: the graph's inputs share one symbolic leading dim (`N`), the compiled
/// library holds the graph specialized to one sample, and the C ABI runs it once per sample.
///
/// That is exact only if no op combines different samples, which `analyze` proves: it specializes the graph
/// to one and to two samples, infers and folds both, then follows the sample axis from the inputs through
/// every node with the op's `SampleRule`, checking at each result that the sample axis is exactly the one
/// that doubles. Constants folded from the batch size (a `Shape` feeding a `Reshape`) may only feed the
/// operands an op declares as shape operands; constants that double are accepted when both halves equal the
/// one-sample constant. Everything that fails is reported together.
public struct RuntimeBatch: Sendable, Equatable {
  /// The symbolic dim that is the batch size.
  public var symbol: String
  /// Per graph input and output: the axis that indexes samples, or nil when the tensor is the same for
  /// every sample (an input without the batch dim, an output that does not depend on it).
  public var inputAxes: [Int?]
  public var outputAxes: [Int?]

  /// The symbols of input dims after the leading one: they are given at run time to the kernels themselves
  /// (see `ModelCompiler.symbols`), not as a batch of samples.
  public static func innerSymbols(of graph: Graph) -> [String] {
    var names: [String] = []
    for id in graph.inputs {
      for case .symbol(let name) in (graph.type(of: id)?.dims ?? []).dropFirst() where !names.contains(name) { names.append(name) }
    }
    return names
  }

  /// The batch symbol, or nil when every input dim is static. Any other symbolic dim is an error: only a
  /// leading batch dim can vary at run time.
  public static func symbol(of graph: Graph) throws(Diagnostics) -> String? {
    var problems: [Diagnostic] = []
    var symbols: Set<String> = []
    for id in graph.inputs {
      for (axis, dim) in (graph.type(of: id)?.dims ?? []).enumerated() {
        guard case .symbol(let name) = dim else { continue }
        if axis == 0 {
          symbols.insert(name)
        } else {
          problems.append(Diagnostic(
            .unsupportedFeature,
            "input '\(graph[id].name)' has the symbolic dim '\(name)' at axis \(axis); only a leading batch dim can be any size at run time: fix it with --input-shape \(graph[id].name)=D1xD2x... (give --input-shape several times to serve several shapes from one library)"))
        }
      }
    }
    if symbols.count > 1 {
      problems.append(Diagnostic(
        .unsupportedFeature,
        "the inputs' leading dims are different symbols (\(symbols.sorted().joined(separator: ", "))); one batch size can vary at run time, fix the others with --input-shape"))
    }
    if !problems.isEmpty { throw Diagnostics(problems) }
    return symbols.first
  }

  /// `graph` with the symbol replaced by `samples` wherever a type mentions it.
  public static func specialize(_ graph: Graph, symbol: String, samples: Int) -> Graph {
    var result = graph
    for i in result.values.indices {
      guard let type = result.values[i].type else { continue }
      result.values[i].type = type.with(dims: type.dims.map { $0.substituting(symbol, with: samples) })
      result.values[i].symbolicElements = result.values[i].symbolicElements?.map { $0.substituting(symbol, with: samples) }
    }
    return result
  }

  /// Proves that `graph` keeps samples apart (see the type's documentation) and returns where samples sit in
  /// its inputs and outputs.
  public static func analyze(_ graph: Graph, symbol: String) throws(Diagnostics) -> RuntimeBatch {
    let prepare = PassManager(passes: [ShapeInference(), FoldConstants()])
    var one = specialize(graph, symbol: symbol, samples: 1)
    var two = specialize(graph, symbol: symbol, samples: 2)
    try prepare.run(&one)
    do {
      try prepare.run(&two)
    } catch {
      throw Diagnostics(error.all.map { d in
        var d = d
        d.message = "with the batch size \(symbol) = 2: " + d.message
        return d
      })
    }
    var tracker = SampleTracker(one: one, two: two)
    for id in graph.inputs where graph.type(of: id)?.dims.first == .symbol(symbol) {
      tracker.axes[id] = 0
    }
    tracker.classifyConstants()
    tracker.followNodes()
    let outputAxes = tracker.outputAxes()
    if !tracker.problems.isEmpty { throw Diagnostics(Array(tracker.problems.prefix(50))) }
    return RuntimeBatch(symbol: symbol, inputAxes: one.inputs.map { tracker.axes[$0] }, outputAxes: outputAxes)
  }
}

/// The sample-axis dataflow over the graph at one sample, checked against the graph at two.
private struct SampleTracker {
  let one: Graph
  let two: Graph
  var axes: [ValueID: Int] = [:]
  /// Constants whose value depends on the batch size without doubling (folded shapes).
  var sizeDependent: Set<ValueID> = []
  var problems: [Diagnostic] = []
  /// Results of nodes already reported, so their users do not report the same problem again.
  var reported: Set<ValueID> = []

  /// Values some node computes at two samples (the rest are inputs or constants there).
  let computedAtTwo: Set<ValueID>

  init(one: Graph, two: Graph) {
    self.one = one
    self.two = two
    computedAtTwo = Set(two.nodes.flatMap(\.results))
  }

  private func shape(_ graph: Graph, _ id: ValueID) -> [Int]? { graph.type(of: id)?.staticShape }

  mutating func classifyConstants() {
    for (id, a) in one.constants {
      guard let b = two.constants[id] else {
        if two.type(of: id) != nil, shape(two, id) != a.shape || computedAtTwo.contains(id) {
          problems.append(Diagnostic(.unsupportedFeature, "value '\(one[id].name)' is folded to a constant at one sample but not at two, so ssmc cannot check how it depends on the batch size"))
        }
        continue
      }
      if a == b { continue }
      if a.shape == b.shape {
        sizeDependent.insert(id)
      } else if let axis = SampleContext.doubledAxis(a.shape, b.shape), b == repeated(a, along: axis) {
        axes[id] = axis
      } else {
        problems.append(Diagnostic(.unsupportedFeature, "constant '\(one[id].name)' is computed from the batch size and differs between samples"))
      }
    }
  }

  mutating func followNodes() {
    for node in one.nodes {
      let location = Location(node: node.name, opType: node.op)
      if node.operands.contains(where: { $0.map(reported.contains) == true }) {
        reported.formUnion(node.results)
        continue
      }
      let before = problems.count
      defer { if problems.count > before { reported.formUnion(node.results) } }
      let operandAxes = node.operands.map { $0.flatMap { axes[$0] } }
      let dependent = node.operands.enumerated().compactMap { i, id in id.map { sizeDependent.contains($0) } == true ? i : nil }
      let resultShapes = node.results.compactMap { shape(one, $0) }
      let resultShapesAtTwo = node.results.compactMap { shape(two, $0) }
      guard resultShapes.count == node.results.count, resultShapesAtTwo.count == node.results.count,
        computedAtTwo.contains(node.results[0])
      else {
        problems.append(Diagnostic(.unsupportedFeature, "the node's shapes cannot be compared at one and two samples", at: location))
        continue
      }
      if operandAxes.allSatisfy({ $0 == nil }) && dependent.isEmpty {
        if resultShapes != resultShapesAtTwo {
          problems.append(Diagnostic(.unsupportedFeature, "its result shapes \(resultShapes) depend on the batch size", at: location))
        }
        continue
      }
      guard let schema = OpRegistry.schema(node.op), let rule = schema.samples else {
        problems.append(Diagnostic(.unsupportedFeature, "ssmc cannot yet prove that this op keeps the samples of a run-time batch apart; fix the batch size with --input-shape", at: location))
        continue
      }
      if let operand = dependent.first(where: { !rule.shapeOperands.contains($0) }) {
        problems.append(Diagnostic(.unsupportedFeature, "operand \(operand) is computed from the batch size and used as data, so samples would differ; fix the batch size with --input-shape", at: location))
        continue
      }
      let context = SampleContext(
        op: one.context(for: node), operandAxes: operandAxes, resultShapes: resultShapes, resultShapesAtTwo: resultShapesAtTwo)
      let resultAxes: [Int?]
      do {
        resultAxes = try rule.results(context)
      } catch {
        problems.append(error)
        continue
      }
      for (k, result) in node.results.enumerated() {
        let axis = k < resultAxes.count ? resultAxes[k] : nil
        let (a, b) = (resultShapes[k], resultShapesAtTwo[k])
        let fits = axis.map { x in x < a.count && SampleContext.doubledAxis(a, b) == x } ?? (a == b)
        guard fits else {
          problems.append(Diagnostic(.unsupportedFeature, "result \(k) is \(a) at one sample and \(b) at two, which does not match the sample axis \(axis.map(String.init) ?? "none") its op keeps; fix the batch size with --input-shape", at: location))
          continue
        }
        axes[result] = axis
      }
    }
  }

  /// Output sample axes; each sample of an output must be one contiguous block (only size-1 dims before it).
  mutating func outputAxes() -> [Int?] {
    one.outputs.map { output in
      if sizeDependent.contains(output.value) {
        problems.append(Diagnostic(.unsupportedFeature, "output '\(output.name)' is computed from the batch size, so one sample would give it the wrong value; fix the batch size with --input-shape"))
      }
      guard let axis = axes[output.value] else { return nil }
      if let dims = shape(one, output.value), !dims.prefix(axis).allSatisfy({ $0 == 1 }) {
        problems.append(Diagnostic(.unsupportedFeature, "output '\(output.name)' holds its samples along axis \(axis) of \(dims), not as contiguous blocks; fix the batch size with --input-shape"))
      }
      return axis
    }
  }
}

/// `data` twice along `axis` (what a constant that does not depend on the sample looks like at two samples).
private func repeated(_ data: TensorData, along axis: Int) -> TensorData {
  let elementSize = data.element.byteSize
  let inner = data.shape[axis...].reduce(1, *) * elementSize
  let outer = data.shape[..<axis].reduce(1, *)
  var bytes: [UInt8] = []
  bytes.reserveCapacity(data.bytes.count * 2)
  for block in 0..<outer {
    let slice = data.bytes[(block * inner)..<((block + 1) * inner)]
    bytes += slice
    bytes += slice
  }
  var shape = data.shape
  shape[axis] *= 2
  return TensorData(data.element, shape: shape, bytes: bytes)
}
