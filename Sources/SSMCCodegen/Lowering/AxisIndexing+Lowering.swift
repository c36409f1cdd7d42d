import CLLVM
import SSMCIR

/// TopK (TopK+Lowering.swift), OneHot and ReverseSequence. OneHot compares each output position with its
/// index and never addresses memory by it, so any index value is safe. ReverseSequence clamps each
/// sequence length into [0, time steps]: the C ABI cannot report a bad length from a kernel, and a clamped
/// one never reads outside the tensor (a length past the end reverses the whole axis; a negative one
/// reverses nothing).
let axisIndexingLowerings: [String: Lowering] = [
  "TopK": lowerTopK,
  "OneHot": { ctx in
    let indices = ctx.operandShape(0)
    let (axis, depth) = try oneHotGeometry(ctx.op)
    let before = indices[..<axis].reduce(1, *)
    let after = indices[axis...].reduce(1, *)
    let indexElement = ctx.operandType(0).element
    let indexScalar = try ctx.scalar(indexElement)
    let scalar = try ctx.moveScalar(ctx.resultType(0).element)
    let k = ctx.k
    ctx.forEachIndex(
      [before, depth, after], work: before * depth * after, captures: [ctx.operand(0), ctx.operand(2), ctx.results[0]]
    ) { i, c in
      let raw = k.load(indexScalar, from: c[0], at: i[0] * k.i64(Int64(after)) + i[2])
      let hit: IRValue
      if raw.isFloat {
        // A float index is cast to an integer (toward zero) first; comparing in floats keeps NaN and huge
        // values, which have no integer, simply unequal.
        let whole = k.intrinsic("llvm.trunc", overloads: [raw.type], [raw])
        let d = k.constant(Double(depth), raw.type)
        let wrapped = k.select(k.compare(.lt, whole, k.constant(0, raw.type)), whole + d, whole)
        hit = k.compare(.eq, wrapped, k.convert(i[1], to: indexScalar))
      } else {
        let v = k.convert(raw, to: .i64)
        let wrapped = k.select(k.compare(.lt, v, k.i64(0)), v + k.i64(Int64(depth)), v)
        hit = k.compare(.eq, wrapped, i[1])
      }
      let off = k.load(scalar, from: c[1], at: k.i64(0))
      let on = k.load(scalar, from: c[1], at: k.i64(1))
      k.store(k.select(hit, on, off), scalar, to: c[2], at: (i[0] * k.i64(Int64(depth)) + i[1]) * k.i64(Int64(after)) + i[2])
    }
  },
  "ReverseSequence": { ctx in
    let shape = ctx.operandShape(0)
    let batchAxis = try ctx.op.int("batch_axis")
    let timeAxis = try ctx.op.int("time_axis")
    let steps = shape[timeAxis]
    let scalar = try ctx.moveScalar(ctx.operandType(0).element)
    let strides = rowMajorStrides(shape)
    var others = strides
    others[timeAxis] = 0
    let k = ctx.k
    ctx.forEachIndex(shape, work: shape.reduce(1, *), captures: [ctx.operand(0), ctx.operand(1), ctx.results[0]]) { i, c in
      let length = k.min(k.max(k.load(.i64, from: c[1], at: i[batchAxis]), k.i64(0)), k.i64(Int64(steps)))
      let t = i[timeAxis]
      let source = k.select(k.compare(.lt, t, length), length - k.i64(1) - t, t)
      let from = ctx.flatIndex(i, strides: others) + source * k.i64(Int64(strides[timeAxis]))
      k.store(k.load(scalar, from: c[0], at: from), scalar, to: c[2], at: ctx.flatIndex(i, strides: strides))
    }
  },
]
