import SSMCIR

/// Gives every value its type by running each op's shape rule in topological order.
///
/// Shapes of later nodes often depend on values computed from earlier shapes (`Shape -> Gather -> Concat ->
/// Reshape`), so a node whose operands are all constants (or a `Shape` of a typed value) and whose op has a
/// folder is evaluated on the spot and becomes a constant; small results only, so weights are left to
/// fold-constants. All problems found are reported together.
public struct ShapeInference: Pass {
  public let name = "shape-inference"
  /// Largest result (in elements) folded while inferring shapes.
  public var foldLimit = 1 << 16
  public init() {}

  public func run(on graph: inout Graph) throws(Diagnostics) -> Bool {
    // Each problem with the index (in `kept`) of the node it is about, if any.
    var problems: [(node: Int?, diagnostic: Diagnostic)] = []
    var changed = false
    var kept: [Node] = []
    for id in graph.inputs + graph.constants.keys.sorted() {
      if let problem = graph.type(of: id)?.sizeProblem {
        problems.append((nil, Diagnostic(.unsupportedFeature, "value '\(graph[id].name)': \(problem)")))
      }
    }
    // Results replaced by the operand they forward (see `OpSchema.forward`), applied to every later use.
    var forwarded: [ValueID: ValueID] = [:]
    for original in graph.nodes {
      var node = original
      node.operands = node.operands.map { $0.map { forwarded[$0] ?? $0 } }
      guard let schema = OpRegistry.schema(node.op) else {
        problems.append((kept.count, Diagnostic(.unsupportedOp, "unknown op '\(node.op)'", at: Location(node: node.name, opType: node.op))))
        kept.append(node)
        continue
      }
      let context = graph.context(for: node)
      // A malformed node (or one fed by a failed node) gets no type, so nothing after it trips over it.
      let nodeProblems = schema.structuralProblems(of: node, at: context.location) + context.elementTypeProblems()
      guard nodeProblems.isEmpty else {
        problems += nodeProblems.map { (kept.count, $0) }
        kept.append(node)
        continue
      }
      if let forward = schema.forward, let chosen = try? forward(context) {
        let sources = chosen.compactMap { node.operands.indices.contains($0) ? node.operands[$0] : nil }
        if sources.count == node.results.count {
          for (result, source) in zip(node.results, sources) { forwarded[result] = source }
          changed = true
          continue
        }
      }
      if let folded = Folding.tryFold(node, schema: schema, context: context, limit: foldLimit) {
        for (result, data) in zip(node.results, folded) {
          graph.constants[result] = data
          graph[result].type = data.type
        }
        changed = true
        continue
      }
      let index = kept.count
      kept.append(node)
      // Operands of unknown type: an earlier problem was already reported.
      guard node.operands.allSatisfy({ $0 == nil || graph.type(of: $0!) != nil }) else { continue }
      do {
        let types = try schema.inferTypes(context)
        guard types.count == node.results.count else {
          problems.append((index, Diagnostic(.internalError, "shape rule gave \(types.count) types for \(node.results.count) results", at: context.location)))
          continue
        }
        if let tooLarge = types.lazy.compactMap(\.sizeProblem).first {
          problems.append((index, context.error(.unsupportedFeature, "result \(tooLarge)")))
          continue
        }
        for (result, type) in zip(node.results, types) where graph.type(of: result) != type {
          graph[result].type = type
          changed = true
        }
        if let constants = recordElementDims(of: node, schema: schema, context: context, types: types, in: &graph) {
          for (result, data) in zip(node.results, constants) { graph.constants[result] = data }
          kept.removeLast()
          changed = true
        }
      } catch {
        problems.append((index, error))
      }
    }
    for i in graph.outputs.indices { graph.outputs[i].value = forwarded[graph.outputs[i].value] ?? graph.outputs[i].value }
    if !forwarded.isEmpty {
      // A choice made now leaves the other branch unused: drop its nodes, and their problems with them.
      let live = EliminateDeadCode.liveness(kept, outputs: graph.outputs.map(\.value)).nodes
      problems = problems.filter { $0.node.map(live.contains) ?? true }
      kept = kept.indices.filter(live.contains).map { kept[$0] }
    }
    graph.nodes = kept
    if !problems.isEmpty { throw Diagnostics(problems.map(\.diagnostic)) }
    return changed
  }
}

extension ShapeInference {
  /// Keeps the symbolic elements of shape-math results (see `OpSchema.elementDims`) on the result values, and
  /// returns the results as constants instead when every element turned out to be a number (`Shape(x)[1]` of
  /// `x: f32[batch,8,h,w]` is 8).
  func recordElementDims(of node: Node, schema: OpSchema, context: OpContext, types: [TensorType], in graph: inout Graph) -> [TensorData]? {
    for result in node.results { graph[result].symbolicElements = nil }
    guard let rule = schema.elementDims, let elements = try? rule(context), elements.count == node.results.count,
      zip(elements, types).allSatisfy({ $0.count == $1.elementCount && $1.isStatic })
    else { return nil }
    if elements.allSatisfy({ $0.allSatisfy { $0.value != nil } }) {
      return zip(elements, types).map { list, type in
        TensorData(type.element, shape: type.staticShape!, doubles: list.map { Double($0.value!) })
      }
    }
    for (result, list) in zip(node.results, elements) { graph[result].symbolicElements = list }
    return nil
  }
}

/// Evaluating nodes at compile time.
enum Folding {
  /// The node's results when it can be evaluated now, else nil. `Shape` folds from its operand's static type.
  static func tryFold(_ node: Node, schema: OpSchema, context: OpContext, limit: Int) -> [TensorData]? {
    guard let fold = schema.fold else { return nil }
    let operandsConstant = zip(node.operands, context.constants).allSatisfy { $0.0 == nil || $0.1 != nil }
    let foldsFromType = schema.foldsFromTypes
    guard operandsConstant || foldsFromType else { return nil }
    // The result types first: a result too large to fold (ConstantOfShape of a huge shape) is never built.
    guard let types = try? schema.inferTypes(context), types.allSatisfy({ ($0.elementCount ?? Int.max) <= limit }) else {
      return nil
    }
    guard let results = try? fold(context), results.count == node.results.count else { return nil }
    guard results.allSatisfy({ $0.count <= limit }) else { return nil }
    return results
  }
}
