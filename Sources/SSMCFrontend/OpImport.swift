import SSMCIR

/// Maps one ONNX node to IR: the op's schema, attributes, and the adapters from older opsets to the IR's
/// (newest) form of the op.
enum OpImport {
  /// Whether (opType, domain) maps straight to an IR op (no function expansion needed).
  static func isDirectlyImportable(_ opType: String, _ domain: String) -> Bool {
    (domain == "" && (["Constant", "If", "Loop", "Scan"].contains(opType) || Importer.sequenceOps.contains(opType)))
      || OpRegistry.schema(onnxType: opType, domain: domain) != nil
  }

  /// Adds the IR for `node` to `graph` and returns the values for the node's outputs, in order.
  static func convert(
    _ node: ONNXNode, operands: [ValueID?], opset: Int, location: Location, graph: inout Graph
  ) throws(Diagnostic) -> [ValueID] {
    if node.domain == "" && node.opType == "Constant" {
      let name = node.outputs.first ?? node.name
      return [graph.addConstant(name: name, try constantValue(node, location: location))]
    }
    guard let schema = OpRegistry.schema(onnxType: node.opType, domain: node.domain) else {
      throw Diagnostic(.unsupportedOp, "op is not supported", at: location)
    }
    var version = opset
    if node.domain == "" {
      guard let active = SupportedOpsets.activeVersion(of: node.opType, opset: opset) else {
        let since = onnxOpVersions[node.opType]?.first ?? 0
        throw Diagnostic(.unsupportedOp, "\(node.opType) is not defined in opset \(opset) (it was added in opset \(since))", at: location)
      }
      if let deprecated = SupportedOpsets.deprecatedFrom[node.opType], opset >= deprecated {
        throw Diagnostic(.unsupportedOp, "\(node.opType) is deprecated from opset \(deprecated) on (the model's opset is \(opset))", at: location)
      }
      if let oldest = SupportedOpsets.oldestSupportedVersion[node.opType], active < oldest {
        throw Diagnostic(.unsupportedOp, "\(node.opType) version \(active) (selected by opset \(opset)) is not supported; ssmc reads its definitions from version \(oldest) on", at: location)
      }
      version = active
    }
    var attributes: [String: Attribute] = [:]
    for attribute in node.attributes {
      // The IR's layout attributes are set by a pass; the public op (and its ONNX function bodies) has none.
      if node.domain == "ai.ssmc", attribute.name.hasPrefix("layout_") {
        throw Diagnostic(.badAttribute, "attribute '\(attribute.name)' is internal to ssmc's IR, not an attribute of ai.ssmc::\(node.opType)", at: location)
      }
      guard attributes[attribute.name] == nil else {
        throw Diagnostic(.badAttribute, "attribute '\(attribute.name)' is given twice", at: location)
      }
      attributes[attribute.name] = try convert(attribute, location: location)
    }
    if node.domain == "" && node.opType == "Hardmax" && version < 13 {
      return try coercedHardmax(node, operands: operands, attributes: attributes, graph: &graph, location: location)
    }
    var operands = operands
    try adaptToNewestForm(node, version: version, operands: &operands, attributes: &attributes, graph: &graph, location: location)
    // Trailing absent optional inputs carry no meaning; drop them so the IR prints compactly.
    while let last = operands.last, last == nil { operands.removeLast() }
    let results = node.outputs.enumerated().map { (i, name) in
      (name: name.isEmpty ? graph.freshName("\(node.name.isEmpty ? node.opType : node.name)_unused\(i)") : name, type: TensorType?.none)
    }
    return graph.addNode(schema.name, operands, attributes: attributes, name: node.name, results: results)
  }

