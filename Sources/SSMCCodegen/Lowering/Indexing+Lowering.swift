import CLLVM
import SSMCIR

/// Ops that select or add elements by index. Slice is a strided copy (negative steps are negative strides);
/// Gather and GatherElements read their indices at run time (negative ones count from the end, and
/// out-of-range ones are clamped so a bad index cannot read outside the tensor); Pad fills and copies, or
/// maps every output index to its source for reflect, edge and wrap.
let indexingLowerings: [String: Lowering] = [
  "Slice": { ctx in
    if ctx.hasRuntimeExtents || !sliceBoundsAreStatic(ctx.op) { return try lowerRuntimeSlice(ctx) }
    let shape = ctx.operandShape(0)
    let strides = rowMajorStrides(shape)
    let axes = try sliceAxes(ctx.op)
    let offset = zip(axes, strides).reduce(0) { $0 + $1.0.start * $1.1 }
    let scalar = try ctx.moveScalar(ctx.operandType(0).element)
    let out = ctx.resultShape(0)
    ctx.stridedCopy(
      out, scalar: scalar, from: ctx.operand(0), sourceOffset: offset, strides: zip(axes, strides).map { $0.elementStride($1) },
      to: ctx.results[0], strides: rowMajorStrides(out))
  },
  "Gather": { ctx in
    if ctx.hasRuntimeExtents { return try lowerRuntimeGather(ctx) }
    let data = ctx.operandShape(0)
    let axis = try normalizedAxis(ctx)
    let scalar = try ctx.moveScalar(ctx.operandType(0).element)
    let indexScalar = try ctx.scalar(ctx.operandType(1).element)
    let outer = data[..<axis].reduce(1, *)
    let size = data[axis]
    let inner = data[(axis + 1)...].reduce(1, *)
    let count = ctx.operandShape(1).reduce(1, *)
    guard size > 0 || count == 0 else { throw ctx.error("cannot gather from the empty axis \(axis) of \(data)") }
    let k = ctx.k
    ctx.forEachIndex([outer, count], work: outer * count * inner, captures: [ctx.operand(0), ctx.operand(1), ctx.results[0]]) { i, c in
      let position = checkedIndex(k, k.load(indexScalar, from: c[1], at: i[1]), size: size)
      let source = (i[0] * k.i64(Int64(size)) + position) * k.i64(Int64(inner))
      let dest = (i[0] * k.i64(Int64(count)) + i[1]) * k.i64(Int64(inner))
      k.forLoop(from: k.i64(0), to: k.i64(Int64(inner)), hints: LoopHints(vectorize: true)) { t in
        k.store(k.load(scalar, from: c[0], at: source + t), scalar, to: c[2], at: dest + t)
      }
    }
  },
  "GatherElements": { ctx in
    let data = ctx.operandShape(0)
    let out = ctx.resultShape(0)
    let axis = try normalizedAxis(ctx)
    let scalar = try ctx.moveScalar(ctx.operandType(0).element)
    let indexScalar = try ctx.scalar(ctx.operandType(1).element)
    for (d, (a, b)) in zip(data, out).enumerated() where d != axis && b > a {
      throw ctx.error("indices \(out) exceed data \(data) on axis \(d)")
    }
    guard data[axis] > 0 || out.contains(0) else { throw ctx.error("cannot gather from the empty axis \(axis) of \(data)") }
    let dataStrides = rowMajorStrides(data)
    var others = dataStrides
    others[axis] = 0
    let outStrides = rowMajorStrides(out)
    let k = ctx.k
    ctx.forEachIndex(out, work: out.reduce(1, *), captures: [ctx.operand(0), ctx.operand(1), ctx.results[0]]) { i, c in
      let flat = ctx.flatIndex(i, strides: outStrides)
      let position = checkedIndex(k, k.load(indexScalar, from: c[1], at: flat), size: data[axis])
      let source = ctx.flatIndex(i, strides: others) + position * k.i64(Int64(dataStrides[axis]))
      k.store(k.load(scalar, from: c[0], at: source), scalar, to: c[2], at: flat)
    }
  },
  "Pad": lowerPad,
]

