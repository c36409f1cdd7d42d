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
    let (axis, k) = try topKGeometry(ctx)
    var dims = x.dims
    dims[axis] = .fixed(k)
    return [x.with(dims: dims), TensorType(.i64, dims)]
  })

/// TopK's axis (normalized) and k, checked against the input: k is a compile-time constant in [0, dim].
public func topKGeometry(_ ctx: OpContext) throws(Diagnostic) -> (axis: Int, k: Int) {
  let x = try ctx.type(0)
  guard x.rank >= 1 else { throw ctx.error("TopK needs an input of rank >= 1, got \(x)") }
  let axis = try ctx.axis(ctx.int("axis"), rank: x.rank)
  _ = try ctx.flag("largest")
  _ = try ctx.flag("sorted")
  let kType = try ctx.type(1)
  guard kType.element == .i64 else { throw ctx.error(.typeMismatch, "K must be i64, got \(kType)") }
  let k = try ctx.constantScalarInt(1)
  guard k >= 0 else { throw ctx.error(.badOperand, "K must not be negative, got \(k)") }
  if let n = x.dims[axis].value, k > n {
    throw ctx.error(.badOperand, "K \(k) exceeds the size \(n) of axis \(axis) of \(x)")
  }
  return (axis, k)
}
