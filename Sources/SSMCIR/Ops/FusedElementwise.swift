/// ssmc's own ops made by fusion passes (`ai.ssmc` domain, version 1).
let fusionOps: [OpSchema] = [fusedElementwise.with(samples: .elementwise)] + fusedProductOps

/// `ssmc.FusedElementwise`: a tree of elementwise ops evaluated per element in one loop, so intermediate
/// tensors are never written to memory. The `expr` attribute holds the tree (`ElementwiseExpression`,
/// e.g. `Mul(a0, Sigmoid(a0))`); `aK` is operand K, and operands broadcast together as in any elementwise op.
///
/// y[i] = expr(a0[i'], a1[i''], ...), where i', i'' are i seen through each operand's broadcasting.
/// The result has the operands' broadcast shape and the element type the expression's ops give.
/// The verifier parses `expr`, type-checks every call with the called op's shape rule, and requires every
/// operand to be read.
let fusedElementwise = OpSchema(
  "ssmc.FusedElementwise", domain: "ai.ssmc", operands: [.variadic("inputs")],
  attributes: [AttributeSpec("expr", .string, required: true)],
  inferTypes: { ctx throws(Diagnostic) in
    let types = try (0..<ctx.operandCount).map { i throws(Diagnostic) in try ctx.type(i) }
    let expression = try ctx.fusedExpression()
    let read = Set(expression.operandsRead)
    if let unused = types.indices.first(where: { !read.contains($0) }) {
      throw ctx.error(.badAttribute, "operand a\(unused) is not read by the expression")
    }
    let element = try expression.resultElement(operands: types.map(\.element), at: ctx.location)
    return [TensorType(element, try broadcastDims(ctx, types))]
  })

extension OpContext {
  /// The parsed `expr` attribute of an `ssmc.FusedElementwise` node.
  public func fusedExpression() throws(Diagnostic) -> ElementwiseExpression {
    guard let text = try string("expr") else { throw error(.badAttribute, "missing attribute 'expr'") }
    return try ElementwiseExpression.parse(text, at: location)
  }
}
