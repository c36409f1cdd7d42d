/// Ops that move image blocks: CenterCropPad, MaxUnpool, Col2Im, and MaxRoiPool.
/// MaxUnpool has no sample rule: its indices count across the whole batch.
let visionLayoutOps: [OpSchema] = [
  centerCropPad.with(samples: SampleRule.along { ctx throws(Diagnostic) in
    let x = ctx.op.operandTypes[0]?.dims ?? []
    return try centerCropPadSizes(ctx.op).filter { x[$0.axis].value != $0.size }.map(\.axis)
  }.shapes([1])),
  maxUnpool, col2Im.with(samples: SampleRule.leading([0]).shapes([1, 2])), maxRoiPool.with(samples: .leading([1])),
]

private let centerCropPad = OpSchema(
  "CenterCropPad", operands: [.required("input_data"), .required("shape")], attributes: [AttributeSpec("axes", .ints)],
  inferTypes: { ctx throws(Diagnostic) in
    let x = try ctx.type(0)
    var dims = x.dims
    for (axis, size) in try centerCropPadTargets(ctx) { dims[axis] = size }
    return [x.with(dims: dims)]
  })

/// CenterCropPad's target size per axis it crops or pads (`axes`, default all), from the constant `shape`.
public func centerCropPadSizes(_ ctx: OpContext) throws(Diagnostic) -> [(axis: Int, size: Int)] {
  try centerCropPadTargets(ctx).map { axis, size throws(Diagnostic) in
    guard let v = size.value else { throw ctx.error(.unknownShape, "CenterCropPad shape has the symbolic size \(size)") }
    return (axis, v)
  }
}

/// The target sizes as dims: `shape` may be computed from symbolic shapes (cropping to another input's size).
private func centerCropPadTargets(_ ctx: OpContext) throws(Diagnostic) -> [(axis: Int, size: Dim)] {
  let x = try ctx.type(0)
  let axes = try ctx.normalizedAxes(ctx.ints("axes") ?? Array(0..<x.rank), rank: x.rank)
  let sizes = try ctx.shapeOperand(1)
  guard sizes.count == axes.count else {
    throw ctx.error(.badOperand, "CenterCropPad shape has \(sizes.count) values for \(axes.count) axes")
  }
  guard sizes.allSatisfy({ ($0.value ?? 0) >= 0 && ($0.value ?? 0) < Int(Int32.max) }) else {
    throw ctx.error(.badOperand, "CenterCropPad shape must be non-negative, got \(dimsText(sizes))")
  }
  return Array(zip(axes, sizes))
}

private let maxUnpool = OpSchema(
  "MaxUnpool", operands: [.required("X"), .required("I"), .optional("output_shape")],
  attributes: [
    AttributeSpec("kernel_shape", .ints, required: true), AttributeSpec("pads", .ints), AttributeSpec("strides", .ints),
  ],
  inferTypes: { ctx throws(Diagnostic) in
    let x = try ctx.type(0)
    if x.isStatic, try ctx.type(1).isStatic, !ctx.has(2) || ctx.constant(2) != nil {
      return [TensorType(x.element, shape: try maxUnpoolShapes(ctx).output)]
    }
    return [TensorType(x.element, try symbolicMaxUnpoolOutput(ctx))]
  })

/// MaxUnpool's output over symbolic dims: (in - 1) * stride - pads + kernel per spatial axis, or output_shape
/// (constant or computed from shapes) when given.
private func symbolicMaxUnpoolOutput(_ ctx: OpContext) throws(Diagnostic) -> [Dim] {
  let (x, indices) = (try ctx.type(0), try ctx.type(1))
  let (kernel, strides, pads) = try maxUnpoolWindows(ctx)
  guard x.rank == indices.rank, zip(x.dims, indices.dims).allSatisfy({ !provablyDiffer($0.expression, $1.expression) }) else {
    throw ctx.error("MaxUnpool I \(indices) must have the shape of X \(x)")
  }
  let r = x.rank - 2
  var inferred = Array(x.dims[..<2])
  for i in 0..<r {
    let d = x.dims[i + 2].expression
    let size = try ctx.dim(d.plus(-1)?.scaled(by: strides[i])?.plus(kernel[i] - pads[i] - pads[i + r]), "MaxUnpool output axis \(i + 2)")
    guard (size.expression.bounds.upper ?? 0) >= 0 else { throw ctx.error("MaxUnpool output axis \(i + 2) would have size \(size)") }
    inferred.append(size)
  }
  guard ctx.has(2) else { return inferred }
  let output = try ctx.shapeOperand(2)
  if output.isEmpty { return inferred }
  guard output.count == x.rank, zip(output, inferred).allSatisfy({ a, b in
    (a.expression.minus(b.expression)?.bounds.upper ?? 0) >= 0 && (a.value ?? 0) < Int(Int32.max)
  }) else {
    throw ctx.error(
      .badOperand, "MaxUnpool output_shape \(dimsText(output)) must have rank \(x.rank) and hold the unpooled shape \(dimsText(inferred))")
  }
  return output
}