  /// Rewrites attributes that later opsets turned into inputs, so the IR has one form per op.
  static func adaptToNewestForm(
    _ node: ONNXNode, version: Int, operands: inout [ValueID?], attributes: inout [String: Attribute],
    graph: inout Graph, location: Location
  ) throws(Diagnostic) {
    func setInput(_ index: Int, _ data: TensorData, _ key: String) {
      while operands.count < index { operands.append(nil) }
      let constant = graph.addConstant(name: graph.freshName("\(node.name)_\(key)"), data)
      if operands.count == index { operands.append(constant) } else { operands[index] = constant }
    }
    func attributeToInput(_ key: String, at index: Int) {
      guard case .ints(let values)? = attributes.removeValue(forKey: key) else { return }
      setInput(index, TensorData(int64s: values.map(Int64.init)), key)
    }
    func floatAttributeToInput(_ key: String, at index: Int) {
      guard let value = attributes.removeValue(forKey: key) else { return }
      let v: Float = switch value {
      case .float(let f): f
      case .int(let i): Float(i)
      default: 0
      }
      setInput(index, TensorData(floats: [v], shape: []), key)
    }
    guard node.domain == "" else { return }
    // Opset-1 bookkeeping with no meaning for inference.
    attributes["consumed_inputs"] = nil
    let opset = version
    switch node.opType {
    case "Squeeze", "Unsqueeze", "ReduceSum":
      if version < 13 { attributeToInput("axes", at: 1) }
    case "Split" where version < 13: attributeToInput("split", at: 1)
    case "DFT" where version < 20:
      // Opset 17's axis attribute (default 1) is opset 20's scalar axis input.
      var axis = 1
      if case .int(let v)? = attributes.removeValue(forKey: "axis") { axis = v }
      setInput(2, TensorData(int64s: [Int64(axis)], shape: []), "axis")
    case "Slice" where version < 10:
      attributeToInput("starts", at: 1)
      attributeToInput("ends", at: 2)
      attributeToInput("axes", at: 3)
    case "Pad" where version < 11:
      attributeToInput("pads", at: 1)
      floatAttributeToInput("value", at: 2)
    case "Clip" where version < 11:
      // Absent bounds stay absent: min at index 1, max at index 2.
      floatAttributeToInput("min", at: 1)
      floatAttributeToInput("max", at: 2)
    case "TopK" where version < 10:
      if case .int(let k)? = attributes.removeValue(forKey: "k") { setInput(1, TensorData(int64s: [Int64(k)], shape: [1]), "k") }
    case "OneHot" where version < 11:
      try adaptOneHot9(node, operands: &operands, graph: &graph, location: location)
    case "ScatterND" where version < 18, "ScatterElements" where version < 18:
      // max and min arrived in opset 18 (and reduction itself in 16, so older nodes have none).
      if case .string(let r)? = attributes["reduction"], !["none", "add", "mul"].contains(r) {
        throw Diagnostic(.badAttribute, "\(node.opType) version \(version) has no reduction '\(r)' (max and min need opset 18)", at: location)
      }
    case "LpPool" where version < 2, "GlobalLpPool" where version < 2:
      // p was a float before opset 2; the IR (like later opsets) takes an integer p.
      if case .float(let p)? = attributes["p"] {
        guard p >= 1, p == p.rounded(), p <= 1_048_576 else {
          throw Diagnostic(.unsupportedFeature, "\(node.opType)-1 with a non-integer p \(p) is not supported (later opsets take an integer p)", at: location)
        }
        attributes["p"] = .int(Int(p))
      }
    case "RoiAlign" where version < 16:
      // RoiAlign-10 has no coordinate_transformation_mode: it maps as output_half_pixel (16 added half_pixel).
      attributes["coordinate_transformation_mode"] = .string("output_half_pixel")
    case "GridSample" where version < 20:
      // GridSample-16 names the modes bilinear and bicubic; the IR (opset 20+) calls them linear and cubic.
      if case .string(let mode)? = attributes["mode"] {
        let renamed = ["bilinear": "linear", "bicubic": "cubic", "nearest": "nearest"]
        guard let m = renamed[mode] else {
          throw Diagnostic(.badAttribute, "GridSample-\(version) mode must be bilinear, nearest or bicubic, got '\(mode)'", at: location)
        }
        attributes["mode"] = .string(m)
      }
    case "LSTM" where version < 7, "GRU" where version < 7, "RNN" where version < 7:
      // Opset 1's output_sequence only said whether Y is produced, which the node's outputs already say.
      attributes["output_sequence"] = nil
      if case .string("foward")? = attributes["direction"] { attributes["direction"] = .string("forward") }
    case "Dropout" where version < 12, "BatchNormalization" where version < 12:
      attributes["ratio"] = nil
      attributes["is_test"] = nil
    case "Upsample", "Resize" where version < 11:
      // Upsample-7 (scales attribute), Upsample-9 and Resize-10 (X, scales): the IR's Resize takes
      // (X, roi, scales) and these forms' fixed coordinate mapping and nearest rounding as attributes.
      if case .floats(let scales)? = attributes.removeValue(forKey: "scales") {
        setInput(2, TensorData(floats: scales), "scales")
      } else if operands.count >= 2 {
        operands.insert(nil, at: 1)
      }
      attributes["coordinate_transformation_mode"] = .string("asymmetric")
      attributes["nearest_mode"] = .string("simple")
    default: break
    }
    let reducesWithAxesAttribute: Set<String> = [
      "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp",
      "ReduceSumSquare",
    ]
    if node.domain == "" && reducesWithAxesAttribute.contains(node.opType) && opset < 18 {
      attributeToInput("axes", at: 1)
    }
    if node.domain == "" && node.opType == "Split" && opset < 18 && (operands.count < 2 || operands[1] == nil) {
      attributes["num_outputs"] = .int(node.outputs.count)
    }
  }

