import SSMCIR

/// ONNX `If`, and the subgraph import it shares with `Loop` (LoopImport.swift). If: both branches are
/// imported into the graph (their own initializers and nodes, reading outer values by name) and
/// `ssmc.Choose` picks between their outputs (see ControlFlow.swift in the IR).
extension Importer {
  static func isIf(_ node: ONNXNode) -> Bool { node.domain.isEmpty && node.opType == "If" }

  /// Reports why a control-flow node cannot be imported; its outputs count as failed, so their users say
  /// nothing more.
  mutating func refuse(_ node: ONNXNode, _ message: String, code: Diagnostic.Code = .unsupportedFeature, at location: Location) {
    problems.append(Diagnostic(code, message, at: location))
    failedValues.formUnion(node.outputs)
  }

  mutating func importIf(_ node: ONNXNode, condition: ValueID, location: Location) {
    var branches: [[ImportedValue]] = []
    for attribute in ["then_branch", "else_branch"] {
      guard case .graph(let body)? = node.attribute(attribute)?.value else {
        return refuse(node, "If needs a graph attribute '\(attribute)'", code: .badAttribute, at: location)
      }
      guard body.inputs.isEmpty else {
        return refuse(node, "If's \(attribute) must have no inputs, has \(body.inputs.count)", code: .malformedModel, at: location)
      }
      guard body.outputs.count == node.outputs.count else {
        return refuse(
          node, "If's \(attribute) gives \(body.outputs.count) outputs for the node's \(node.outputs.count)", code: .malformedModel,
          at: location)
      }
      guard let outputs = importSubgraph(body, name: "\(node.name.isEmpty ? "If" : node.name) \(attribute)", location: location) else {
        failedValues.formUnion(node.outputs)
        return
      }
      branches.append(outputs)
    }
    let tensors = zip(branches[0], branches[1]).compactMap { a, b in a.tensor.flatMap { t in b.tensor.map { (t, $0) } } }
    guard tensors.count < node.outputs.count else {
      let results = graph.addNode(
        "ssmc.Choose", [condition] + tensors.map(\.0) + tensors.map(\.1), name: node.name,
        results: node.outputs.map { (name: $0.isEmpty ? graph.freshName("if_result") : $0, type: nil) })
      for (name, id) in zip(node.outputs, results) where !name.isEmpty { bind(name, .tensor(id)) }
      return
    }
    // A sequence output: ssmc keeps sequences as lists of values at import, so the branch must be chosen
    // here, from a condition known at compile time.
    guard let flag = importTimeConstant(condition), let taken = flag.doubles.first else {
      problems.append(Diagnostic(
        .unsupportedFeature, "If gives a sequence, so its condition must be known at compile time (ssmc keeps sequences as fixed lists of tensors)", at: location))
      failedValues.formUnion(node.outputs)
      return
    }
    for (name, value) in zip(node.outputs, branches[taken != 0 ? 0 : 1]) { bind(name, value) }
  }
}

extension Importer {
  /// Imports a subgraph (an If branch, one copy of a Loop body) into the graph: its initializers and nodes,
  /// with its inputs bound to `bindings` (in order) and outer values read by name. Its names stay local to
  /// it. Returns its outputs' values, or nil after reporting why it could not be imported.
  mutating func importSubgraph(
    _ body: ONNXGraph, bindings: [ImportedValue] = [], name: String, location: Location
  ) -> [ImportedValue]? {
    let (outer, outerSequences) = (values, sequences)
    defer { (values, sequences) = (outer, outerSequences) }
    for (input, value) in zip(body.inputs, bindings) { bind(input.name, value) }
    let problemsBefore = problems.count
    for tensor in body.initializers {
      do throws(Diagnostic) {
        bind(tensor.name, .tensor(graph.addConstant(name: tensor.name, try OpImport.tensorData(tensor, file: model.path))))
      } catch {
        problems.append(error)
      }
    }
    let nodes = FunctionInliner(functions: functions, isImportable: { OpImport.isDirectlyImportable($0, $1) })
      .expand(body.nodes, opsets: model.opsetImports)
    for node in nodes { importNode(node) }
    guard problems.count == problemsBefore else { return nil }
    var outputs: [ImportedValue] = []
    for output in body.outputs {
      guard let id = importedValue(output.name) else {
        problems.append(Diagnostic(.malformedModel, "\(name) output '\(output.name)' is not produced by it or the graph around it", at: location))
        return nil
      }
      outputs.append(id)
    }
    return outputs
  }
}
