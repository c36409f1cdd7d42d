import SSMCIR

/// EyeLike and Trilu: one loop over the result, each element chosen by column - row against k.
let matrixLowerings: [String: Lowering] = [
  "EyeLike": { ctx in
    let shape = ctx.resultShape(0)
    let scalar = try ctx.scalar(ctx.resultType(0).element)
    let diagonal = Int64(try ctx.op.int("k"))
    let k = ctx.k
    ctx.forEachIndex(shape, captures: [ctx.results[0]]) { index, captured in
      let onDiagonal = k.compare(.eq, index[1] - index[0], k.i64(diagonal))
      let value = k.select(onDiagonal, k.constant(1, k.type(scalar)), k.constant(0, k.type(scalar)))
      k.store(value, scalar, to: captured[0], at: index[0] * k.i64(Int64(shape[1])) + index[1])
    }
  },
  "Trilu": { ctx in
    let shape = ctx.operandShape(0)
    let rank = shape.count
    let scalar = try ctx.scalar(ctx.operandType(0).element)
    let upper = try ctx.op.flag("upper")
    // k is read once per element when it is a run-time input (a load the loop hoists); a constant is folded in.
    let constantK = ctx.hasOperand(1) ? ctx.constant(1)?.ints.first : 0
    let runtimeK = ctx.hasOperand(1) && constantK == nil
    let strides = rowMajorStrides(shape)
    let k = ctx.k
    let captures = [ctx.operand(0), ctx.results[0]] + (runtimeK ? [ctx.operand(1)] : [])
    ctx.forEachIndex(shape, captures: captures) { index, captured in
      let diagonal = runtimeK ? k.load(.i64, from: captured[2], at: k.i64(0)) : k.i64(Int64(constantK ?? 0))
      let offset = index[rank - 1] - index[rank - 2]
      let keep = k.compare(upper ? .ge : .le, offset, diagonal)
      let at = ctx.flatIndex(index, strides: strides)
      let value = k.load(scalar, from: captured[0], at: at)
      k.store(k.select(keep, value, k.constant(0, value.type)), scalar, to: captured[1], at: at)
    }
  },
]