  /// OneHot before opset 11 gives all off values for negative indices, where later versions wrap them: such
  /// indices become INT64_MAX (out of range for any depth) ahead of the node.
  private static func adaptOneHot9(
    _ node: ONNXNode, operands: inout [ValueID?], graph: inout Graph, location: Location
  ) throws(Diagnostic) {
    guard let indices = operands.first ?? nil else { return }
    let stem = node.name.isEmpty ? "OneHot" : node.name
    func value(_ hint: String) -> (name: String, type: TensorType?) { (graph.freshName("\(stem)_\(hint)"), nil) }
    let cast = graph.addNode("Cast", [indices], attributes: ["to": .int(Int(ElementType.i64.rawValue))], results: [value("indices_i64")])[0]
    let zero = graph.addConstant(name: graph.freshName("\(stem)_zero"), TensorData(int64s: [0], shape: []))
    let negative = graph.addNode("Less", [cast, zero], results: [value("negative")])[0]
    let off = graph.addConstant(name: graph.freshName("\(stem)_off"), TensorData(int64s: [Int64.max], shape: []))
    operands[0] = graph.addNode("Where", [negative, off, cast], results: [value("indices_v9")])[0]
  }

  static func convert(_ attribute: ONNXAttribute, location: Location) throws(Diagnostic) -> Attribute {
    switch attribute.value {
    case .int(let v): return .int(Int(v))
    case .float(let v): return .float(v)
    case .string(let v): return .string(v)
    case .ints(let v): return .ints(v.map { Int($0) })
    case .floats(let v): return .floats(v)
    case .strings(let v): return .strings(v)
    case .tensor(let t): return .tensor(try tensorData(t, file: location.file ?? ""))
    case .graph, .graphs:
      throw Diagnostic(.unsupportedFeature, "attribute '\(attribute.name)' is a subgraph; ssmc does not compile control flow bodies", at: location)
    case .tensors:
      throw Diagnostic(.unsupportedFeature, "attribute '\(attribute.name)' is a list of tensors, which no supported op takes", at: location)
    }
  }

  static func tensorData(_ tensor: ONNXTensor, file: String) throws(Diagnostic) -> TensorData {
    guard let element = ElementType(rawValue: tensor.elementType) else {
      throw Diagnostic(.unsupportedFeature, "tensor '\(tensor.name)' has element type code \(tensor.elementType), which ssmc does not support", at: Location(file: file))
    }
    let shape = tensor.dims.map { Int($0) }
    guard tensor.data.count == shape.reduce(1, *) * element.byteSize else {
      throw Diagnostic(.malformedModel, "tensor '\(tensor.name)' has \(tensor.data.count) bytes of data; shape \(shape) of \(element) needs \(shape.reduce(1, *) * element.byteSize)", at: Location(file: file))
    }
    return TensorData(element, shape: shape, bytes: tensor.data)
  }

  /// The value of a `Constant` node, from whichever of its value attributes is set.
  static func constantValue(_ node: ONNXNode, location: Location) throws(Diagnostic) -> TensorData {
    guard node.attributes.count == 1, let attribute = node.attributes.first else {
      throw Diagnostic(.malformedModel, "a Constant node needs exactly one value attribute", at: location)
    }
    switch (attribute.name, attribute.value) {
    case ("value", .tensor(let t)): return try tensorData(t, file: location.file ?? "")
    case ("value_float", .float(let v)): return TensorData(floats: [v], shape: [])
    case ("value_floats", .floats(let v)): return TensorData(floats: v)
    case ("value_int", .int(let v)): return TensorData(int64s: [v], shape: [])
    case ("value_ints", .ints(let v)): return TensorData(int64s: v)
    default:
      throw Diagnostic(.unsupportedFeature, "Constant with attribute '\(attribute.name)' is not supported (string and sparse constants are not)", at: location)
    }
  }
}

/// Lists every node ssmc cannot import, with op type, domain, opset and node name, before any import work.
struct UnsupportedOpFinder {
  let model: ONNXModel

  func find() -> [Diagnostic] {
    let functions = Dictionary(model.functions.map { (FunctionKey(domain: $0.domain, name: $0.name), $0) }, uniquingKeysWith: { a, _ in a })
    var found: [Diagnostic] = []
    var seenFunctions = Set<FunctionKey>()
    func visit(_ nodes: [ONNXNode], opsets: [String: Int64]) {
      for node in nodes {
        if Importer.isIf(node) || Importer.isLoop(node) || Importer.isScan(node) {
          // Its branches (or body) are imported into the graph: their ops count too.
          for attribute in node.attributes { if case .graph(let body) = attribute.value { visit(body.nodes, opsets: opsets) } }
          continue
        }
        if OpImport.isDirectlyImportable(node.opType, node.domain) { continue }
        if ScanImport.recognize(node, opset: Int(opsets[""] ?? 0)) != nil { continue }
        let key = FunctionKey(domain: node.domain, name: node.opType)
        if let function = functions[key] {
          if seenFunctions.insert(key).inserted { visit(function.nodes, opsets: function.opsetImports.isEmpty ? opsets : function.opsetImports) }
          continue
        }
        let opset = opsets[node.domain].map { Int($0) }
        found.append(Diagnostic(.unsupportedOp, "unsupported op", at: Location(file: model.path, node: node.name, opType: node.opType, domain: node.domain, opset: opset)))
      }
    }
    visit(model.graph.nodes, opsets: model.opsetImports)
    return found
  }
}
