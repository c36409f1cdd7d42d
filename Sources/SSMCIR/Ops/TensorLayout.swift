/// Ops that keep the elements and change only the shape or their order: Transpose, Reshape, Flatten,
/// Squeeze, Unsqueeze, DepthToSpace, SpaceToDepth. All fold, so weight transposes and shape math become constants.
let layoutOps: [OpSchema] = [
  transpose.with(samples: transposeSamples),
  reshape.with(samples: SampleRule.reshape.shapes([1])).with(elementDims: ElementDimsRules.sameElements),
  flatten.with(samples: .reshape).with(elementDims: ElementDimsRules.sameElements),
  squeeze.with(samples: .reshape).with(elementDims: ElementDimsRules.sameElements),
  unsqueeze.with(samples: .reshape).with(elementDims: ElementDimsRules.sameElements),
  depthToSpace.with(samples: .leading()), spaceToDepth.with(samples: .leading()),
]

/// The sample axis moves where the permutation puts it.
private let transposeSamples = SampleRule { ctx throws(Diagnostic) in
  guard let axis = ctx.axis(0) else { return [nil] }
  return [try permutation(ctx.op, rank: ctx.rank(0)).firstIndex(of: axis)]
}

private let transpose = OpSchema(
  "Transpose", operands: [.required("data")], attributes: [AttributeSpec("perm", .ints)],
  inferTypes: { ctx throws(Diagnostic) in
    let x = try ctx.type(0)
    return [x.with(dims: try permutation(ctx, rank: x.rank).map { x.dims[$0] })]
  },
  fold: { ctx throws(Diagnostic) in
    let data = try ctx.requireConstant(0)
    let perm = try permutation(ctx, rank: data.shape.count)
    let strides = rowMajorStrides(data.shape)
    return [try data.strided(to: perm.map { data.shape[$0] }, strides: perm.map { strides[$0] })]
  })

/// `perm`, or the reversed axes when absent; output axis i is input axis perm[i].
private func permutation(_ ctx: OpContext, rank: Int) throws(Diagnostic) -> [Int] {
  guard let perm = try ctx.ints("perm") else { return Array((0..<rank).reversed()) }
  guard perm.sorted() == Array(0..<rank) else {
    throw ctx.error(.badAttribute, "perm \(perm) is not a permutation of 0..<\(rank)")
  }
  return perm
}

/// Reshape: `shape` is a constant; 0 copies the input dim at that index (unless allowzero = 1, when 0 is a
/// real zero), and one -1 is inferred from the element count.
private let reshape = OpSchema(
  "Reshape", operands: [.required("data"), .required("shape")],
  attributes: [AttributeSpec("allowzero", .int, default: .int(0))],
  inferTypes: { ctx throws(Diagnostic) in [try ctx.type(0).with(dims: reshapeDims(ctx))] },
  fold: { ctx throws(Diagnostic) in
    [try ctx.requireConstant(0).reshaped(try reshapeDims(ctx).compactMap(\.value))]
  })

private func reshapeDims(_ ctx: OpContext) throws(Diagnostic) -> [Dim] {
  let x = try ctx.type(0)
  let shape = try ctx.shapeOperand(1)
  let shapeText = dimsText(shape)
  let allowZero = try ctx.flag("allowzero")
  var dims: [Dim] = []
  var inferred: Int? = nil
  for (i, d) in shape.enumerated() {
    switch d.value ?? Int.max {
    case -1:
      guard inferred == nil else { throw ctx.error("shape \(shapeText) has more than one -1") }
      inferred = i
      dims.append(.fixed(1))
    case 0 where !allowZero:
      guard i < x.rank else { throw ctx.error("shape[\(i)] = 0 copies input dim \(i), but the input is \(x)") }
      dims.append(x.dims[i])
    case let v where v < 0: throw ctx.error("shape \(shapeText) has the invalid value \(v)")
    default: dims.append(d)
    }
  }
  guard let total = Dim.product(x.dims), let product = Dim.product(dims) else {
    throw ctx.error("shape \(shapeText) or input \(x) is too large")
  }
  guard let k = inferred else {
    if provablyDiffer(total, product) { throw ctx.error("cannot reshape \(x) (\(total) elements) to \(shapeText)") }
    return dims
  }
  if allowZero && shape.contains(.fixed(0)) { throw ctx.error("shape \(shapeText) has both 0 and -1 with allowzero = 1") }
  if let t = total.constantValue, let known = product.constantValue, known == 0 || t % known != 0 {
    throw ctx.error("cannot reshape \(x) (\(t) elements) to \(shapeText)")
  }
  guard let q = total.exactlyDivided(by: product) else {
    throw ctx.error(.unknownShape, "cannot infer the -1 in \(shapeText) from the symbolic input \(x)")
  }
  dims[k] = Dim(q)
  return dims
}

/// Flatten to 2-D: dims before `axis` (in [-rank, rank]) multiply into the first, the rest into the second.
private let flatten = OpSchema(
  "Flatten", operands: [.required("input")], attributes: [AttributeSpec("axis", .int, default: .int(1))],
  inferTypes: { ctx throws(Diagnostic) in [try ctx.type(0).with(dims: flattenDims(ctx))] },
  fold: { ctx throws(Diagnostic) in [try ctx.requireConstant(0).reshaped(try flattenDims(ctx).compactMap(\.value))] })