/// MaxUnpool's kernel_shape, strides and pads, checked.
private func maxUnpoolWindows(_ ctx: OpContext) throws(Diagnostic) -> (kernel: [Int], strides: [Int], pads: [Int]) {
  let x = try ctx.type(0)
  let indices = try ctx.type(1)
  guard x.rank >= 3 else { throw ctx.error("MaxUnpool needs X of rank 3 or more (N, C, spatial...), got \(x)") }
  guard indices.element == .i64, indices.rank == x.rank else {
    throw ctx.error(.typeMismatch, "MaxUnpool I must be i64 with the shape of X \(x), got \(indices)")
  }
  let r = x.rank - 2
  let kernel = try ctx.kernelShape(weights: nil, spatial: r)
  let window = try ctx.windowAttributes(spatial: r)
  return (kernel, window.strides, window.pads)
}

/// MaxUnpool's shapes: `inferred` is the shape the pooling indices count in ((in - 1) * stride - pads +
/// kernel per spatial axis); `output` is output_shape when given (it must hold `inferred`, which fills its
/// leading corner, as in the ONNX reference), else `inferred`.
public func maxUnpoolShapes(_ ctx: OpContext) throws(Diagnostic) -> (inferred: [Int], output: [Int]) {
  let (x, indices) = (try ctx.type(0), try ctx.type(1))
  let (kernel, strides, pads) = try maxUnpoolWindows(ctx)
  let shape = try ctx.staticShape(0)
  guard try ctx.staticShape(1) == shape else { throw ctx.error("MaxUnpool I \(indices) must have the shape of X \(x)") }
  let r = x.rank - 2
  var inferred = Array(shape[..<2])
  for i in 0..<r {
    let size = try ctx.sum([try ctx.multiply(shape[i + 2] - 1, strides[i]), -pads[i], -pads[i + r], kernel[i]])
    guard size >= 0 else { throw ctx.error("MaxUnpool output axis \(i + 2) would have size \(size)") }
    inferred.append(size)
  }
  guard let output = try ctx.optionalConstantInts(2), !output.isEmpty else { return (inferred, inferred) }
  guard output.count == x.rank, zip(output, inferred).allSatisfy({ $0 >= $1 && $0 < Int(Int32.max) }) else {
    throw ctx.error(.badOperand, "MaxUnpool output_shape \(output) must have rank \(x.rank) and hold the unpooled shape \(inferred)")
  }
  return (inferred, output)
}

private let col2Im = OpSchema(
  "Col2Im", operands: [.required("input"), .required("image_shape"), .required("block_shape")],
  attributes: [AttributeSpec("dilations", .ints), AttributeSpec("pads", .ints), AttributeSpec("strides", .ints)],
  inferTypes: { ctx throws(Diagnostic) in
    let x = try ctx.type(0)
    guard x.isStatic, ctx.constant(1) != nil else { return [TensorType(x.element, try symbolicCol2ImOutput(ctx))] }
    let g = try col2ImGeometry(ctx)
    return [TensorType(x.element, shape: [g.batch, g.channels] + g.image)]
  })

/// Col2Im's output (N, C, image...) when the input has symbolic dims or image_shape is computed from shapes.
/// The block-position count is checked where it provably differs; the rest once the dims are fixed.
private func symbolicCol2ImOutput(_ ctx: OpContext) throws(Diagnostic) -> [Dim] {
  let x = try ctx.type(0)
  guard x.rank == 3 else { throw ctx.error("Col2Im needs input of rank 3 (N, C * prod(block_shape), L), got \(x)") }
  let image = try ctx.shapeOperand(1)
  let block = try ctx.constantInts(2)
  let r = image.count
  guard r >= 1, block.count == r, block.allSatisfy({ $0 >= 1 && $0 < 1 << 24 }), image.allSatisfy({ ($0.value ?? 1) >= 1 }) else {
    throw ctx.error(.badOperand, "Col2Im image_shape \(dimsText(image)) and block_shape \(block) must have one positive value per spatial axis")
  }
  let window = try ctx.windowAttributes(spatial: r)
  let (dilations, strides, pads) = (window.dilations, window.strides, window.pads)
  var blockSize = 1
  for b in block { blockSize = try ctx.multiply(blockSize, b) }
  let channels: Dim
  if let c = x.dims[1].value {
    guard c % blockSize == 0 else { throw ctx.error("Col2Im input dim 1 (\(c)) is not a multiple of prod(block_shape) \(blockSize)") }
    channels = .fixed(c / blockSize)
  } else {
    channels = try ctx.dim(x.dims[1].expression.floorDivided(by: blockSize), "\(x.dims[1]) / \(blockSize)")
  }
  // Block positions per axis: (image + pads - dilation * (block - 1) - 1) / stride + 1.
  var positions = DimExpr(1)
  for i in 0..<r {
    let span = image[i].expression.plus(pads[i] + pads[i + r] - dilations[i] * (block[i] - 1) - 1)
    guard let count = span?.floorDivided(by: strides[i])?.plus(1), let product = positions.times(count) else {
      throw ctx.error("Col2Im block positions over \(dimsText(image)) overflow")
    }
    positions = product
  }
  if provablyDiffer(positions, x.dims[2].expression) {
    throw ctx.error("Col2Im input has \(x.dims[2]) block positions; image \(dimsText(image)) and block \(block) give \(positions)")
  }
  return [x.dims[0], channels] + image
}

