import SSMCIR

/// A value the importer binds to an ONNX name: a tensor (an IR value), or a sequence of tensors.
///
/// ssmc's IR has tensors only, so a sequence exists only at import: one whose length and element
/// positions are known at compile time is kept as the list of its elements' IR values, and sequence ops
/// become list operations on it (or Split/Squeeze/Unsqueeze/Concat nodes on its elements).
enum ImportedValue {
  case tensor(ValueID)
  case sequence([ValueID])

  var tensor: ValueID? { if case .tensor(let id) = self { id } else { nil } }
}

/// ONNX sequence ops, imported statically (see `ImportedValue`).
extension Importer {
  static let sequenceOps: Set<String> = [
    "SequenceConstruct", "SequenceEmpty", "SequenceLength", "SequenceAt", "SequenceInsert", "SequenceErase",
    "SplitToSequence", "ConcatFromSequence",
  ]

  /// The ONNX sequence ops the importer turns into lists of tensors (listed by `ssmc ops`).
  public static var sequenceOpTypes: Set<String> { sequenceOps }

  static func isSequenceOp(_ node: ONNXNode) -> Bool { node.domain.isEmpty && sequenceOps.contains(node.opType) }

  /// The tensor or sequence bound to `name`, if any.
  func importedValue(_ name: String) -> ImportedValue? {
    if let id = values[name] { return .tensor(id) }
    if let list = sequences[name] { return .sequence(list) }
    return nil
  }

  /// Binds `name` to `value`, replacing any earlier binding of the other kind.
  mutating func bind(_ name: String, _ value: ImportedValue) {
    guard !name.isEmpty else { return }
    switch value {
    case .tensor(let id):
      values[name] = id
      sequences[name] = nil
    case .sequence(let list):
      sequences[name] = list
      values[name] = nil
    }
  }

  mutating func importSequenceOp(_ node: ONNXNode, inputs: [ImportedValue?], location: Location) {
    do throws(Diagnostic) {
      guard defaultOpset >= 11 else {
        throw Diagnostic(.unsupportedOp, "\(node.opType) was added in opset 11; the model's opset is \(defaultOpset)", at: location)
      }
      let result = try sequenceOpResult(node, inputs: inputs, location: location)
      bind(node.outputs.first ?? "", result)
    } catch {
      problems.append(error)
      failedValues.formUnion(node.outputs)
    }
  }

  private mutating func sequenceOpResult(
    _ node: ONNXNode, inputs: [ImportedValue?], location: Location
  ) throws(Diagnostic) -> ImportedValue {
    func input(_ i: Int) -> ImportedValue? { i < inputs.count ? inputs[i] : nil }
    func sequence(_ i: Int) throws(Diagnostic) -> [ValueID] {
      guard case .sequence(let list)? = input(i) else {
        throw Diagnostic(.badOperand, "\(node.opType) input \(i) must be a sequence", at: location)
      }
      return list
    }
    func tensor(_ i: Int) throws(Diagnostic) -> ValueID {
      guard case .tensor(let id)? = input(i) else {
        throw Diagnostic(.badOperand, "\(node.opType) input \(i) must be a tensor", at: location)
      }
      return id
    }
    /// An optional scalar position known at compile time, wrapped into 0..<limit after adding `count` to a
    /// negative one (ONNX allows positions in [-count, limit - 1]).
    func position(_ i: Int, count: Int, limit: Int) throws(Diagnostic) -> Int? {
      guard input(i) != nil else { return nil }
      let id = try tensor(i)
      guard let data = importTimeConstant(id), data.count == 1, let p = data.ints.first else {
        throw Diagnostic(.unsupportedFeature, "\(node.opType)'s position must be a single integer known at compile time (ssmc keeps sequences as fixed lists of tensors)", at: location)
      }
      let wrapped = p < 0 ? p + count : p
      guard wrapped >= 0, wrapped < limit else {
        throw Diagnostic(.badOperand, "\(node.opType) position \(p) is out of range for a sequence of \(count) tensors", at: location)
      }
      return wrapped
    }
    let stem = node.name.isEmpty ? node.opType : node.name
    switch node.opType {
    case "SequenceConstruct":
      return .sequence(try (0..<inputs.count).map { i throws(Diagnostic) in try tensor(i) })
    case "SequenceEmpty":
      return .sequence([])
    case "SequenceLength":
      let list = try sequence(0)
      return .tensor(graph.addConstant(name: node.outputs.first ?? graph.freshName(stem), TensorData(int64s: [Int64(list.count)], shape: [])))
    case "SequenceAt":
      let list = try sequence(0)
      guard input(1) != nil else { throw Diagnostic(.badOperand, "SequenceAt needs a position", at: location) }
      let p = try position(1, count: list.count, limit: list.count)!
      // An Identity gives the element the node's output name (it may be a graph output).
      let name = node.outputs.first.flatMap { $0.isEmpty ? nil : $0 } ?? graph.freshName(stem)
      return .tensor(graph.addNode("Identity", [list[p]], name: node.name, results: [(name: name, type: nil)])[0])
    case "SequenceInsert":
      var list = try sequence(0)
      let element = try tensor(1)
      let p = try position(2, count: list.count, limit: list.count + 1) ?? list.count
      list.insert(element, at: p)
      return .sequence(list)
    case "SequenceErase":
      var list = try sequence(0)
      guard !list.isEmpty else { throw Diagnostic(.badOperand, "SequenceErase of an empty sequence", at: location) }
      let p = try position(1, count: list.count, limit: list.count) ?? list.count - 1
      list.remove(at: p)
      return .sequence(list)
    case "SplitToSequence":
      return .sequence(try splitToSequence(node, input: try tensor(0), split: input(1) == nil ? nil : try tensor(1), location: location))
    case "ConcatFromSequence":
      return .tensor(try concatFromSequence(node, list: try sequence(0), location: location))
    default:
      throw Diagnostic(.unsupportedOp, "op is not supported", at: location)
    }
  }
}
