import SSMCIR

/// MeanVarianceNormalization (statistics over any set of axes) and LRN (a sum of squares over neighbouring
/// channels).
let localNormalizationLowerings: [String: Lowering] = [
  "MeanVarianceNormalization": lowerMeanVariance,
  "LRN": lowerLRN,
]

/// One task per position of the kept axes; the reduced axes are walked as one flat counter decomposed into
/// coordinates (constant divisors). Mean and variance accumulate in f64 and the variance is taken about the
/// mean (two passes), which equals the spec's E[X²] - E[X]² without its cancellation.
private let lowerMeanVariance: Lowering = { ctx in
  let shape = ctx.operandShape(0)
  let axes: [Int]
  do { axes = try meanVarianceAxes(ctx.op, rank: shape.count).sorted() } catch { throw ctx.error("\(error)") }
  let scalar = try ctx.scalar(ctx.operandType(0).element)
  let kept = shape.indices.filter { !axes.contains($0) }
  let strides = rowMajorStrides(shape)
  let (reducedShape, reducedStrides) = (axes.map { shape[$0] }, axes.map { strides[$0] })
  let count = reducedShape.reduce(1, *)
  guard count > 0, !shape.contains(0) else { return }
  let keptShape = kept.isEmpty ? [1] : kept.map { shape[$0] }
  let keptStrides = kept.isEmpty ? [0] : kept.map { strides[$0] }
  let k = ctx.k
  ctx.forEachIndex(keptShape, work: shape.reduce(1, *), captures: [ctx.operand(0), ctx.results[0]], innerHints: LoopHints(vectorize: false)) { index, c in
    let base = ctx.flatIndex(index, strides: keptStrides)
    func offset(_ r: IRValue) -> IRValue { base + ctx.flatIndex(unflatten(k, r, reducedShape), strides: reducedStrides) }
    let all = (k.i64(0), k.i64(Int64(count)))
    let load = { (r: IRValue) in k.convert(k.load(scalar, from: c[0], at: offset(r)), to: .f64) }
    let sum = k.forLoop(from: all.0, to: all.1, carrying: [k.f64(0)]) { r, acc in [acc[0] + load(r)] }[0]
    let mean = sum / Double(count)
    let squares = k.forLoop(from: all.0, to: all.1, carrying: [k.f64(0)]) { r, acc in
      let d = load(r) - mean
      return [acc[0] + d * d]
    }[0]
    let inverse = 1.0 / (k.sqrt(squares / Double(count)) + 1e-9)
    k.forLoop(from: all.0, to: all.1) { r in
      k.store(k.convert((load(r) - mean) * inverse, to: scalar), scalar, to: c[1], at: offset(r))
    }
  }
}

/// Each output reads the `size` channels around its own (those outside [0, C) count as 0), in X's type as
/// the ONNX reference computes.
private let lowerLRN: Lowering = { ctx in
  let shape = ctx.operandShape(0)
  let scalar = try ctx.scalar(ctx.operandType(0).element)
  let op = ctx.op
  let size = try op.int("size")
  let (alpha, beta, bias) = (Double(try op.float("alpha")), Double(try op.float("beta")), Double(try op.float("bias")))
  let channels = shape[1]
  let channelStride = shape[2...].reduce(1, *)
  let before = (size - 1) / 2
  let strides = rowMajorStrides(shape)
  let k = ctx.k
  ctx.forEachIndex(shape, captures: [ctx.operand(0), ctx.results[0]], innerHints: LoopHints(vectorize: false)) { index, c in
    let at = ctx.flatIndex(index, strides: strides)
    let channel = index[1]
    let zero = k.constant(0, k.type(scalar))
    // Channel offsets of the window, limited to those that can land in [0, C) (size may exceed C).
    let first = k.i64(Int64(max(-before, -(channels - 1))))
    let last = k.i64(Int64(min(size - 1 - before, channels - 1)) + 1)
    let sum = k.forLoop(from: first, to: last, hints: LoopHints(vectorize: false), carrying: [zero]) { shift, acc in
      let other = channel + shift
      let inside = k.and(k.compare(.ge, other, k.i64(0)), k.compare(.lt, other, k.i64(Int64(channels))))
      // Outside [0, C) read the element itself (always in bounds) and drop it.
      let v = k.load(scalar, from: c[0], at: k.select(inside, at + shift * k.i64(Int64(channelStride)), at))
      return [acc[0] + k.select(inside, v * v, zero)]
    }[0]
    let x = k.load(scalar, from: c[0], at: at)
    let base = bias + (alpha / Double(size)) * sum
    k.store(x / mathPow(k, base, k.constant(beta, base.type)), scalar, to: c[1], at: at)
  }
}
