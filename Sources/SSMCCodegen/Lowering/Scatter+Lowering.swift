import CLLVM
import SSMCIR

/// GatherND, ScatterND and ScatterElements. Their indices are run-time data and the C ABI has no way for a
/// kernel to report a bad value, so, as in Gather, an index in [-size, size) counts from the end when negative
/// and anything outside is clamped into the axis: a bad index reads or writes an edge element of the tensor,
/// never memory outside it. Scatters copy the data, then apply the updates in index order (so later
/// duplicates win under reduction "none", as in the ONNX reference).
let scatterLowerings: [String: Lowering] = [
  "GatherND": { ctx in
    let data = ctx.operandShape(0)
    let indices = ctx.operandShape(1)
    let g = try gatherNDGeometry(ctx.op)
    let (b, m) = (g.batchDims, g.tupleLength)
    let batches = indices[..<b].reduce(1, *)
    let tuples = indices[b..<(indices.count - 1)].reduce(1, *)
    let inner = data[(b + m)...].reduce(1, *)
    let batchStride = data[b...].reduce(1, *)
    let strides = rowMajorStrides(data)
    for j in b..<(b + m) where data[j] == 0 && batches * tuples > 0 {
      throw ctx.error("cannot gather from the empty axis \(j) of \(data)")
    }
    let scalar = try ctx.moveScalar(ctx.operandType(0).element)
    let k = ctx.k
    ctx.forEachIndex(
      [batches, tuples], work: batches * tuples * Swift.max(inner, m),
      captures: [ctx.operand(0), ctx.operand(1), ctx.results[0]]
    ) { i, c in
      let tuple = i[0] * k.i64(Int64(tuples)) + i[1]
      var source = i[0] * k.i64(Int64(batchStride))
      for j in 0..<m {
        let raw = k.load(.i64, from: c[1], at: tuple * k.i64(Int64(m)) + k.i64(Int64(j)))
        source = source + checkedIndex(k, raw, size: data[b + j]) * k.i64(Int64(strides[b + j]))
      }
      let dest = tuple * k.i64(Int64(inner))
      k.forLoop(from: k.i64(0), to: k.i64(Int64(inner)), hints: LoopHints(vectorize: true)) { t in
        k.store(k.load(scalar, from: c[0], at: source + t), scalar, to: c[2], at: dest + t)
      }
    }
  },
  "ScatterND": { ctx in
    let data = ctx.operandShape(0)
    let indices = ctx.operandShape(1)
    let m = indices[indices.count - 1]
    let tuples = indices.dropLast().reduce(1, *)
    let inner = data[m...].reduce(1, *)
    let strides = rowMajorStrides(data)
    let (scalar, combine) = try combiner(ctx)
    ctx.k.memcpy(to: ctx.results[0], from: ctx.operand(0), bytes: data.reduce(1, *) * ctx.operandType(0).element.byteSize)
    guard tuples > 0 && inner > 0 else { return }
    for j in 0..<m where data[j] == 0 { throw ctx.error("cannot scatter into the empty axis \(j) of \(data)") }
    let (index, updates, out) = (ctx.operand(1), ctx.operand(2), ctx.results[0])
    let k = ctx.k
    // One tuple after another: a later tuple may name the same slice, and must see the earlier one's result.
    k.forLoop(from: k.i64(0), to: k.i64(Int64(tuples)), hints: LoopHints(vectorize: false)) { t in
      var dest = k.i64(0)
      for j in 0..<m {
        let raw = k.load(.i64, from: index, at: t * k.i64(Int64(m)) + k.i64(Int64(j)))
        dest = dest + checkedIndex(k, raw, size: data[j]) * k.i64(Int64(strides[j]))
      }
      let source = t * k.i64(Int64(inner))
      k.forLoop(from: k.i64(0), to: k.i64(Int64(inner)), hints: LoopHints(vectorize: true)) { e in
        let value = combine(k.load(scalar, from: out, at: dest + e), k.load(scalar, from: updates, at: source + e))
        k.store(value, scalar, to: out, at: dest + e)
      }
    }
  },
  "ScatterElements": { ctx in
    let data = ctx.operandShape(0)
    let indices = ctx.operandShape(1)
    let rank = data.count
    let axis = try ctx.op.axis(ctx.op.int("axis"), rank: rank)
    let (scalar, combine) = try combiner(ctx)
    let indexScalar = try ctx.scalar(ctx.operandType(1).element)
    ctx.k.memcpy(to: ctx.results[0], from: ctx.operand(0), bytes: data.reduce(1, *) * ctx.operandType(0).element.byteSize)
    guard !indices.contains(0) else { return }
    guard data[axis] > 0 else { throw ctx.error("cannot scatter into the empty axis \(axis) of \(data)") }
    // Walk the indices with `axis` innermost and in order: elements that differ off the axis never meet, so
    // the outer dims may run in parallel, while the updates along the axis apply one after another. A lone
    // axis gets a leading dim of 1 so it is never split across threads.
    let others = (0..<rank).filter { $0 != axis }
    let order = (rank == 1 ? [nil] : others.map(Optional.some)) + [axis]
    let shape = order.map { $0.map { indices[$0] } ?? 1 }
    let indexStrides = rowMajorStrides(indices)
    let dataStrides = rowMajorStrides(data)
    let k = ctx.k
    ctx.forEachIndex(
      shape, work: indices.reduce(1, *), captures: [ctx.operand(1), ctx.operand(2), ctx.results[0]],
      innerHints: LoopHints(vectorize: false)
    ) { i, c in
      let flat = ctx.flatIndex(i, strides: order.map { $0.map { indexStrides[$0] } ?? 0 })
      let position = checkedIndex(k, k.load(indexScalar, from: c[0], at: flat), size: data[axis])
      let offAxis = order.map { $0.flatMap { $0 == axis ? nil : dataStrides[$0] } ?? 0 }
      let dest = ctx.flatIndex(i, strides: offAxis) + position * k.i64(Int64(dataStrides[axis]))
      k.store(combine(k.load(scalar, from: c[2], at: dest), k.load(scalar, from: c[1], at: flat)), scalar, to: c[2], at: dest)
    }
  },
]

/// The register type for a scatter's elements and how it merges an update into the existing element.
private func combiner(_ ctx: LoweringContext) throws -> (ScalarType, (IRValue, IRValue) -> IRValue) {
  let element = ctx.operandType(0).element
  let reduction = try ctx.op.string("reduction") ?? "none"
  if reduction == "none" { return (try ctx.moveScalar(element), { _, update in update }) }
  let scalar = try ctx.scalar(element)
  let k = ctx.k
  switch reduction {
  case "add": return (scalar, { $0 + $1 })
  case "mul": return (scalar, { $0 * $1 })
  case "max": return (scalar, { a, u in propagatingNaN(k, a, u, k.max(a, u)) })
  case "min": return (scalar, { a, u in propagatingNaN(k, a, u, k.min(a, u)) })
  default: throw ctx.error("reduction '\(reduction)' is not supported")
  }
}

/// `result`, or NaN when either float operand is NaN (numpy's maximum/minimum, which the ONNX reference uses;
/// LLVM's maxnum/minnum would drop the NaN).
private func propagatingNaN(_ k: KernelBuilder, _ a: IRValue, _ b: IRValue, _ result: IRValue) -> IRValue {
  guard a.isFloat else { return result }
  return k.select(k.isNaN(a), a, k.select(k.isNaN(b), b, result))
}
