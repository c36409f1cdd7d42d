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
    for (axis, size) in try centerCropPadSizes(ctx) { dims[axis] = .fixed(size) }
    return [x.with(dims: dims)]
  })

/// CenterCropPad's target size per axis it crops or pads (`axes`, default all), from the constant `shape`.
public func centerCropPadSizes(_ ctx: OpContext) throws(Diagnostic) -> [(axis: Int, size: Int)] {
  let x = try ctx.type(0)
  let axes = try ctx.normalizedAxes(ctx.ints("axes") ?? Array(0..<x.rank), rank: x.rank)
  let sizes = try ctx.constantInts(1)
  guard sizes.count == axes.count else {
    throw ctx.error(.badOperand, "CenterCropPad shape has \(sizes.count) values for \(axes.count) axes")
  }
  guard sizes.allSatisfy({ $0 >= 0 && $0 < Int(Int32.max) }) else {
    throw ctx.error(.badOperand, "CenterCropPad shape must be non-negative, got \(sizes)")
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
    return [TensorType(x.element, shape: try maxUnpoolShapes(ctx).output)]
  })

/// MaxUnpool's shapes: `inferred` is the shape the pooling indices count in ((in - 1) * stride - pads +
/// kernel per spatial axis); `output` is output_shape when given (it must hold `inferred`, which fills its
/// leading corner, as in the ONNX reference), else `inferred`.
public func maxUnpoolShapes(_ ctx: OpContext) throws(Diagnostic) -> (inferred: [Int], output: [Int]) {
  let x = try ctx.type(0)
  let indices = try ctx.type(1)
  guard x.rank >= 3 else { throw ctx.error("MaxUnpool needs X of rank 3 or more (N, C, spatial...), got \(x)") }
  guard indices.element == .i64, indices.rank == x.rank else {
    throw ctx.error(.typeMismatch, "MaxUnpool I must be i64 with the shape of X \(x), got \(indices)")
  }
  let shape = try ctx.staticShape(0)
  guard try ctx.staticShape(1) == shape else { throw ctx.error("MaxUnpool I \(indices) must have the shape of X \(x)") }
  let r = x.rank - 2
  let kernel = try ctx.kernelShape(weights: nil, spatial: r)
  let window = try ctx.windowAttributes(spatial: r)
  let (strides, pads) = (window.strides, window.pads)
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
    let g = try col2ImGeometry(ctx)
    return [TensorType(x.element, shape: [g.batch, g.channels] + g.image)]
  })

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
