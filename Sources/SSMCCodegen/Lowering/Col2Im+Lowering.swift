import CLLVM
import SSMCIR

/// Col2Im: every column value is added into the image position its block offset and block position map
/// to (position * stride - pad + offset * dilation per axis); positions in the padding are skipped. One
/// (n, c) image per parallel item, each summed in the reference's order (offsets outer, positions inner).
let lowerCol2Im: Lowering = { ctx in
  let g: Col2ImGeometry
  do { g = try col2ImGeometry(ctx.op) } catch { throw ctx.error("\(error)") }
  let scalar = try ctx.scalar(ctx.operandType(0).element)
  guard scalar != .i1 else { throw ctx.error("Col2Im needs numeric input, got bool") }
  let r = g.image.count
  let imageSize = g.image.reduce(1, *)
  let blockSize = g.block.reduce(1, *)
  let positions = g.blocks.reduce(1, *)
  let planes = g.batch * g.channels
  guard planes * imageSize > 0 else { return }
  let imageStrides = rowMajorStrides(g.image)
  let k = ctx.k
  let zero = k.constant(0, k.type(scalar))
  ctx.forEachIndex(
    [planes], work: planes * (imageSize + blockSize * positions), captures: [ctx.operand(0), ctx.results[0]],
    innerHints: LoopHints(vectorize: false)
  ) { index, c in
    let (src, dst) = (c[0], c[1])
    let image = index[0] * k.i64(Int64(imageSize))
    let column = index[0] * k.i64(Int64(blockSize * positions))
    k.forLoop(from: k.i64(0), to: k.i64(Int64(imageSize))) { i in k.store(zero, scalar, to: dst, at: image + i) }
    guard positions > 0 else { return }
    k.forLoop(from: k.i64(0), to: k.i64(Int64(blockSize)), hints: LoopHints(vectorize: false)) { b in
      let offset = unflatten(k, b, g.block)
      k.forLoop(from: k.i64(0), to: k.i64(Int64(positions)), hints: LoopHints(vectorize: false)) { p in
        var inside = k.bool(true)
        var at = k.i64(0)
        let position = unflatten(k, p, g.blocks)
        for axis in 0..<r {
          let pixel = position[axis] * k.i64(Int64(g.strides[axis])) - k.i64(Int64(g.pads[axis])) + offset[axis] * k.i64(Int64(g.dilations[axis]))
          inside = k.and(inside, k.and(k.compare(.ge, pixel, k.i64(0)), k.compare(.lt, pixel, k.i64(Int64(g.image[axis])))))
          at = at + pixel * k.i64(Int64(imageStrides[axis]))
        }
        k.ifThen(inside) {
          let target = image + at
          let value = k.load(scalar, from: src, at: column + b * k.i64(Int64(positions)) + p)
          k.store(k.load(scalar, from: dst, at: target) + value, scalar, to: dst, at: target)
        }
      }
    }
  }
}
