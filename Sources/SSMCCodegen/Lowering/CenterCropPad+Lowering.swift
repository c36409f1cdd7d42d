import CLLVM
import SSMCIR

/// CenterCropPad: output position o on an axis reads input o + crop - pad, where crop = (in - out) / 2 when
/// the axis shrinks and pad = (out - in) / 2 when it grows (the extra element of an odd difference goes to
/// the end, as in the reference); positions with no input are zero. So, as Pad's constant mode: zeros where
/// some axis grows, then min(in, out) elements per axis copied from offset crop to offset pad. Elements
/// move bit for bit, any type.
let lowerCenterCropPad: Lowering = { ctx in
  do { _ = try centerCropPadSizes(ctx.op) } catch { throw ctx.error("\(error)") }
  let scalar = try ctx.moveScalar(ctx.operandType(0).element)
  let x = ctx.operandShape(0)
  let out = ctx.resultShape(0)
  let kept = zip(x, out).map { Swift.min($0, $1) }
  if kept != out { ctx.fill(ctx.results[0], count: out.reduce(1, *), scalar: scalar) }
  let inStrides = rowMajorStrides(x)
  let outStrides = rowMajorStrides(out)
  let crop = zip(zip(x, out), inStrides).reduce(0) { $0 + Swift.max(0, $1.0.0 - $1.0.1) / 2 * $1.1 }
  let pad = zip(zip(x, out), outStrides).reduce(0) { $0 + Swift.max(0, $1.0.1 - $1.0.0) / 2 * $1.1 }
  ctx.stridedCopy(
    kept, scalar: scalar, from: ctx.operand(0), sourceOffset: crop, strides: inStrides, to: ctx.results[0],
    destOffset: pad, strides: outStrides)
}
