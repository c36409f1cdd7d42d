import SSMCIR

/// Turns an ONNX model into an IR graph.
///
/// Order of work: check opsets; find every node whose op ssmc cannot import (after expanding model-local
/// functions) and report them all in one error; then build the graph: inputs (with `--input-shape` applied),
/// initializers and `Constant` nodes as constants, each node through its version adapter, outputs by name.
/// Types of intermediate values are left to the shape-inference pass.
public struct Importer {
  let model: ONNXModel
  let options: ImportOptions
  var graph: Graph
  var values: [String: ValueID] = [:]
  /// Sequences, kept at import as lists of their elements' values (SequenceImport.swift).
  var sequences: [String: [ValueID]] = [:]
  var problems: [Diagnostic] = []
  /// Outputs of nodes that failed to import: their users are not reported again.
  var failedValues: Set<String> = []
  var unknownDimCounter = 0

  public static func importModel(_ model: ONNXModel, options: ImportOptions = ImportOptions()) throws(Diagnostics) -> Graph {
    var importer = Importer(model: model, options: options, graph: Graph(name: model.graph.name.isEmpty ? "main" : model.graph.name))
    try importer.run()
    return importer.graph
  }

  var defaultOpset: Int { Int(model.opsetImports[""] ?? 0) }
  var functions: [FunctionKey: ONNXFunction] {
    Dictionary(model.functions.map { (FunctionKey(domain: $0.domain, name: $0.name), $0) }, uniquingKeysWith: { a, _ in a })
  }

  mutating func run() throws(Diagnostics) {
    try checkOpsets()
    let unsupported = UnsupportedOpFinder(model: model).find()
    if !unsupported.isEmpty { throw Diagnostics(unsupported) }
    importInputs()
    importInitializers()
    let body = FunctionInliner(functions: functions, isImportable: { OpImport.isDirectlyImportable($0, $1) })
      .expand(model.graph.nodes, opsets: model.opsetImports)
    for node in body { importNode(node) }
    for output in model.graph.outputs {
      if sequences[output.name] != nil {
        problems.append(Diagnostic(.unsupportedFeature, "graph output '\(output.name)' is a sequence; ssmc compiles models whose outputs are tensors", at: Location(file: model.path)))
        continue
      }
      guard let id = values[output.name] else {
        if failedValues.contains(output.name) { continue }
        problems.append(Diagnostic(.malformedModel, "graph output '\(output.name)' is not produced by any node", at: Location(file: model.path)))
        continue
      }
      graph.outputs.append(GraphOutput(name: output.name, value: id))
    }
    for name in options.inputShapes.keys where !model.graph.inputs.contains(where: { $0.name == name }) {
      problems.append(Diagnostic(.badOperand, "--input-shape names '\(name)', which is not a graph input", at: Location(file: model.path)))
    }
    if !problems.isEmpty { throw Diagnostics(problems) }
  }

  func checkOpsets() throws(Diagnostics) {
    var found: [Diagnostic] = []
    let location = Location(file: model.path)
    if let v = model.opsetImports[""] {
      if !SupportedOpsets.defaultDomain.contains(Int(v)) {
        let range = SupportedOpsets.defaultDomain
        found.append(Diagnostic(.unsupportedFeature, "default-domain opset \(v) is not supported; ssmc reads opsets \(range.lowerBound)...\(range.upperBound) (convert it with onnx.version_converter)", at: location))
      }
    } else {
      found.append(Diagnostic(.malformedModel, "the model imports no default-domain opset", at: location))
    }
    if let v = model.opsetImports["ai.ssmc"], !SupportedOpsets.ssmcDomain.contains(Int(v)) {
      found.append(Diagnostic(.unsupportedFeature, "ai.ssmc opset \(v) is not supported; ssmc knows version 1", at: location))
    }
    if !found.isEmpty { throw Diagnostics(found) }
  }

