import CLLVM
import SSMCIR

/// Layout ops. Reshape-like ops keep the bytes (a memcpy); Transpose, DepthToSpace and SpaceToDepth are
/// strided copies: each output dim reads the input with some stride.
let layoutLowerings: [String: Lowering] = [
  "Reshape": copyBytes, "Flatten": copyBytes, "Squeeze": copyBytes, "Unsqueeze": copyBytes,
  "Transpose": { ctx in
    if ctx.hasRuntimeExtents { return try lowerRuntimeTranspose(ctx) }
    let shape = ctx.operandShape(0)
    let perm = try ctx.op.ints("perm") ?? Array((0..<shape.count).reversed())
    let strides = rowMajorStrides(shape)
    try permutedCopy(ctx, shape: perm.map { shape[$0] }, sourceStrides: perm.map { strides[$0] })
  },
  "DepthToSpace": { ctx in
    let (n, c, h, w) = try nchw(ctx)
    let b = try ctx.op.int("blocksize")
    let cb = c / (b * b)
    let hw = h * w
    // Output (N, C/b², H, b, W, b) read from the input channels: DCR orders channels (b, b, C/b²),
    // CRD orders them (C/b², b, b).
    let crd = try ctx.op.string("mode") == "CRD"
    let (cStride, b1Stride, b2Stride) = crd ? (b * b * hw, b * hw, hw) : (hw, b * cb * hw, cb * hw)
    try permutedCopy(ctx, shape: [n, cb, h, b, w, b], sourceStrides: [c * hw, cStride, w, b1Stride, 1, b2Stride])
  },
  "SpaceToDepth": { ctx in
    let (n, c, h, w) = try nchw(ctx)
    let b = try ctx.op.int("blocksize")
    // Output channels ordered (b, b, C) (DCR) or (C, b, b) (CRD); each reads a (H/b, W/b) grid of the input.
    let (ho, wo) = (h / b, w / b)
    if try ctx.op.string("mode") == "CRD" {
      try permutedCopy(ctx, shape: [n, c, b, b, ho, wo], sourceStrides: [c * h * w, h * w, w, 1, b * w, b])
    } else {
      try permutedCopy(ctx, shape: [n, b, b, c, ho, wo], sourceStrides: [c * h * w, w, 1, h * w, b * w, b])
    }
  },
]

/// Result 0 is operand 0's bytes unchanged.
let copyBytes: Lowering = { ctx in
  if ctx.hasRuntimeExtents { return copyRuntimeBytes(ctx) }
  let type = ctx.resultType(0)
  ctx.k.memcpy(to: ctx.results[0], from: ctx.operand(0), bytes: type.elementCount! * type.element.byteSize)
}

/// Writes result 0 contiguously, in the order of `shape`, reading operand 0 with `sourceStrides`.
private func permutedCopy(_ ctx: LoweringContext, shape: [Int], sourceStrides: [Int]) throws {
  let scalar = try ctx.moveScalar(ctx.operandType(0).element)
  ctx.stridedCopy(
    shape, scalar: scalar, from: ctx.operand(0), strides: sourceStrides, to: ctx.results[0],
    strides: rowMajorStrides(shape))
}

private func nchw(_ ctx: LoweringContext) throws -> (Int, Int, Int, Int) {
  let s = ctx.operandShape(0)
  guard s.count == 4 else { throw ctx.error("needs a 4-D input, got \(s)") }
  return (s[0], s[1], s[2], s[3])
}

/// Joining and replicating ops, each a strided copy per operand or result.
let combineLowerings: [String: Lowering] = [
  "Concat": { ctx in
    if ctx.hasRuntimeExtents { return try lowerRuntimeConcat(ctx) }
    let out = ctx.resultShape(0)
    let axis = try normalizedAxis(ctx)
    let scalar = try ctx.moveScalar(ctx.resultType(0).element)
    let outStrides = rowMajorStrides(out)
    var offset = 0
    for i in ctx.node.operands.indices where ctx.hasOperand(i) {
      let shape = ctx.operandShape(i)
      ctx.stridedCopy(
        shape, scalar: scalar, from: ctx.operand(i), strides: rowMajorStrides(shape), to: ctx.results[0],
        destOffset: offset * outStrides[axis], strides: outStrides)
      offset += shape[axis]
    }
  },
  "Split": { ctx in
    if ctx.hasRuntimeExtents { return try lowerRuntimeSplit(ctx) }
    let shape = ctx.operandShape(0)
    let axis = try normalizedAxis(ctx)
    let scalar = try ctx.moveScalar(ctx.operandType(0).element)
    let strides = rowMajorStrides(shape)
    var offset = 0
    for r in ctx.results.indices {
      let part = ctx.resultShape(r)
      ctx.stridedCopy(
        part, scalar: scalar, from: ctx.operand(0), sourceOffset: offset * strides[axis], strides: strides,
        to: ctx.results[r], strides: rowMajorStrides(part))
      offset += part[axis]
    }
  },
  "Expand": { ctx in
    if ctx.hasRuntimeExtents { return try lowerRuntimeExpand(ctx) }
    let out = ctx.resultShape(0)
    try permutedCopy(ctx, shape: out, sourceStrides: broadcastStrides(of: ctx.operandShape(0), to: out))
  },
  "Tile": { ctx in
    if ctx.hasRuntimeExtents { return try lowerRuntimeTile(ctx) }
    // Output dim k (size r_k * d_k) is split into a repeat index (source stride 0) and the input index.
    let input = ctx.operandShape(0)
    let out = ctx.resultShape(0)
    let inStrides = rowMajorStrides(input)
    let outStrides = rowMajorStrides(out)
    var shape: [Int] = []
    var source: [Int] = []
    var dest: [Int] = []
    for (k, d) in input.enumerated() {
      let repeats = d == 0 ? 0 : out[k] / d
      shape += [repeats, d]
      source += [0, inStrides[k]]
      dest += [d * outStrides[k], outStrides[k]]
    }
    let scalar = try ctx.moveScalar(ctx.operandType(0).element)
    ctx.stridedCopy(shape, scalar: scalar, from: ctx.operand(0), strides: source, to: ctx.results[0], strides: dest)
  },
]
