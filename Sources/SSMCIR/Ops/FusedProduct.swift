/// `ssmc.FusedMatMul`, `ssmc.FusedGemm`, `ssmc.FusedConv`: a matrix product (or a convolution computed as
/// one) followed by an elementwise expression applied to each result element before it is stored, so the
/// product's result is never written and read back. The `fuse-epilogue` pass makes them.
///
/// Operands: the underlying op's own operands, in its slots (Gemm's C and Conv's B stay optional; an
/// absent one is `none`), then the extra operands of the expression. Attributes: the underlying op's, plus
/// `expr` (an `ElementwiseExpression`). In `expr`, `a0` is the underlying op's whole result (with Gemm's
/// alpha/beta/C and Conv's bias already applied) and `a1`, `a2`, ... are the extra operands in order:
///
///     %y = ssmc.FusedMatMul(%x, %w, %b) {expr = "Gelu(Add(a0, a1))"}   ==   Gelu(Add(MatMul(%x, %w), %b))
///
/// Shape rule: the underlying op's rule on its own operands gives the product type; every extra operand
/// must broadcast into the product's shape (never enlarge it), and the result has the product's shape and
/// the element type the expression gives. Every operand `aK` must be read by the expression.
let fusedProductOps: [OpSchema] = [
  fusedProduct("ssmc.FusedMatMul", over: matMul),
  fusedProduct("ssmc.FusedGemm", over: gemm),
  fusedProduct("ssmc.FusedConv", over: conv),
]

/// The underlying op of a fused product op (`ssmc.FusedMatMul` -> `MatMul`), nil for other ops.
public func fusedProductBase(_ op: String) -> String? {
  switch op {
  case "ssmc.FusedMatMul": "MatMul"
  case "ssmc.FusedGemm": "Gemm"
  case "ssmc.FusedConv": "Conv"
  default: nil
  }
}

/// The fused op over `base`: its operand slots then the extras, its attributes plus `expr`.
private func fusedProduct(_ name: String, over base: OpSchema) -> OpSchema {
  let baseCount = base.operands.count
  return OpSchema(
    name, domain: "ai.ssmc", operands: base.operands + [.variadic("extras", min: 0)],
    attributes: base.attributes + [AttributeSpec("expr", .string, required: true)],
    inferTypes: { ctx throws(Diagnostic) in
      let product = try ctx.fusedProductType(base: base)
      let extras = try (baseCount..<ctx.operandCount).map { i throws(Diagnostic) in try ctx.type(i) }
      let expression = try ctx.fusedExpression()
      let read = Set(expression.operandsRead)
      if let unused = (0...extras.count).first(where: { !read.contains($0) }) {
        throw ctx.error(.badAttribute, "operand a\(unused) is not read by the expression")
      }
      for extra in extras where Broadcast.shape([product.dims, extra.dims]) != product.dims {
        throw ctx.error("extra operand \(extra) does not broadcast into the product's shape \(product)")
      }
      let element = try expression.resultElement(operands: [product.element] + extras.map(\.element), at: ctx.location)
      return [TensorType(element, product.dims)]
    })
}

extension OpContext {
  /// The type of the underlying op's result (`a0`) of a fused product node: `base`'s own shape rule on the
  /// node's first operands and attributes.
  public func fusedProductType(base: OpSchema) throws(Diagnostic) -> TensorType {
    let count = Swift.min(base.operands.count, operandCount)
    var inner = self
    inner.schema = base
    inner.operandTypes = Array(operandTypes.prefix(count))
    inner.constants = Array(constants.prefix(count))
    inner.attributes["expr"] = nil
    inner.resultCount = 1
    return try base.inferTypes(inner)[0]
  }
}
