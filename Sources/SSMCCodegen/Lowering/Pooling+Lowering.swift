import CLLVM
import SSMCIR

/// AveragePool, MaxPool (with or without Indices), LpPool and the global pools.
let poolingLowerings: [String: Lowering] = [
  "AveragePool": { ctx in ctx.hasRuntimeExtents ? try lowerRuntimeWindowPool(ctx) : try lowerWindowPool(ctx, average: true) },
  "MaxPool": { ctx in
    if ctx.hasRuntimeExtents { return try lowerRuntimeWindowPool(ctx) }
    if ctx.node.results.count == 2 { try lowerMaxPoolWithIndices(ctx) } else { try lowerWindowPool(ctx, average: false) }
  },
  "GlobalAveragePool": { ctx in ctx.hasRuntimeExtents ? try lowerRuntimeGlobalPool(ctx, average: true) : try lowerGlobalPool(ctx, average: true) },
  "GlobalMaxPool": { ctx in ctx.hasRuntimeExtents ? try lowerRuntimeGlobalPool(ctx, average: false) : try lowerGlobalPool(ctx, average: false) },
  "LpPool": lowerLpPool,
  "GlobalLpPool": lowerGlobalLpPool,
]

/// LpPool: (Σ |x|^p)^(1/p) over each window's positions inside X (padding adds |0|^p = 0).
private let lowerLpPool: Lowering = { ctx in
  let p = try ctx.op.int("p")
  let element = try ctx.scalar(ctx.operandType(0).element)
  let k = ctx.k
  let zero = k.constant(0, k.type(element))
  try forEachPoolWindow(ctx, element: element, carrying: [zero]) { w, carried in
    [carried[0] + k.select(w.inside, absPower(k, w.value, p), zero)]
  } store: { sum, at, results in
    k.store(rootOf(k, sum[0], p), element, to: results[0], at: at)
  }
}

/// GlobalLpPool: (Σ |x|^p)^(1/p) over each (n, c) plane.
private let lowerGlobalLpPool: Lowering = { ctx in
  let x = ctx.operandShape(0)
  let p = try ctx.op.int("p")
  let element = try ctx.scalar(ctx.operandType(0).element)
  let planeSize = x[2...].reduce(1, *)
  let k = ctx.k
  ctx.forEachIndex([x[0] * x[1]], captures: [ctx.operand(0), ctx.results[0]], innerHints: LoopHints(vectorize: false)) { index, captured in
    let base = index[0] * k.i64(Int64(planeSize))
    let sum = k.forLoop(from: k.i64(0), to: k.i64(Int64(planeSize)), carrying: [k.constant(0, k.type(element))]) { i, acc in
      [acc[0] + absPower(k, k.load(element, from: captured[0], at: base + i), p)]
    }[0]
    k.store(rootOf(k, sum, p), element, to: captured[1], at: index[0])
  }
}

/// |v|^p for an integer p >= 1: products for small p (exact as the type allows), else pow.
private func absPower(_ k: KernelBuilder, _ v: IRValue, _ p: Int) -> IRValue {
  let a = k.abs(v)
  guard p <= 8 else { return mathPow(k, a, k.constant(Double(p), a.type)) }
  var r = a
  for _ in 1..<p { r = r * a }
  return r
}

/// s^(1/p): s itself for p = 1, sqrt for p = 2, else pow.
private func rootOf(_ k: KernelBuilder, _ s: IRValue, _ p: Int) -> IRValue {
  switch p {
  case 1: return s
  case 2: return k.sqrt(s)
  default: return mathPow(k, s, k.constant(1 / Double(p), s.type))
  }
}

/// A windowed pool: one loop over (N, C, O...) with the window visited inside. Positions outside the input
/// are skipped; AveragePool divides by the positions inside the input, or with count_include_pad by those
/// inside the input plus its declared pads (never the extra positions ceil_mode adds).
private func lowerWindowPool(_ ctx: LoweringContext, average: Bool) throws {
  let includePad = average ? try ctx.op.flag("count_include_pad") : false
  let element = try ctx.scalar(ctx.operandType(0).element)
  if average && !element.isFloat { throw ctx.error("AveragePool needs a float input") }
  let k = ctx.k
  let zero = k.constant(0, k.type(element))
  let start = average ? [zero, zero] : [lowestValue(k, element)]
  try forEachPoolWindow(ctx, element: element, carrying: start) { w, carried in
    if average {
      let counted = includePad ? w.padded : w.inside
      return [carried[0] + k.select(w.inside, w.value, zero), carried[1] + k.select(counted, k.constant(1, w.value.type), zero)]
    }
    return [k.select(k.and(w.inside, k.compare(.gt, w.value, carried[0])), w.value, carried[0])]
  } store: { result, at, results in
    k.store(average ? result[0] / result[1] : result[0], element, to: results[0], at: at)
  }
}

/// One position of a pool's window: X's value there (read at the position clamped into X), the (n, c)
/// plane's first element, the clamped spatial index, and whether the position is inside X and inside X
/// with its declared pads.
private struct PoolWindowPosition {
  var value: IRValue
  var plane: IRValue
  var input: [IRValue]
  var inside: IRValue
  var padded: IRValue
}

