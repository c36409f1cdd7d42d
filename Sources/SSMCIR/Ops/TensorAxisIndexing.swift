/// Ops that select, place or move elements along one axis by run-time values: TopK (in TopK.swift), OneHot
/// and ReverseSequence.
let axisIndexingOps: [OpSchema] = [
  topK.with(samples: .alongAttribute("axis")), oneHot.with(samples: oneHotSamples),
  reverseSequence.with(samples: reverseSequenceSamples),
]

/// OneHot maps each index to its own row of the output: the indices' sample axis moves past the new axis.
private let oneHotSamples = SampleRule { ctx throws(Diagnostic) in
  try ctx.requireOnlyBatched([0])
  guard let c = ctx.axis(0) else { return [nil] }
  let (axis, _) = try oneHotGeometry(ctx.op)
  return [c < axis ? c : c + 1]
}

/// ReverseSequence keeps samples apart along an axis past the batch and time axes (the lengths shared), or
/// along its batch axis when each sample has its own length.
private let reverseSequenceSamples = SampleRule { ctx throws(Diagnostic) in
  let batch = try ctx.op.int("batch_axis")
  switch (ctx.axis(0), ctx.axis(1)) {
  case (nil, nil): return [nil]
  case (let d?, nil) where d >= 2: return [d]
  case (let d?, 0?) where d == batch: return [d]
  default: throw ctx.mixes("its sample axis is the time axis, or the lengths do not follow the samples")
  }
}

/// OneHot (opset 11+ form; opset 9's "negative indices are off" is adapted on import): output has a new axis
/// of size depth at `axis`, holding values[1] where the (wrapped, truncated to integer) index equals the
/// position and values[0] elsewhere; indices outside [-depth, depth) give all values[0].
private let oneHot = OpSchema(
  "OneHot", operands: [.required("indices"), .required("depth"), .required("values")],
  attributes: [AttributeSpec("axis", .int, default: .int(-1))],
  inferTypes: { ctx throws(Diagnostic) in
    let (i, v) = (try ctx.type(0), try ctx.type(2))
    guard i.element != .bool, try ctx.type(1).element != .bool else {
      throw ctx.error(.typeMismatch, "indices and depth must be numeric")
    }
    guard v.elementCount == 2, v.rank == 1 else { throw ctx.error("values must hold [off_value, on_value], got \(v)") }
    var dims = i.dims
    if ctx.constant(1) == nil, let depth = ctx.elementDims(1), depth.count == 1 {
      // A depth computed from shapes (one class per position: `W`).
      guard try ctx.type(1).elementCount == 1 else { throw ctx.error("depth must be a scalar or a one-element tensor") }
      guard (depth[0].expression.bounds.upper ?? 1) >= 1 else { throw ctx.error(.badOperand, "depth must be >= 1, got \(depth[0])") }
      dims.insert(depth[0], at: try oneHotAxis(ctx))
    } else {
      let (axis, depth) = try oneHotGeometry(ctx)
      dims.insert(.fixed(depth), at: axis)
    }
    return [TensorType(v.element, dims)]
  })

/// OneHot's new axis in the output, normalized to [0, rank(indices)].
private func oneHotAxis(_ ctx: OpContext) throws(Diagnostic) -> Int {
  let rank = try ctx.type(0).rank
  let a = try ctx.int("axis")
  guard a >= -rank - 1, a <= rank else {
    throw ctx.error(.badAttribute, "axis \(a) is out of range [\(-rank - 1), \(rank)] for indices of rank \(rank)")
  }
  return a < 0 ? a + rank + 1 : a
}

/// OneHot's new axis in the output (normalized to [0, rank(indices)]) and depth, a positive constant.
public func oneHotGeometry(_ ctx: OpContext) throws(Diagnostic) -> (axis: Int, depth: Int) {
  let axis = try oneHotAxis(ctx)
  let data = try ctx.requireConstant(1)
  guard data.shape.reduce(1, *) == 1, data.shape.count <= 1, let value = data.doubles.first else {
    throw ctx.error("depth must be a scalar or a one-element tensor, got shape \(data.shape)")
  }
  // A non-integer depth is cast to int64, as the spec says.
  guard value.isFinite, value >= 1, value < Double(1 << 40) else { throw ctx.error(.badOperand, "depth must be >= 1, got \(value)") }
  return (axis, Int(value))
}

/// ReverseSequence: for each index b of `batch_axis`, reverses the first sequence_lens[b] elements along
/// `time_axis` (the axes are 0 and 1, in either order) and copies the rest.
private let reverseSequence = OpSchema(
  "ReverseSequence", operands: [.required("input"), .required("sequence_lens")],
  attributes: [AttributeSpec("batch_axis", .int, default: .int(1)), AttributeSpec("time_axis", .int, default: .int(0))],
  inferTypes: { ctx throws(Diagnostic) in
    let (x, lens) = (try ctx.type(0), try ctx.type(1))
    try requireIndexType(ctx, 1, allowInt32: false)
    let (batch, time) = (try ctx.int("batch_axis"), try ctx.int("time_axis"))
    guard x.rank >= 2 else { throw ctx.error("ReverseSequence needs an input of rank >= 2, got \(x)") }
    guard [batch, time].sorted() == [0, 1] else {
      throw ctx.error(.badAttribute, "batch_axis and time_axis must be 0 and 1 in some order, got \(batch) and \(time)")
    }
    guard lens.rank == 1, unifyDims(lens.dims[0], x.dims[batch]) != nil else {
      throw ctx.error("sequence_lens \(lens) must be 1-D with the batch size \(x.dims[batch]) of \(x)")
    }
    return [x]
  })
