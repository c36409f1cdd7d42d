/// Ops that join, split or replicate tensors: Concat, Split, Expand, Tile. All fold (exporters build shape
/// vectors with Concat and Expand/Tile constant masks).
let combineOps: [OpSchema] = [
  concat.with(samples: .alongAttribute("axis", operands: nil)).with(elementDims: ElementDimsRules.concat), split.with(samples: .alongAttribute("axis")),
  expand.with(samples: SampleRule.elementwise.shapes([1])).with(elementDims: ElementDimsRules.expand),
  tile.with(samples: SampleRule.along { ctx throws(Diagnostic) in
    try ctx.op.constantInts(1).enumerated().filter { $0.element != 1 }.map(\.offset)
  }.shapes([1])),
]

/// Concat along `axis` (required, in [-rank, rank)); every other dim must agree.
private let concat = OpSchema(
  "Concat", operands: [.variadic("inputs")], attributes: [AttributeSpec("axis", .int, required: true)],
  inferTypes: { ctx throws(Diagnostic) in
    let (dims, _) = try concatGeometry(ctx)
    return [try ctx.type(0).with(dims: dims)]
  },
  fold: { ctx throws(Diagnostic) in
    let (dims, axis) = try concatGeometry(ctx)
    let parts = try (0..<ctx.operandCount).map { i throws(Diagnostic) in try ctx.requireConstant(i) }
    let shape = dims.compactMap(\.value)
    let outer = shape[..<axis].reduce(1, *)
    var bytes: [UInt8] = []
    for o in 0..<outer {
      for p in parts {
        let chunk = p.bytes.count / max(outer, 1)
        bytes += p.bytes[(o * chunk)..<((o + 1) * chunk)]
      }
    }
    return [TensorData(parts[0].element, shape: shape, bytes: bytes)]
  })

private func concatGeometry(_ ctx: OpContext) throws(Diagnostic) -> ([Dim], Int) {
  let first = try ctx.type(0)
  let axis = try ctx.normalizedAxes([ctx.int("axis")], rank: first.rank, what: "axis")[0]
  var dims = first.dims
  var along = [first.dims[axis]]
  for i in 1..<ctx.operandCount {
    let t = try ctx.type(i)
    guard t.element == first.element else { throw ctx.error(.typeMismatch, "Concat inputs differ in element type: \(first) vs \(t)") }
    guard t.rank == first.rank else { throw ctx.error("Concat inputs differ in rank: \(first) vs \(t)") }
    for k in 0..<t.rank where k != axis {
      guard let d = unifyDims(dims[k], t.dims[k]) else {
        throw ctx.error("Concat inputs differ in dim \(k) (not the concat axis \(axis)): \(first) vs \(t)")
      }
      dims[k] = d
    }
    along.append(t.dims[axis])
  }
  dims[axis] = try ctx.dim(Dim.sum(along), "the Concat size \(dimsText(along))")
  return (dims, axis)
}

/// Split (opset 18 form): sizes from the `split` input, or `num_outputs` equal chunks where the last one is
/// smaller when the dim does not divide evenly. Exactly one of the two must be given.
private let split = OpSchema(
  "Split", operands: [.required("input"), .optional("split")], results: nil,
  attributes: [AttributeSpec("axis", .int, default: .int(0)), AttributeSpec("num_outputs", .int)],
  inferTypes: { ctx throws(Diagnostic) in
    let x = try ctx.type(0)
    let (axis, sizes) = try splitSizes(ctx)
    return sizes.map { d in
      var dims = x.dims
      dims[axis] = d
      return x.with(dims: dims)
    }
  },
  fold: { ctx throws(Diagnostic) in
    let data = try ctx.requireConstant(0)
    let (axis, sizes) = try splitSizes(ctx)
    let strides = rowMajorStrides(data.shape)
    var offset = 0
    var results: [TensorData] = []
    for size in sizes.compactMap(\.value) {
      var shape = data.shape
      shape[axis] = size
      results.append(try data.strided(to: shape, base: offset * strides[axis], strides: strides))
      offset += size
    }
    return results
  })

