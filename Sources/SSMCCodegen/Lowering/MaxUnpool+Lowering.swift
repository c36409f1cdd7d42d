import CLLVM
import SSMCIR

/// MaxUnpool: the output starts as zeros and each X element is written at its index, which counts in the
/// row-major layout of the unpooled shape (N, C and the unpooled spatial axes), as MaxPool's indices do.
/// With output_shape the unpooled block fills the output's leading corner (the ONNX reference). Elements
/// are placed in order, so with repeated indices the last one stays; an index outside the unpooled tensor
/// is dropped, so no run-time index writes outside the output.
let lowerMaxUnpool: Lowering = { ctx in
  let shapes: (inferred: [Int], output: [Int])
  do { shapes = try maxUnpoolShapes(ctx.op) } catch { throw ctx.error("\(error)") }
  let scalar = try ctx.moveScalar(ctx.operandType(0).element)
  let x = ctx.operandShape(0)
  let total = shapes.output.reduce(1, *)
  guard total > 0 else { return }
  let k = ctx.k
  let zero = k.constant(bits: 0, k.type(scalar))
  ctx.forEachIndex([total], captures: [ctx.results[0]]) { index, c in
    k.store(zero, scalar, to: c[0], at: index[0])
  }
  let count = x.reduce(1, *)
  let inferredCount = shapes.inferred.reduce(1, *)
  guard count > 0, inferredCount > 0 else { return }
  let outStrides = rowMajorStrides(shapes.output)
  let (src, indices, dst) = (ctx.operand(0), ctx.operand(1), ctx.results[0])
  k.forLoop(from: k.i64(0), to: k.i64(Int64(count)), hints: LoopHints(vectorize: false)) { e in
    let flat = k.load(.i64, from: indices, at: e)
    let valid = k.and(k.compare(.ge, flat, k.i64(0)), k.compare(.lt, flat, k.i64(Int64(inferredCount))))
    k.ifThen(valid) {
      // Re-index from the unpooled layout into the output's (they differ only with output_shape).
      let at = shapes.inferred == shapes.output ? flat : ctx.flatIndex(unflatten(k, flat, shapes.inferred), strides: outStrides)
      k.store(k.load(scalar, from: src, at: e), scalar, to: dst, at: at)
    }
  }
}