/// An index in [-size, size) as a position in [0, size); out-of-range values are clamped.
func checkedIndex(_ k: KernelBuilder, _ raw: IRValue, size: Int) -> IRValue {
  let v = k.convert(raw, to: .i64)
  let wrapped = k.select(k.compare(.lt, v, k.i64(0)), v + k.i64(Int64(size)), v)
  return k.min(k.max(wrapped, k.i64(0)), k.i64(Int64(Swift.max(size - 1, 0))))
}

/// One padded axis: input range [low, high) kept after cropping, `before` positions of padding ahead of it.
private struct PadAxis {
  var low: Int, high: Int, before: Int
}

private let lowerPad: Lowering = { ctx in
  if ctx.hasRuntimeExtents { return try lowerRuntimePad(ctx) }
  let shape = ctx.operandShape(0)
  let out = ctx.resultShape(0)
  let mode = try ctx.op.string("mode") ?? "constant"
  let pads = try ctx.requireConstant(1, what: "pads").ints
  let axes = try padAxes(ctx, rank: shape.count)
  var plan = shape.map { PadAxis(low: 0, high: $0, before: 0) }
  for (n, axis) in axes.enumerated() {
    let (begin, end) = (pads[n], pads[n + axes.count])
    plan[axis] = PadAxis(low: Swift.max(0, -begin), high: shape[axis] - Swift.max(0, -end), before: Swift.max(0, begin))
  }
  let element = ctx.operandType(0).element
  let scalar = try ctx.moveScalar(element)
  let inStrides = rowMajorStrides(shape)
  let outStrides = rowMajorStrides(out)
  let k = ctx.k
  if mode == "constant" {
    // Fill everything with the value (0 when absent), then copy the kept input into the interior.
    ctx.fill(ctx.results[0], count: out.reduce(1, *), scalar: scalar, value: ctx.hasOperand(2) ? ctx.operand(2) : nil)
    let kept = plan.map { $0.high - $0.low }
    ctx.stridedCopy(
      kept, scalar: scalar, from: ctx.operand(0), sourceOffset: zip(plan, inStrides).reduce(0) { $0 + $1.0.low * $1.1 },
      strides: inStrides, to: ctx.results[0], destOffset: zip(plan, outStrides).reduce(0) { $0 + $1.0.before * $1.1 },
      strides: outStrides)
    return
  }
  for (axis, p) in plan.enumerated() where p.high <= p.low && out[axis] > 0 {
    throw ctx.error("mode \(mode) cannot pad the empty axis \(axis) of \(shape)")
  }
  ctx.forEachIndex(out, work: out.reduce(1, *), captures: [ctx.operand(0), ctx.results[0]]) { i, c in
    var source = k.i64(0)
    for (axis, p) in plan.enumerated() {
      let q = sourcePosition(k, i[axis] - k.i64(Int64(p.before)), count: p.high - p.low, mode: mode)
      source = source + (q + k.i64(Int64(p.low))) * k.i64(Int64(inStrides[axis]))
    }
    k.store(k.load(scalar, from: c[0], at: source), scalar, to: c[1], at: ctx.flatIndex(i, strides: outStrides))
  }
}

/// The kept-range position that padded position `q` (relative to the kept range's start) reads.
private func sourcePosition(_ k: KernelBuilder, _ q: IRValue, count n: Int, mode: String) -> IRValue {
  let nv = k.i64(Int64(n))
  func positiveModulo(_ x: IRValue, _ m: Int) -> IRValue {
    let mv = k.i64(Int64(m))
    return (x % mv + mv) % mv
  }
  switch mode {
  case "edge":
    return k.min(k.max(q, k.i64(0)), k.i64(Int64(n - 1)))
  case "wrap":
    return positiveModulo(q, n)
  default:  // reflect: mirror without repeating the edge, period 2(n - 1)
    let period = 2 * (n - 1)
    if period == 0 { return k.i64(0) }
    let r = positiveModulo(q, period)
    return k.select(k.compare(.ge, r, nv), k.i64(Int64(period)) - r, r)
  }
}
