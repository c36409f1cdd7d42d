/// The element types an op takes, from the ONNX op definitions (`onnxOperandTypes`, generated from the pinned
/// onnx). ssmc's own ops check their types in their shape rules.
extension OpSchema {
  /// The element types operand `index` may have; nil when any type the IR has will do.
  public func allowedElementTypes(operand index: Int) -> Set<ElementType>? {
    guard domain.isEmpty, let inputs = onnxOperandTypes[name], !inputs.isEmpty else { return nil }
    return inputs[Swift.min(index, inputs.count - 1)]
  }
}

extension OpContext {
  /// One diagnostic per typed operand whose element type the op does not take.
  public func elementTypeProblems() -> [Diagnostic] {
    operandTypes.enumerated().compactMap { index, type in
      guard let type, let allowed = schema.allowedElementTypes(operand: index), !allowed.contains(type.element) else { return nil }
      let names = allowed.map(\.description).sorted().joined(separator: ", ")
      return error(
        .typeMismatch,
        "operand \(index) (\(operandName(index))) has element type \(type.element); \(schema.name) takes \(names.isEmpty ? "no type ssmc has" : names) there")
    }
  }
}
