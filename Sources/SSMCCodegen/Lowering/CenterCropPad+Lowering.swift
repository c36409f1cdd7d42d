import CLLVM
import SSMCIR

/// CenterCropPad: output position o on an axis reads input o + crop - pad, where crop = (in - out) / 2 when
/// the axis shrinks and pad = (out - in) / 2 when it grows (the extra element of an odd difference goes to
/// the end, as in the reference); positions with no input are zero. Elements move bit for bit, any type.
let lowerCenterCropPad: Lowering = { ctx in
  do { _ = try centerCropPadSizes(ctx.op) } catch { throw ctx.error("\(error)") }
  let scalar = try ctx.moveScalar(ctx.operandType(0).element)
  let x = ctx.operandShape(0)
  let out = ctx.resultShape(0)
  guard out.reduce(1, *) > 0 else { return }
  let shifts = zip(x, out).map { d, o in d >= o ? (d - o) / 2 : -((o - d) / 2) }
  let inStrides = rowMajorStrides(x)
  let outStrides = rowMajorStrides(out)
  let k = ctx.k
  ctx.forEachIndex(out, captures: [ctx.operand(0), ctx.results[0]]) { index, c in
    var inside = k.bool(true)
    var at = k.i64(0)
    for axis in x.indices {
      let i = index[axis] + k.i64(Int64(shifts[axis]))
      if shifts[axis] < 0 || out[axis] + shifts[axis] > x[axis] {
        inside = k.and(inside, k.and(k.compare(.ge, i, k.i64(0)), k.compare(.lt, i, k.i64(Int64(x[axis])))))
      }
      // Clamped so a padded position still loads from inside the input; its value is then replaced by zero.
      let safe = x[axis] == 0 ? k.i64(0) : k.min(k.max(i, k.i64(0)), k.i64(Int64(x[axis] - 1)))
      at = at + safe * k.i64(Int64(inStrides[axis]))
    }
    let zero = k.constant(bits: 0, k.type(scalar))
    let value: IRValue
    if x.contains(0) {
      value = zero
    } else {
      value = k.select(inside, k.load(scalar, from: c[0], at: at), zero)
    }
    k.store(value, scalar, to: c[1], at: ctx.flatIndex(index, strides: outStrides))
  }
}
