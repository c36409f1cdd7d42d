import CLLVM
import SSMCIR

/// Ops that work along one axis, seen as (outer, n, inner): ArgMax/ArgMin, CumSum/CumProd, Hardmax, Softmax/LogSoftmax and
/// LpNormalization. When the axis is innermost (inner = 1) each row is contiguous and runs on vectors;
/// otherwise rows are walked with a stride (or, for CumSum, whole inner rows at a time).
let axisLowerings: [String: Lowering] = [
  "ArgMax": { ctx in try lowerArgReduce(ctx, largest: true) },
  "ArgMin": { ctx in try lowerArgReduce(ctx, largest: false) },
  "CumSum": { ctx in try lowerCumulative(ctx, product: false) },
  "CumProd": { ctx in try lowerCumulative(ctx, product: true) },
  "Hardmax": lowerHardmax,
  "Softmax": { ctx in try lowerSoftmax(ctx, log: false) },
  "LogSoftmax": { ctx in try lowerSoftmax(ctx, log: true) },
  "LpNormalization": lowerLpNorm,
]

/// (outer, n, inner) of `shape` around `axis`.
func split(_ shape: [Int], axis: Int) -> (outer: Int, n: Int, inner: Int) {
  (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
}

private func lowerArgReduce(_ ctx: LoweringContext, largest: Bool) throws {
  let shape = ctx.operandShape(0)
  let axis = try normalizedAxis(ctx)
  let last = try ctx.op.int("select_last_index") == 1
  let scalar = try ctx.scalar(ctx.operandType(0).element)
  let (outer, n, inner) = split(shape, axis: axis)
  guard n > 0 else { throw ctx.error("cannot take the arg-extremum over the empty axis \(axis) of \(shape)") }
  let k = ctx.k
  ctx.forEachIndex([outer, inner], work: outer * n * inner, captures: [ctx.operand(0), ctx.results[0]]) { i, c in
    let base = i[0] * k.i64(Int64(n * inner)) + i[1]
    let first = k.load(scalar, from: c[0], at: base)
    let best = k.forLoop(from: k.i64(1), to: k.i64(Int64(n)), carrying: [first, k.i64(0)]) { r, acc in
      let v = k.load(scalar, from: c[0], at: base + r * k.i64(Int64(inner)))
      // Ties keep the first index, or with select_last_index move to the later one.
      let better = k.compare(largest ? (last ? .ge : .gt) : (last ? .le : .lt), v, acc[0])
      return [k.select(better, v, acc[0]), k.select(better, r, acc[1])]
    }
    k.store(best[1], .i64, to: c[1], at: i[0] * k.i64(Int64(inner)) + i[1])
  }
}

/// CumSum or CumProd; the axis may be a run-time input, then the code for every possible axis is emitted and
/// the loaded value picks one.
private func lowerCumulative(_ ctx: LoweringContext, product: Bool) throws {
  if ctx.hasRuntimeExtents { return try lowerRuntimeCumulative(ctx, product: product) }
  let shape = ctx.operandShape(0)
  let rank = shape.count
  let exclusive = try ctx.op.int("exclusive") == 1
  let reverse = try ctx.op.int("reverse") == 1
  let scalar = try ctx.scalar(ctx.operandType(0).element)
  if let axis = ctx.constant(1)?.ints.first {
    guard axis >= -rank && axis < rank else { throw ctx.error("axis \(axis) is out of range for rank \(rank)") }
    cumulative(ctx, shape, axis: axis < 0 ? axis + rank : axis, scalar: scalar, product: product, exclusive: exclusive, reverse: reverse)
    return
  }
  let k = ctx.k
  let raw = k.convert(k.load(try ctx.scalar(ctx.operandType(1).element), from: ctx.operand(1), at: k.i64(0)), to: .i64)
  let axis = k.select(k.compare(.lt, raw, k.i64(0)), raw + k.i64(Int64(rank)), raw)
  for a in 0..<rank {
    k.ifThen(k.compare(.eq, axis, k.i64(Int64(a)))) {
      cumulative(ctx, shape, axis: a, scalar: scalar, product: product, exclusive: exclusive, reverse: reverse)
    }
  }
}

/// Row r of each outer block is row r-1 (r+1 when reversed) plus (times) the input row: contiguous inner loops.
private func cumulative(
  _ ctx: LoweringContext, _ shape: [Int], axis: Int, scalar: ScalarType, product: Bool, exclusive: Bool, reverse: Bool
) {
  let (outer, n, inner) = split(shape, axis: axis)
  guard n > 0 else { return }
  let k = ctx.k
  let vector = LoopHints(vectorize: true)
  let rowStride = k.i64(Int64(inner))
  ctx.forEachIndex([outer], work: outer * n * inner, captures: [ctx.operand(0), ctx.results[0]], innerHints: LoopHints(vectorize: false)) { o, c in
    let base = o[0] * k.i64(Int64(n * inner))
    let firstRow = base + k.i64(Int64(reverse ? (n - 1) * inner : 0))
    k.forLoop(from: k.i64(0), to: rowStride, hints: vector) { t in
      let v = exclusive ? k.constant(product ? 1 : 0, k.type(scalar)) : k.load(scalar, from: c[0], at: firstRow + t)
      k.store(v, scalar, to: c[1], at: firstRow + t)
    }
    k.forLoop(from: k.i64(1), to: k.i64(Int64(n)), hints: LoopHints(vectorize: false)) { step in
      let r = reverse ? k.i64(Int64(n - 1)) - step : step
      let previous = reverse ? r + k.i64(1) : r - k.i64(1)
      let row = base + r * rowStride
      let previousRow = base + previous * rowStride
      let addend = exclusive ? previousRow : row
      k.forLoop(from: k.i64(0), to: rowStride, hints: vector) { t in
        let (a, b) = (k.load(scalar, from: c[1], at: previousRow + t), k.load(scalar, from: c[0], at: addend + t))
        let sum = product ? a * b : a + b
        k.store(sum, scalar, to: c[1], at: row + t)
      }
    }
  }
}

/// Hardmax: 1 at the first maximum of each line along the axis, 0 elsewhere (NaN never counts as larger).
private let lowerHardmax: Lowering = { ctx in
  let shape = ctx.operandShape(0)
  let axis = try normalizedAxis(ctx)
  let scalar = try ctx.scalar(ctx.operandType(0).element)
  let (outer, n, inner) = split(shape, axis: axis)
  guard n > 0 else { return }
  let k = ctx.k
  ctx.forEachIndex([outer, inner], work: outer * n * inner, captures: [ctx.operand(0), ctx.results[0]]) { i, c in
    let base = i[0] * k.i64(Int64(n * inner)) + i[1]
    let stride = k.i64(Int64(inner))
    let first = k.load(scalar, from: c[0], at: base)
    let best = k.forLoop(from: k.i64(1), to: k.i64(Int64(n)), carrying: [first, k.i64(0)]) { r, acc in
      let v = k.load(scalar, from: c[0], at: base + r * stride)
      let better = k.compare(.gt, v, acc[0])
      return [k.select(better, v, acc[0]), k.select(better, r, acc[1])]
    }[1]
    k.forLoop(from: k.i64(0), to: k.i64(Int64(n))) { r in
      let one = k.select(k.compare(.eq, r, best), k.constant(1, k.type(scalar)), k.constant(0, k.type(scalar)))
      k.store(one, scalar, to: c[1], at: base + r * stride)
    }
  }
}

private func lowerSoftmax(_ ctx: LoweringContext, log: Bool) throws {
  // The dims before the axis may be given at run time (`forEachIndex(outer:)`); the axis and after are static.
  let dims = ctx.operandType(0).dims
  let axis = try normalizedAxis(ctx)
  let element = ctx.operandType(0).element
  guard element == .f32 || element == .f64 else { throw ctx.error("supports f32 and f64 only") }
  let scalar: ScalarType = element == .f64 ? .f64 : .f32
  let rows = Array(dims[..<axis])
  guard dims[axis...].allSatisfy({ $0.value != nil }) else { return lowerRuntimeSoftmax(ctx, log: log, axis: axis, scalar: scalar) }
  let tail = try ctx.staticExtents(dims[axis...], what: "the softmax axis and the dims after it")
  let (outer, n, inner) = (Dim.product(rows)?.constantValue ?? 1 << 20, tail[0], tail.dropFirst().reduce(1, *))
  guard n > 0 else { return }
  let k = ctx.k
  let f32 = k.llvm.f32
  let lanes = ctx.vectorLanes
  let work = outer * n * inner
  // f64 (libm's exp and log, one lane at a time) takes the strided walk below, with a stride of 1.
  if inner == 1 && scalar == .f32 {
    ctx.forEachIndex(outer: rows, [], work: work, captures: [ctx.operand(0), ctx.results[0]], innerHints: LoopHints(vectorize: false)) { o, c in
      let base = o[0] * k.i64(Int64(n))
      // maxnum is enough: a NaN in the row makes the sum, and so every output, NaN anyway.
      let m = k.reduceContiguous(.f32, lanes: lanes, base: c[0], start: base, count: n, identity: k.constant(-.infinity, f32), map: { $0 }, combine: { k.max($0, $1) })
      let mv = k.splat(m, lanes: lanes)
      // Σ exp(x - m); softmax keeps the exponentials in the result for the final scaling.
      let partial = k.forVectors(count: n, lanes: lanes, carrying: [k.constant(0, k.type(.f32, lanes: lanes))]) { off, mask, acc in
        let e = k.exp(k.loadVector(.f32, lanes: lanes, from: c[0], at: base + off, mask: mask) - mv)
        if !log { k.storeVector(e, .f32, to: c[1], at: base + off, mask: mask) }
        return [acc[0] + (mask.map { k.select($0, e, k.constant(0, e.type)) } ?? e)]
      }[0]
      let sum = k.horizontal(partial) { $0 + $1 }
      let shift = k.splat(log ? k.log(sum) + m : 1.0 / sum, lanes: lanes)
      k.forVectors(count: n, lanes: lanes) { off, mask, _ in
        let y = log ? k.loadVector(.f32, lanes: lanes, from: c[0], at: base + off, mask: mask) - shift
          : k.loadVector(.f32, lanes: lanes, from: c[1], at: base + off, mask: mask) * shift
        k.storeVector(y, .f32, to: c[1], at: base + off, mask: mask)
        return []
      }
    }
    return
  }
  // Axis not innermost: walk each (outer, inner) line with a stride.
  ctx.forEachIndex(outer: rows, [inner], work: work, captures: [ctx.operand(0), ctx.results[0]]) { i, c in
    let base = i[0] * k.i64(Int64(n * inner)) + i[1]
    softmaxLine(k, scalar: scalar, log: log, x: c[0], y: c[1], base: base, stride: k.i64(Int64(inner)), count: k.i64(Int64(n)))
  }
}

/// Softmax along the axis over run-time extents: each (outer, inner) line walked with a stride.
private func lowerRuntimeSoftmax(_ ctx: LoweringContext, log: Bool, axis: Int, scalar: ScalarType) {
  let dims = ctx.operandType(0).dims
  let k = ctx.k
  let extents = [ctx.extentProduct(dims[..<axis]), ctx.extentProduct(dims[(axis + 1)...])]
  ctx.forEachIndex(extents: extents, captures: [ctx.operand(0), ctx.results[0], ctx.extent(dims[axis])]) { i, c in
    let (count, stride) = (c[2], c[4])
    softmaxLine(k, scalar: scalar, log: log, x: c[0], y: c[1], base: i[0] * count * stride + i[1], stride: stride, count: count)
  }
}

/// Softmax (or LogSoftmax) of the `count` values at `base`, `base + stride`, ... of x into y.
private func softmaxLine(
  _ k: KernelBuilder, scalar: ScalarType, log: Bool, x: IRValue, y: IRValue, base: IRValue, stride: IRValue, count: IRValue
) {
  let type = k.type(scalar)
  let m = k.forLoop(from: k.i64(0), to: count, carrying: [k.constant(-.infinity, type)]) { r, a in
    [maximum(k, a[0], k.load(scalar, from: x, at: base + r * stride))]
  }[0]
  let sum = k.forLoop(from: k.i64(0), to: count, carrying: [k.constant(0, type)]) { r, a in
    let e = math(k, .exp, k.load(scalar, from: x, at: base + r * stride) - m)
    if !log { k.store(e, scalar, to: y, at: base + r * stride) }
    return [a[0] + e]
  }[0]
  let shift = log ? math(k, .log, sum) + m : 1.0 / sum
  k.forLoop(from: k.i64(0), to: count) { r in
    let at = base + r * stride
    let v = log ? k.load(scalar, from: x, at: at) - shift : k.load(scalar, from: y, at: at) * shift
    k.store(v, scalar, to: y, at: at)
  }
}

/// LpNormalization: x / ||x||_p along the axis (p = 1 or 2); a zero norm gives 0 (as the ONNX reference).
private let lowerLpNorm: Lowering = { ctx in
  let shape = ctx.operandShape(0)
  let axis = try normalizedAxis(ctx)
  let p = try ctx.op.int("p")
  guard ctx.operandType(0).element == .f32 else { throw ctx.error("supports f32 only") }
  let (outer, n, inner) = split(shape, axis: axis)
  let k = ctx.k
  let f32 = k.llvm.f32
  let lanes = ctx.vectorLanes
  let measure: (IRValue) -> IRValue = { x in p == 1 ? k.abs(x) : x * x }
  func inverseNorm(_ s: IRValue) -> IRValue {
    let norm = p == 1 ? s : k.sqrt(s)
    return k.select(k.compare(.eq, norm, 0), k.constant(0, norm.type), 1.0 / norm)
  }
  ctx.forEachIndex([outer, inner], work: outer * n * inner, captures: [ctx.operand(0), ctx.results[0]], innerHints: LoopHints(vectorize: inner > 1)) { i, c in
    let base = i[0] * k.i64(Int64(n * inner)) + i[1]
    if inner == 1 {
      let s = k.reduceContiguous(.f32, lanes: lanes, base: c[0], start: base, count: n, identity: k.constant(0, f32), map: measure, combine: { $0 + $1 })
      let scale = k.splat(inverseNorm(s), lanes: lanes)
      k.forVectors(count: n, lanes: lanes) { off, mask, _ in
        k.storeVector(k.loadVector(.f32, lanes: lanes, from: c[0], at: base + off, mask: mask) * scale, .f32, to: c[1], at: base + off, mask: mask)
        return []
      }
      return
    }
    let stride = k.i64(Int64(inner))
    let s = k.forLoop(from: k.i64(0), to: k.i64(Int64(n)), carrying: [k.constant(0, f32)]) { r, a in
      [a[0] + measure(k.load(.f32, from: c[0], at: base + r * stride))]
    }[0]
    let scale = inverseNorm(s)
    k.forLoop(from: k.i64(0), to: k.i64(Int64(n))) { r in
      k.store(k.load(.f32, from: c[0], at: base + r * stride) * scale, .f32, to: c[1], at: base + r * stride)
    }
  }
}