private func splitSizes(_ ctx: OpContext) throws(Diagnostic) -> (Int, [Dim]) {
  let x = try ctx.type(0)
  let axis = try ctx.normalizedAxes([ctx.int("axis")], rank: x.rank, what: "axis")[0]
  let d = x.dims[axis]
  let numOutputs = try ctx.optionalInt("num_outputs")
  let n = ctx.resultCount
  // Sizes may be computed from symbolic shapes (`[h, w]` splitting an `h + w` axis).
  if ctx.has(1) {
    let given = try ctx.shapeOperand(1)
    guard numOutputs == nil else { throw ctx.error(.badAttribute, "Split takes the split input or num_outputs, not both") }
    guard given.count == n else { throw ctx.error("split \(dimsText(given)) has \(given.count) sizes for \(n) results") }
    guard given.allSatisfy({ ($0.value ?? 0) >= 0 }) else { throw ctx.error("split \(dimsText(given)) has a negative size") }
    let total = try ctx.dim(Dim.sum(given), "the sum of split \(dimsText(given))")
    if total != d && provablyDiffer(total.expression, d.expression) {
      throw ctx.error("split \(dimsText(given)) sums to \(total), but axis \(axis) of \(x) has size \(d)")
    }
    return (axis, given)
  }
  guard let k = numOutputs else { throw ctx.error(.badAttribute, "Split needs the split input or num_outputs") }
  guard k >= 1, k == n else { throw ctx.error(.badAttribute, "num_outputs is \(k) but the node has \(n) results") }
  if k == 1 { return (axis, [d]) }
  // Chunks of ceil(d / k), the last one smaller when k does not divide d.
  let chunk = try ctx.dim(d.expression.ceilDivided(by: k), "\(d) split into \(k) chunks")
  let last = try ctx.dim(chunk.expression.scaled(by: k - 1).flatMap { d.expression.minus($0) }, "the last chunk of \(d)")
  guard (last.expression.bounds.upper ?? 0) >= 0 else { throw ctx.error("cannot split size \(d) into \(k) chunks of \(chunk)") }
  return (axis, Array(repeating: chunk, count: k - 1) + [last])
}

/// Expand: broadcasts the input and the constant `shape` against each other (bidirectionally, so a 1 in
/// `shape` keeps the input's dim).
private let expand = OpSchema(
  "Expand", operands: [.required("input"), .required("shape")],
  inferTypes: { ctx throws(Diagnostic) in [try ctx.type(0).with(dims: expandDims(ctx))] },
  fold: { ctx throws(Diagnostic) in
    let data = try ctx.requireConstant(0)
    let shape = try expandDims(ctx).compactMap(\.value)
    return [try data.strided(to: shape, strides: broadcastStrides(of: data.shape, to: shape))]
  })

private func expandDims(_ ctx: OpContext) throws(Diagnostic) -> [Dim] {
  let x = try ctx.type(0)
  let shape = try ctx.shapeOperand(1)
  guard shape.allSatisfy({ ($0.value ?? 0) >= 0 }) else { throw ctx.error("Expand shape \(dimsText(shape)) has a negative dim") }
  guard let dims = Broadcast.shape([x.dims, shape]) else {
    throw ctx.error("input \(x) cannot be expanded to \(dimsText(shape))")
  }
  return dims
}

/// Tile: repeats the input `repeats[i]` times along axis i.
private let tile = OpSchema(
  "Tile", operands: [.required("input"), .required("repeats")],
  inferTypes: { ctx throws(Diagnostic) in [try ctx.type(0).with(dims: tileDims(ctx))] },
  fold: { ctx throws(Diagnostic) in
    let data = try ctx.requireConstant(0)
    let strides = rowMajorStrides(data.shape)
    return [try data.remapped(to: try tileDims(ctx).compactMap(\.value)) { index in
      index.enumerated().reduce(0) { $0 + ($1.element % data.shape[$1.offset]) * strides[$1.offset] }
    }]
  })

private func tileDims(_ ctx: OpContext) throws(Diagnostic) -> [Dim] {
  let x = try ctx.type(0)
  // Repeats may be computed from shapes (tiling a class token `batch` times).
  let repeats = try ctx.shapeOperand(1)
  guard repeats.count == x.rank else { throw ctx.error("repeats \(dimsText(repeats)) must have one entry per axis of \(x)") }
  return try zip(x.dims, repeats).map { d, r throws(Diagnostic) in
    guard (r.value ?? 0) >= 0 else { throw ctx.error("repeats \(dimsText(repeats)) has a negative entry") }
    if r == .fixed(1) { return d }
    if r == .fixed(0) { return .fixed(0) }
    return try ctx.dim(d.expression.times(r.expression), "\(d) times \(r)")
  }
}
