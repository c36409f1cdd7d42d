/// TopK (opset 11+ form; opset 1's `k` attribute becomes the K input on import): the k largest (or smallest)
/// elements along `axis` and their int64 positions, best first; equal values keep the lower position first.
let topK = OpSchema(
  "TopK", operands: [.required("X"), .required("K")], results: 2,
  attributes: [
    AttributeSpec("axis", .int, default: .int(-1)), AttributeSpec("largest", .int, default: .int(1)),
    AttributeSpec("sorted", .int, default: .int(1)),
  ],
  inferTypes: { ctx throws(Diagnostic) in
    let x = try ctx.type(0)
    let axis = try topKAxis(ctx)
    var dims = x.dims
    dims[axis] = try topKCount(ctx, axis: axis)
    return [x.with(dims: dims), TensorType(.i64, dims)]
  })

/// K as a dim: a constant, or computed from shapes (`min(H, 5)` as exporters write `x.topk(min(5, x.shape[2]))`).
private func topKCount(_ ctx: OpContext, axis: Int) throws(Diagnostic) -> Dim {
  if ctx.constant(1) != nil { return .fixed(try topKGeometry(ctx).k) }
  let x = try ctx.type(0)
  guard try ctx.type(1).elementCount == 1, let given = ctx.elementDims(1), given.count == 1 else {
    throw ctx.error(.unsupportedFeature, "K must be a compile-time constant or computed from shapes to infer the shape")
  }
  let k = given[0]
  if let excess = k.expression.minus(x.dims[axis].expression), (excess.bounds.lower ?? 0) > 0 {
    throw ctx.error(.badOperand, "K \(k) exceeds the size \(x.dims[axis]) of axis \(axis) of \(x)")
  }
  return k
}

/// TopK's axis (normalized) and k, checked against the input: k is a compile-time constant in [0, dim].
public func topKGeometry(_ ctx: OpContext) throws(Diagnostic) -> (axis: Int, k: Int) {
  let x = try ctx.type(0)
  let axis = try topKAxis(ctx)
  let k = try ctx.constantScalarInt(1)
  guard k >= 0 else { throw ctx.error(.badOperand, "K must not be negative, got \(k)") }
  if let n = x.dims[axis].value, k > n {
    throw ctx.error(.badOperand, "K \(k) exceeds the size \(n) of axis \(axis) of \(x)")
  }
  return (axis, k)
}

/// TopK's axis, normalized, after checking the attributes and K's type.
private func topKAxis(_ ctx: OpContext) throws(Diagnostic) -> Int {
  let x = try ctx.type(0)
  guard x.rank >= 1 else { throw ctx.error("TopK needs an input of rank >= 1, got \(x)") }
  let axis = try ctx.axis(ctx.int("axis"), rank: x.rank)
  _ = try ctx.flag("largest")
  _ = try ctx.flag("sorted")
  let kType = try ctx.type(1)
  guard kType.element == .i64 else { throw ctx.error(.typeMismatch, "K must be i64, got \(kType)") }
  return axis
}
