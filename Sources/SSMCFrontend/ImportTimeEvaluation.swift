import SSMCIR

/// What is known of a value while importing, before any pass runs: Loop trip counts, Scan lengths and
/// sequence positions must be known then. Types come from graph inputs and constants through the shape
/// rules of the nodes computing a value; values from constants through the ops that fold (Shape and Size
/// from their operand's type alone).
extension Importer {
  /// The value of `id` if it is known at import, else nil.
  func importTimeConstant(_ id: ValueID) -> TensorData? { importTimeEvaluation(id)?.data }

  /// The type of `id` if it is known at import, else nil.
  func importTimeType(_ id: ValueID) -> TensorType? { importTimeEvaluation(id)?.type }

  /// The type of `id` and, when it can be folded, its value; nil when its type is not known at import.
  private func importTimeEvaluation(_ id: ValueID, depth: Int = 0) -> (type: TensorType, data: TensorData?)? {
    if let data = graph.constants[id] { return (data.type, data) }
    if let type = graph.type(of: id) { return (type, nil) }
    guard depth < 64, let node = graph.nodes.last(where: { $0.results.contains(id) }), let schema = OpRegistry.schema(node.op),
      let index = node.results.firstIndex(of: id)
    else { return nil }
    var types: [TensorType?] = []
    var constants: [TensorData?] = []
    for operand in node.operands {
      guard let operand else {
        types.append(nil)
        constants.append(nil)
        continue
      }
      guard let known = importTimeEvaluation(operand, depth: depth + 1) else { return nil }
      types.append(known.type)
      constants.append(known.data)
    }
    let context = OpContext(
      schema: schema, operandTypes: types, constants: constants, attributes: node.attributes,
      resultCount: node.results.count, location: Location(node: node.name, opType: node.op))
    guard let inferred = try? schema.inferTypes(context), index < inferred.count else { return nil }
    let foldable = schema.fold != nil && (schema.foldsFromTypes || zip(node.operands, constants).allSatisfy { $0 == nil || $1 != nil })
    guard foldable, inferred[index].elementCount ?? Int.max <= 1 << 16, let folded = try? schema.fold!(context), index < folded.count
    else { return (inferred[index], nil) }
    return (inferred[index], folded[index])
  }
}