private func flattenDims(_ ctx: OpContext) throws(Diagnostic) -> [Dim] {
  let x = try ctx.type(0)
  var axis = try ctx.int("axis")
  guard axis >= -x.rank && axis <= x.rank else { throw ctx.error(.badAttribute, "axis \(axis) is out of range for \(x)") }
  if axis < 0 { axis += x.rank }
  return try [x.dims[..<axis], x.dims[axis...]].map { part throws(Diagnostic) in
    try ctx.dim(Dim.product(part), "the product of \(dimsText(Array(part)))")
  }
}

/// Squeeze: removes the listed axes (each must be 1), or with no axes every dim that is 1.
private let squeeze = OpSchema(
  "Squeeze", operands: [.required("data"), .optional("axes")],
  inferTypes: { ctx throws(Diagnostic) in [try ctx.type(0).with(dims: squeezeDims(ctx))] },
  fold: { ctx throws(Diagnostic) in [try ctx.requireConstant(0).reshaped(try squeezeDims(ctx).compactMap(\.value))] })

private func squeezeDims(_ ctx: OpContext) throws(Diagnostic) -> [Dim] {
  let x = try ctx.type(0)
  guard let given = try ctx.optionalConstantInts(1) else {
    if let d = x.dims.first(where: { $0.value == nil }) {
      throw ctx.error(.unknownShape, "Squeeze without axes cannot tell whether the symbolic dim \(d) of \(x) is 1")
    }
    return x.dims.filter { $0 != .fixed(1) }
  }
  let axes = try ctx.normalizedAxes(given, rank: x.rank)
  for a in axes {
    if let v = x.dims[a].value, v != 1 { throw ctx.error("cannot squeeze axis \(a) of \(x): its size is \(v), not 1") }
  }
  return x.dims.enumerated().filter { !axes.contains($0.offset) }.map(\.element)
}

/// Unsqueeze: inserts 1s at `axes`, which index the output (rank + number of axes).
private let unsqueeze = OpSchema(
  "Unsqueeze", operands: [.required("data"), .required("axes")],
  inferTypes: { ctx throws(Diagnostic) in [try ctx.type(0).with(dims: unsqueezeDims(ctx))] },
  fold: { ctx throws(Diagnostic) in [try ctx.requireConstant(0).reshaped(try unsqueezeDims(ctx).compactMap(\.value))] })

private func unsqueezeDims(_ ctx: OpContext) throws(Diagnostic) -> [Dim] {
  let x = try ctx.type(0)
  let given = try ctx.constantInts(1)
  let rank = x.rank + given.count
  let axes = Set(try ctx.normalizedAxes(given, rank: rank))
  var rest = x.dims.makeIterator()
  return (0..<rank).map { axes.contains($0) ? .fixed(1) : rest.next()! }
}

/// DepthToSpace (modes DCR and CRD) moves channel blocks into blocksize x blocksize spatial tiles.
private let depthToSpace = OpSchema(
  "DepthToSpace", operands: [.required("input")],
  attributes: [AttributeSpec("blocksize", .int, required: true), AttributeSpec("mode", .string, default: .string("DCR"))],
  inferTypes: { ctx throws(Diagnostic) in
    let (x, block) = try blockGeometry(ctx)
    let channels = try blockQuotient(
      ctx, x.dims[1], by: block * block, what: "DepthToSpace needs channels divisible by blocksize² = \(block * block), got \(x)")
    let h = try scaled(ctx, x.dims[2], by: block)
    let w = try scaled(ctx, x.dims[3], by: block)
    return [x.with(dims: [x.dims[0], channels, h, w])]
  })

/// SpaceToDepth moves blocksize x blocksize spatial tiles into channels.
private let spaceToDepth = OpSchema(
  "SpaceToDepth", operands: [.required("input")],
  attributes: [AttributeSpec("blocksize", .int, required: true), AttributeSpec("mode", .string, default: .string("DCR"))],
  inferTypes: { ctx throws(Diagnostic) in
    let (x, block) = try blockGeometry(ctx)
    var spatial: [Dim] = []
    for d in x.dims[2...] {
      let what = "SpaceToDepth needs height and width divisible by blocksize \(block), got \(x)"
      spatial.append(try blockQuotient(ctx, d, by: block, what: what))
    }
    return [x.with(dims: [x.dims[0], try scaled(ctx, x.dims[1], by: block * block)] + spatial)]
  })

private func blockGeometry(_ ctx: OpContext) throws(Diagnostic) -> (TensorType, Int) {
  let x = try ctx.type(0, rank: 4)
  let block = try ctx.int("blocksize")
  guard block >= 1 && block <= 1 << 16 else { throw ctx.error(.badAttribute, "blocksize must be in 1...65536, got \(block)") }
  let mode = try ctx.string("mode") ?? "DCR"
  guard mode == "DCR" || mode == "CRD" else { throw ctx.error(.badAttribute, "mode must be DCR or CRD, got \(mode)") }
  return (x, block)
}

private func scaled(_ ctx: OpContext, _ d: Dim, by k: Int) throws(Diagnostic) -> Dim {
  if k == 1 { return d }
  return try ctx.dim(d.expression.scaled(by: k), "\(d) times \(k)")
}

/// `d / k` for a dim the op requires to be a multiple of k. A symbolic dim gets the floor quotient, which is
/// exact at every size the op accepts.
private func blockQuotient(_ ctx: OpContext, _ d: Dim, by k: Int, what: @autoclosure () -> String) throws(Diagnostic) -> Dim {
  if k == 1 { return d }
  if let v = d.value {
    guard v % k == 0 else { throw ctx.error(what()) }
    return .fixed(v / k)
  }
  return try ctx.dim(d.expression.exactlyDivided(by: DimExpr(k)) ?? d.expression.floorDivided(by: k), "\(d) / \(k)")
}
