/// Ops that read or write whole index tuples taken from a run-time tensor: GatherND, ScatterND and
/// ScatterElements (ONNX `Scatter` of opsets 9-10 is imported as ScatterElements, see `OpRegistry.onnxAliases`).
let scatterOps: [OpSchema] = [
  gatherND.with(samples: gatherNDSamples), scatterND.with(samples: scatterNDSamples),
  scatterElements.with(samples: scatterElementsSamples),
]

/// The reductions ScatterND and ScatterElements combine an update with the existing element by.
public let scatterReductions = ["none", "add", "mul", "max", "min"]

/// GatherND (opset 12+ form): the last indices dim m indexes data's dims [b, b+m) within each of the first
/// b = batch_dims (batch) dims; output dims are indices.dims[..<-1] + data.dims[(b+m)...].
private let gatherND = OpSchema(
  "GatherND", operands: [.required("data"), .required("indices")],
  attributes: [AttributeSpec("batch_dims", .int, default: .int(0))],
  inferTypes: { ctx throws(Diagnostic) in
    let (x, i) = (try ctx.type(0), try ctx.type(1))
    let g = try gatherNDGeometry(ctx)
    return [x.with(dims: Array(i.dims.dropLast()) + Array(x.dims[(g.batchDims + g.tupleLength)...]))]
  })

/// The static facts of a GatherND: batch dims b and index tuple length m (indices' last dim).
public struct GatherNDGeometry: Sendable {
  public var batchDims: Int
  public var tupleLength: Int
}

/// Checks GatherND's operands as the ONNX spec requires and returns its geometry.
public func gatherNDGeometry(_ ctx: OpContext) throws(Diagnostic) -> GatherNDGeometry {
  let (x, i) = (try ctx.type(0), try ctx.type(1))
  try requireIndexType(ctx, 1, allowInt32: false)
  let b = try ctx.int("batch_dims")
  guard x.rank >= 1, i.rank >= 1 else { throw ctx.error("GatherND needs data and indices of rank >= 1, got \(x) and \(i)") }
  guard b >= 0, b < min(x.rank, i.rank) else {
    throw ctx.error(.badAttribute, "batch_dims \(b) must be in [0, min(rank(data), rank(indices))) for \(x) and \(i)")
  }
  guard let m = i.dims[i.rank - 1].value else {
    throw ctx.error(.unknownShape, "the last dim of indices \(i) must be static (it is the index tuple length)")
  }
  guard m >= 1, m <= x.rank - b else {
    throw ctx.error("the index tuple length \(m) (last dim of \(i)) must be in [1, \(x.rank - b)] for data \(x) with batch_dims \(b)")
  }
  for d in 0..<b where unifyDims(x.dims[d], i.dims[d]) == nil {
    throw ctx.error("batch dim \(d) differs between data \(x) and indices \(i)")
  }
  return GatherNDGeometry(batchDims: b, tupleLength: m)
}

/// ScatterND (opset 18 form): output = data with the slices that indices' tuples (last dim m) select replaced
/// by (or combined under `reduction` with) the matching slices of updates, applied in index order.
private let scatterND = OpSchema(
  "ScatterND", operands: [.required("data"), .required("indices"), .required("updates")],
  attributes: [AttributeSpec("reduction", .string, default: .string("none"))],
  inferTypes: { ctx throws(Diagnostic) in
    let (x, i, u) = (try ctx.type(0), try ctx.type(1), try ctx.type(2))
    try requireIndexType(ctx, 1, allowInt32: false)
    try ctx.requireSameElement([2], as: 0)
    try checkReduction(ctx, element: x.element)
    guard i.rank >= 1, let m = i.dims[i.rank - 1].value else {
      throw ctx.error(.unknownShape, "indices \(i) must have rank >= 1 and a static last dim (the index tuple length)")
    }
    guard m >= 1, m <= x.rank else { throw ctx.error("the index tuple length \(m) of \(i) must be in [1, \(x.rank)] for data \(x)") }
    let expected = Array(i.dims.dropLast()) + Array(x.dims[m...])
    guard u.rank == expected.count, zip(u.dims, expected).allSatisfy({ unifyDims($0, $1) != nil }) else {
      throw ctx.error("updates \(u) must have shape [\(expected.map(\.description).joined(separator: ", "))] for data \(x) and indices \(i)")
    }
    return [x]
  })