  mutating func importInputs() {
    let initializerNames = Set(model.graph.initializers.map(\.name))
    for input in model.graph.inputs where !initializerNames.contains(input.name) {
      let location = Location(file: model.path)
      guard let code = input.elementType, let element = ElementType(rawValue: code) else {
        problems.append(Diagnostic(.unsupportedFeature, "graph input '\(input.name)' has an unsupported or missing element type", at: location))
        continue
      }
      guard let onnxDims = input.dims else {
        problems.append(Diagnostic(.unsupportedFeature, "graph input '\(input.name)' has no shape (rank unknown)", at: location))
        continue
      }
      var dims: [Dim] = []
      for d in onnxDims {
        switch d {
        case .value(let v): dims.append(.fixed(Int(v)))
        case .param(let p): dims.append(.symbol(p))
        case .unknown:
          unknownDimCounter += 1
          dims.append(.symbol("unk__\(unknownDimCounter)"))
        }
      }
      if let fixed = options.inputShapes[input.name] {
        let compatible = fixed.count == dims.count && zip(fixed, dims).allSatisfy { f, d in f == nil || d.value == nil || d.value == f }
        if compatible {
          dims = zip(fixed, dims).map { f, d in f.map { .fixed($0) } ?? d }
        } else {
          let text = fixed.map { $0.map(String.init) ?? "?" }.joined(separator: "x")
          problems.append(Diagnostic(.shapeMismatch, "--input-shape \(input.name)=\(text) does not fit the input's shape \(TensorType(element, dims))", at: location))
        }
      }
      values[input.name] = graph.addInput(name: input.name, type: TensorType(element, dims))
    }
  }

  mutating func importInitializers() {
    for tensor in model.graph.initializers {
      do throws(Diagnostic) {
        values[tensor.name] = graph.addConstant(name: tensor.name, try OpImport.tensorData(tensor, file: model.path))
      } catch {
        problems.append(error)
      }
    }
  }

  mutating func importNode(_ node: ONNXNode) {
    let opset = node.domain == "ai.ssmc" ? Int(model.opsetImports["ai.ssmc"] ?? 1) : defaultOpset
    let location = Location(file: model.path, node: node.name, opType: node.opType, domain: node.domain, opset: opset)
    var inputs: [ImportedValue?] = []
    for name in node.inputs {
      if name.isEmpty {
        inputs.append(nil)
      } else if let value = importedValue(name) {
        inputs.append(value)
      } else {
        if !failedValues.contains(name) {
          problems.append(Diagnostic(.malformedModel, "input '\(name)' is not produced by any earlier node, initializer or graph input", at: location))
        }
        failedValues.formUnion(node.outputs)
        return
      }
    }
    if Self.isSequenceOp(node) {
      importSequenceOp(node, inputs: inputs, location: location)
      return
    }
    if Self.isIf(node), let condition = inputs.first??.tensor {
      importIf(node, condition: condition, location: location)
      return
    }
    if Self.isLoop(node), inputs.count >= 2 {
      importLoop(node, inputs: inputs, location: location)
      return
    }
    // Identity passes a sequence on; every other op takes tensors only.
    if node.domain.isEmpty, node.opType == "Identity", case .sequence(let list)?? = inputs.first {
      bind(node.outputs.first ?? "", .sequence(list))
      return
    }
    if let k = inputs.firstIndex(where: { $0?.tensor == nil && $0 != nil }) {
      problems.append(Diagnostic(.unsupportedFeature, "input '\(node.inputs[k])' is a sequence; \(node.opType) takes tensors", at: location))
      failedValues.formUnion(node.outputs)
      return
    }
    let operands = inputs.map { $0?.tensor }
    let recurrence = Self.isScan(node) ? ScanImport.recognize(node, opset: opset) : nil
    if Self.isScan(node), recurrence == nil {
      unrollScan(node, operands: operands, opset: opset, location: location)
      return
    }
    do throws(Diagnostic) {
      let imported: [ValueID]
      if let recurrence {
        imported = try ScanImport.convert(recurrence, node, values: values, location: location, graph: &graph)
      } else {
        imported = try OpImport.convert(node, operands: operands, opset: opset, location: location, graph: &graph)
      }
      for (name, id) in zip(node.outputs, imported) where !name.isEmpty { bind(name, .tensor(id)) }
    } catch {
      problems.append(error)
      failedValues.formUnion(node.outputs)
    }
  }
}

struct FunctionKey: Hashable {
  var domain: String
  var name: String
}