/// The loop nest of a windowed pool over X (N, C, spatial...): for each output index, `visit` folds the
/// window's positions into the carried values (from `start`), then `store` writes them at the output's
/// row-major flat index into the node's results.
private func forEachPoolWindow(
  _ ctx: LoweringContext, element: ScalarType, carrying start: [IRValue],
  visit: @escaping (_ position: PoolWindowPosition, _ carried: [IRValue]) -> [IRValue],
  store: @escaping (_ result: [IRValue], _ at: IRValue, _ results: [IRValue]) -> Void
) throws {
  let axes = try windowAxes(ctx)
  let x = ctx.operandShape(0)
  let outShape = ctx.resultShape(0)
  let spatial = Array(x[2...])
  let planeSize = spatial.reduce(1, *)
  let (planeStrides, outStrides) = (rowMajorStrides(spatial), rowMajorStrides(outShape))
  let k = ctx.k
  ctx.forEachIndex(outShape, captures: [ctx.operand(0)] + ctx.results, innerHints: LoopHints(vectorize: false)) { index, captured in
    let plane = (index[0] * k.i64(Int64(x[1])) + index[1]) * k.i64(Int64(planeSize))
    let result = ctx.forEachWindowPosition(axes, output: Array(index[2...]), carrying: start) { _, input, inside, padded, carried in
      let v = k.load(element, from: captured[0], at: plane + ctx.flatIndex(input, strides: planeStrides))
      return visit(PoolWindowPosition(value: v, plane: plane, input: input, inside: inside, padded: padded), carried)
    }
    store(result, ctx.flatIndex(index, strides: outStrides), Array(captured.dropFirst()))
  }
}

private func windowAxes(_ ctx: LoweringContext) throws -> [LoweringContext.StaticAxis] {
  do { return try poolWindows(ctx.op).map(LoweringContext.StaticAxis.init) } catch { throw ctx.error("\(error)") }
}

/// MaxPool with Indices: the first maximum of each window (a later equal value does not replace it) and its
/// flat index into X: (n * C + c) * plane size plus the position in the plane, row-major, or with
/// storage_order = 1 column-major (first spatial axis fastest), as the ONNX reference computes it.
private func lowerMaxPoolWithIndices(_ ctx: LoweringContext) throws {
  let columnMajor = try ctx.op.flag("storage_order")
  let element = try ctx.scalar(ctx.operandType(0).element)
  let spatial = Array(ctx.operandShape(0)[2...])
  let indexStrides = columnMajor ? Array(rowMajorStrides(spatial.reversed()).reversed()) : rowMajorStrides(spatial)
  let k = ctx.k
  // Carried: the maximum so far, its index, and whether any position inside X was seen yet.
  let start = [lowestValue(k, element), k.i64(-1), k.bool(false)]
  try forEachPoolWindow(ctx, element: element, carrying: start) { w, carried in
    let take = k.and(w.inside, k.or(k.not(carried[2]), k.compare(.gt, w.value, carried[0])))
    let position = w.plane + ctx.flatIndex(w.input, strides: indexStrides)
    return [k.select(take, w.value, carried[0]), k.select(take, position, carried[1]), k.or(carried[2], w.inside)]
  } store: { result, at, results in
    k.store(result[0], element, to: results[0], at: at)
    k.store(result[1], .i64, to: results[1], at: at)
  }
}

/// Global pools: one vectorized reduction over each (n, c) plane.
private func lowerGlobalPool(_ ctx: LoweringContext, average: Bool) throws {
  let x = ctx.operandShape(0)
  let element = try ctx.scalar(ctx.operandType(0).element)
  let planeSize = x[2...].reduce(1, *)
  let lanes = element == .f64 ? ctx.vectorLanes / 2 : ctx.vectorLanes
  let k = ctx.k
  ctx.forEachIndex([x[0] * x[1]], captures: [ctx.operand(0), ctx.results[0]], innerHints: LoopHints(vectorize: false)) { index, captured in
    let base = index[0] * k.i64(Int64(planeSize))
    let v = planeReduction(k, captured[0], base: base, count: planeSize, element: element, lanes: lanes, max: !average)
    k.store(average ? v / Double(planeSize) : v, element, to: captured[1], at: index[0])
  }
}

/// The sum (or max) of `count` consecutive elements from `base`, in vector registers with a masked tail.
func planeReduction(
  _ k: KernelBuilder, _ data: IRValue, base: IRValue, count: Int, element: ScalarType, lanes: Int, max: Bool
) -> IRValue {
  let vectorType = k.type(element, lanes: lanes)
  let identity = max ? k.splat(lowestValue(k, element), lanes: lanes) : k.constant(0, vectorType)
  func combine(_ acc: IRValue, _ v: IRValue) -> IRValue {
    guard max else { return acc + v }
    return k.select(k.compare(.gt, v, acc), v, acc)
  }
  let full = count / lanes
  // Two accumulators hide the add latency.
  var accs = k.forLoop(from: k.i64(0), to: k.i64(Int64(full / 2)), hints: LoopHints(vectorize: false), carrying: [identity, identity]) {
    i, c in
    let at = base + i * k.i64(Int64(2 * lanes))
    return [combine(c[0], k.loadVector(element, lanes: lanes, from: data, at: at)),
            combine(c[1], k.loadVector(element, lanes: lanes, from: data, at: at + k.i64(Int64(lanes))))]
  }
  if full % 2 == 1 {
    accs[0] = combine(accs[0], k.loadVector(element, lanes: lanes, from: data, at: base + k.i64(Int64((full - 1) * lanes))))
  }
  var acc = combine(accs[0], accs[1])
  let tail = count - full * lanes
  if tail > 0 {
    let mask = k.prefixMask(count: k.i64(Int64(tail)), lanes: lanes)
    let v = k.loadVector(element, lanes: lanes, from: data, at: base + k.i64(Int64(full * lanes)), mask: mask)
    acc = combine(acc, k.select(mask, v, identity))
  }
  guard max else { return k.reduceAdd(acc) }
  return k.reduceMax(acc)
}