/// Col2Im's geometry: input (N, C * prod(block), L) where L is the number of block positions of the padded
/// image, each axis (image + pads - dilation * (block - 1) - 1) / stride + 1.
public struct Col2ImGeometry: Sendable {
  public var batch: Int, channels: Int
  public var image: [Int], block: [Int], blocks: [Int]
  public var dilations: [Int], pads: [Int], strides: [Int]
}

public func col2ImGeometry(_ ctx: OpContext) throws(Diagnostic) -> Col2ImGeometry {
  let shape = try ctx.staticShape(0)
  guard shape.count == 3 else { throw ctx.error("Col2Im needs input of rank 3 (N, C * prod(block_shape), L), got \(shape)") }
  let image = try ctx.constantInts(1)
  let block = try ctx.constantInts(2)
  let r = image.count
  guard r >= 1, block.count == r else { throw ctx.error(.badOperand, "Col2Im image_shape \(image) and block_shape \(block) must have one value per spatial axis") }
  let window = try ctx.windowAttributes(spatial: r)
  let (dilations, strides, pads) = (window.dilations, window.strides, window.pads)
  guard (image + block).allSatisfy({ $0 >= 1 && $0 < 1 << 24 }) else {
    throw ctx.error(.badOperand, "Col2Im image_shape \(image) and block_shape \(block) must be positive")
  }
  var blockSize = 1
  for b in block { blockSize = try ctx.multiply(blockSize, b) }
  guard shape[1] % blockSize == 0 else { throw ctx.error("Col2Im input dim 1 (\(shape[1])) is not a multiple of prod(block_shape) \(blockSize)") }
  var blocks: [Int] = []
  for i in 0..<r {
    let n = (image[i] + pads[i] + pads[i + r] - dilations[i] * (block[i] - 1) - 1)
    guard n >= 0 else { throw ctx.error("Col2Im block \(block) does not fit the padded image \(image) on axis \(i)") }
    blocks.append(n / strides[i] + 1)
  }
  var positions = 1
  for b in blocks { positions = try ctx.multiply(positions, b) }
  guard positions == shape[2] else {
    throw ctx.error("Col2Im input has \(shape[2]) block positions; image \(image) and block \(block) give \(blocks)")
  }
  return Col2ImGeometry(
    batch: shape[0], channels: shape[1] / blockSize, image: image, block: block, blocks: blocks, dilations: dilations,
    pads: pads, strides: strides)
}

private let maxRoiPool = OpSchema(
  "MaxRoiPool", operands: [.required("X"), .required("rois")],
  attributes: [AttributeSpec("pooled_shape", .ints, required: true), AttributeSpec("spatial_scale", .float, default: .float(1))],
  inferTypes: { ctx throws(Diagnostic) in
    let x = try ctx.type(0)
    let rois = try ctx.type(1)
    guard x.rank == 4 else { throw ctx.error("MaxRoiPool needs X of rank 4 (N, C, H, W), got \(x)") }
    guard rois.rank == 2 else { throw ctx.error("MaxRoiPool rois must be (num_rois, 5), got \(rois)") }
    if let v = rois.dims[1].value, v != 5 { throw ctx.error("MaxRoiPool rois must be (num_rois, 5), got \(rois)") }
    try ctx.requireSameElement([1], as: 0)
    let pooled = try maxRoiPoolShape(ctx)
    return [x.with(dims: [rois.dims[0], x.dims[1], .fixed(pooled[0]), .fixed(pooled[1])])]
  })

/// MaxRoiPool's (pooled height, pooled width).
public func maxRoiPoolShape(_ ctx: OpContext) throws(Diagnostic) -> [Int] {
  let pooled = try ctx.ints("pooled_shape") ?? []
  guard pooled.count == 2, pooled.allSatisfy({ $0 >= 1 && $0 < 1 << 20 }) else {
    throw ctx.error(.badAttribute, "MaxRoiPool pooled_shape must be two positive sizes, got \(pooled)")
  }
  guard Double(try ctx.float("spatial_scale")).isFinite else { throw ctx.error(.badAttribute, "MaxRoiPool spatial_scale must be finite") }
  return pooled
}
