import SSMCIR

/// ssmc.Choose: each result is a copy of the then or the else operand, as the condition byte says (only
/// conditions known at run time reach code generation; see ControlFlow.swift in the IR).
let controlFlowLowerings: [String: Lowering] = [
  "ssmc.Choose": { ctx in
    let k = ctx.k
    let n = ctx.node.results.count
    let taken = k.compare(.ne, k.load(.i8, from: ctx.operand(0), at: k.i64(0)), 0)
    for i in 0..<n {
      let type = ctx.resultType(i)
      let source = k.select(taken, ctx.operand(1 + i), ctx.operand(1 + n + i))
      k.memcpy(to: ctx.results[i], from: source, bytes: type.elementCount! * type.element.byteSize)
    }
  }
]
