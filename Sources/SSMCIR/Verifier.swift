/// Checks a graph's invariants and reports every violation at once:
/// values defined once and before use, ops known with legal operand counts and attributes, and stored result
/// types equal to what each op's shape rule computes from its operands.
public struct Verifier {
  /// When true, every value must have a type (after shape inference); before it, unknown types are allowed.
  public var requireTypes: Bool
  public init(requireTypes: Bool = true) { self.requireTypes = requireTypes }

  public func verify(_ graph: Graph) throws(Diagnostics) {
    var problems: [Diagnostic] = []
    var defined = Set<ValueID>()
    func define(_ id: ValueID, _ location: Location) {
      if id.index >= graph.values.count {
        problems.append(Diagnostic(.verifierError, "value \(id) does not exist", at: location))
      } else if !defined.insert(id).inserted {
        problems.append(Diagnostic(.verifierError, "value '\(graph[id].name)' is defined more than once", at: location))
      }
    }
    for id in graph.inputs { define(id, Location()) }
    for id in graph.constants.keys.sorted() {
      define(id, Location())
      if let data = graph.constants[id], graph[id].type != data.type {
        problems.append(Diagnostic(.verifierError, "constant '\(graph[id].name)' has type \(String(describing: graph[id].type)) but data \(data.type)"))
      }
    }
    if requireTypes {
      for id in graph.inputs where graph[id].type == nil {
        problems.append(Diagnostic(.verifierError, "graph input '\(graph[id].name)' has no type"))
      }
    }
    for node in graph.nodes {
      let location = Location(node: node.name, opType: node.op)
      for case let operand? in node.operands where !defined.contains(operand) {
        let name = operand.index < graph.values.count ? graph[operand].name : "\(operand)"
        problems.append(Diagnostic(.verifierError, "operand '\(name)' is used before it is defined", at: location))
      }
      problems += verifyNode(node, in: graph, at: location)
      for r in node.results { define(r, location) }
    }
    for output in graph.outputs where !defined.contains(output.value) {
      problems.append(Diagnostic(.verifierError, "output '\(output.name)' refers to an undefined value"))
    }
    if !problems.isEmpty { throw Diagnostics(problems) }
  }

  private func verifyNode(_ node: Node, in graph: Graph, at location: Location) -> [Diagnostic] {
    guard let schema = OpRegistry.schema(node.op) else {
      return [Diagnostic(.unsupportedOp, "unknown op '\(node.op)'", at: location)]
    }
    let problems = schema.structuralProblems(of: node, at: location)
    guard problems.isEmpty else { return problems }

    let resultTypes = node.results.map { graph.type(of: $0) }
    if requireTypes, resultTypes.contains(where: { $0 == nil }) {
      return [Diagnostic(.verifierError, "a result has no type", at: location)]
    }
    let operandsTyped = node.operands.allSatisfy { $0 == nil || graph.type(of: $0!) != nil }
    guard operandsTyped, !resultTypes.contains(where: { $0 == nil }) else { return [] }
    let context = graph.context(for: node, at: location)
    let typeProblems = context.elementTypeProblems()
    guard typeProblems.isEmpty else { return typeProblems }
    do {
      let inferred = try schema.inferTypes(context)
      if inferred != resultTypes.map({ $0! }) {
        let stored = resultTypes.map { $0!.description }.joined(separator: ", ")
        let rule = inferred.map(\.description).joined(separator: ", ")
        return [Diagnostic(.verifierError, "result types \(stored) differ from the shape rule's \(rule)", at: location)]
      }
    } catch {
      return [error]
    }
    return []
  }
}

extension Graph {
  /// What an op's shape rule or folder sees of `node`.
  public func context(for node: Node, at location: Location? = nil) -> OpContext {
    OpContext(
      schema: OpRegistry.schema(node.op)!,
      operandTypes: node.operands.map { $0.flatMap { type(of: $0) } },
      constants: node.operands.map { $0.flatMap { constants[$0] } },
      attributes: node.attributes, resultCount: node.results.count,
      location: location ?? Location(node: node.name, opType: node.op),
      symbolicElements: node.operands.map { $0.flatMap { values[$0.index].symbolicElements } })
  }
}

extension OpSchema {
  /// What makes `node` malformed for this op regardless of types: operand and result counts, absent required
  /// operands, unknown, mistyped or missing attributes.
  public func structuralProblems(of node: Node, at location: Location) -> [Diagnostic] {
    var problems: [Diagnostic] = []
    let range = operandCountRange
    if !range.contains(node.operands.count) {
      problems.append(Diagnostic(.badOperand, "\(node.operands.count) operands; \(name) takes \(range.lowerBound)...\(range.upperBound > 1000 ? "many" : String(range.upperBound))", at: location))
    }
    for (i, spec) in operands.enumerated() where i < node.operands.count {
      if case .required = spec.arity, node.operands[i] == nil {
        problems.append(Diagnostic(.badOperand, "required operand '\(spec.name)' is absent", at: location))
      }
    }
    if let count = resultCount, count != node.results.count {
      problems.append(Diagnostic(.verifierError, "\(node.results.count) results; \(name) has \(count)", at: location))
    }
    for (key, value) in node.attributes {
      guard let spec = attributeSpec(key) else {
        problems.append(Diagnostic(.badAttribute, "unknown attribute '\(key)'", at: location))
        continue
      }
      if !spec.kind.accepts(value) {
        problems.append(Diagnostic(.badAttribute, "attribute '\(key)' must be \(spec.kind.rawValue), got \(value.kindName)", at: location))
      }
    }
    for spec in attributes where spec.required && node.attributes[spec.name] == nil {
      problems.append(Diagnostic(.badAttribute, "missing required attribute '\(spec.name)'", at: location))
    }
    return problems
  }
}