/// ScatterElements (opset 18 form): output = data with output[i with i[axis] = indices[i]] set to (or combined
/// under `reduction` with) updates[i], for every index i of indices, in row-major order.
private let scatterElements = OpSchema(
  "ScatterElements", operands: [.required("data"), .required("indices"), .required("updates")],
  attributes: [AttributeSpec("axis", .int, default: .int(0)), AttributeSpec("reduction", .string, default: .string("none"))],
  inferTypes: { ctx throws(Diagnostic) in
    let (x, i, u) = (try ctx.type(0), try ctx.type(1), try ctx.type(2))
    try requireIndexType(ctx, 1)
    try ctx.requireSameElement([2], as: 0)
    try checkReduction(ctx, element: x.element)
    guard x.rank >= 1, i.rank == x.rank else { throw ctx.error("indices \(i) must have the rank (>= 1) of data \(x)") }
    guard u.rank == i.rank, zip(u.dims, i.dims).allSatisfy({ unifyDims($0, $1) != nil }) else {
      throw ctx.error("updates \(u) must have the shape of indices \(i)")
    }
    let axis = try ctx.normalizedAxes([ctx.int("axis")], rank: x.rank, what: "axis")[0]
    for d in 0..<x.rank where d != axis {
      if let a = i.dims[d].value, let b = x.dims[d].value, a > b {
        throw ctx.error("indices \(i) exceed data \(x) on axis \(d)")
      }
    }
    return [x]
  })

/// GatherND keeps samples apart when they are batch dims of both operands, an axis of the sliced tail of
/// the data (the indices the same for every sample), or an axis of the index tuples' grid (the data shared).
private let gatherNDSamples = SampleRule { ctx throws(Diagnostic) in
  let g = try gatherNDGeometry(ctx.op)
  let (b, m, q) = (g.batchDims, g.tupleLength, ctx.rank(1))
  switch (ctx.axis(0), ctx.axis(1)) {
  case (nil, nil): return [nil]
  case (let d?, nil) where d >= b + m: return [q - 1 + d - b - m]
  case (nil, let c?) where c >= b && c < q - 1: return [c]
  case (let d?, let c?) where d == c && d < b: return [d]
  default: throw ctx.mixes("a sample's index tuples would reach other samples' data")
  }
}

/// ScatterND keeps samples apart when they index the slice tail of the data and of the updates alike and
/// the indices are the same for every sample.
private let scatterNDSamples = SampleRule { ctx throws(Diagnostic) in
  let (q, m) = (ctx.rank(1), try ctx.op.type(1).dims.last?.value ?? 0)
  switch (ctx.axis(0), ctx.axis(1), ctx.axis(2)) {
  case (nil, nil, nil): return [nil]
  case (let d?, nil, let u?) where d >= m && u == q - 1 + d - m: return [d]
  default: throw ctx.mixes("a sample's updates would land in other samples' data")
  }
}

/// ScatterElements keeps samples apart when data, indices and updates all index them along one axis other
/// than `axis` (a shared operand would be written by, or write to, every sample).
private let scatterElementsSamples = SampleRule { ctx throws(Diagnostic) in
  let axes = (0..<3).map { ctx.axis($0) }
  guard let first = axes[0] ?? axes[1] ?? axes[2] else { return [nil] }
  guard axes.allSatisfy({ $0 == first }) else { throw ctx.mixes("its data, indices and updates do not all index samples along one axis") }
  if first == (try ctx.op.axis(ctx.op.int("axis"), rank: ctx.rank(0))) { throw ctx.mixes("it scatters along the sample axis \(first)") }
  return [first]
}

private func checkReduction(_ ctx: OpContext, element: ElementType) throws(Diagnostic) {
  let reduction = try ctx.string("reduction") ?? "none"
  guard scatterReductions.contains(reduction) else {
    throw ctx.error(.badAttribute, "reduction must be one of \(scatterReductions.joined(separator: ", ")), got '\(reduction)'")
  }
  if reduction != "none" && element == .bool {
    throw ctx.error(.typeMismatch, "reduction '\(reduction)' needs numeric data, got bool")
  }
}
