import CLLVM
import SSMCIR

// Reductions and Gemm over extents given at run time.

/// A reduction (constant axes; keepdims only changes the result's dims, not its element order) over run-time
/// extents, split across the pool. When the last axis is kept, vectors of the kept run after the last reduced
/// axis accumulate over the reduced axes; else each result element folds its slice, the reduced axes at the
/// end of the input as one contiguous run folded with vectors and the other reduced axes as loops around it.
/// `mean` divides the folded sum by the run-time count; the other reducers' `finish` does not use the count.
/// `logSumExp` folds each slice twice (its maximum, then the shifted exponentials), as the static lowering.
func lowerRuntimeReduction(_ ctx: LoweringContext, _ r: Reducer, mean: Bool, logSumExp: Bool) throws {
  let input = ctx.operandType(0)
  let scalar = try ctx.scalar(input.element)
  guard ctx.stridedOperands.isEmpty else { throw ctx.error("with run-time extents, reductions take contiguous operands") }
  let rank = input.rank
  var axes: [Int]
  if let given = ctx.constant(1)?.ints, !given.isEmpty {
    axes = given.map { $0 < 0 ? $0 + rank : $0 }
  } else if ctx.hasOperand(1) && ctx.constant(1) == nil && ctx.operandType(1).dims != [.fixed(0)] {
    throw ctx.error("axes must be a compile-time constant")
  } else {
    axes = try ctx.op.int("noop_with_empty_axes") == 1 ? [] : Array(0..<rank)
  }
  let reduced = Set(axes)
  guard reduced.allSatisfy({ (0..<rank).contains($0) }) else { throw ctx.error("axes \(axes) are out of range for rank \(rank)") }
  // The trailing reduced axes form one contiguous run of the row-major input.
  let trailing = (0..<rank).reversed().prefix { reduced.contains($0) }.count
  let kept = (0..<rank).filter { !reduced.contains($0) }
  let looped = (0..<(rank - trailing)).filter { reduced.contains($0) }
  let k = ctx.k
  let extents = input.dims.map(ctx.extent)
  let strides = ctx.runtimeStrides(of: input.dims, over: input.dims)
  let results = kept.map { extents[$0] }.reduce(k.i64(1), *)
  let count = axes.isEmpty ? k.i64(1) : reduced.map { extents[$0] }.reduce(k.i64(1), *)
  let run = (rank - trailing..<rank).map { extents[$0] }.reduce(k.i64(1), *)
  let type = k.type(scalar)
  let lanes = ctx.lanes(for: scalar)
  /// The folded value (a scalar or a vector) finished: the mean divides by the count.
  func finish(_ sum: IRValue, count: IRValue) -> IRValue {
    guard mean else { return r.finish(k, sum, 0) }
    // An empty integer mean stays 0, as the static lowering leaves it; an empty float mean is 0/0.
    let divisor = k.convert(scalar.isFloat ? count : k.max(count, k.i64(1)), to: scalar)
    return sum / (sum.isVector ? k.splat(divisor, lanes: sum.lanes) : divisor)
  }
  if trailing == 0, !logSumExp, let lastReduced = reduced.max() {
    // The kept axes after the last reduced one are contiguous in the input and in the result: vectors of
    // that run accumulate over the reduced axes in registers.
    let outer = kept.filter { $0 < lastReduced }
    let run = ((lastReduced + 1)..<rank).map { extents[$0] }.reduce(k.i64(1), *)
    let vectors = (run + k.i64(Int64(lanes - 1))) / k.i64(Int64(lanes))
    let rows = outer.map { extents[$0] }.reduce(k.i64(1), *)
    let reducedAxes = reduced.sorted()
    ctx.forEachIndex(extents: [rows * vectors], captures: [ctx.operand(0), ctx.results[0], count, run, vectors] + extents + strides) { index, c in
      let (count, run, vectors) = (c[2], c[3], c[4])
      let (extents, strides) = (Array(c[5..<(5 + rank)]), Array(c[(5 + rank)..<(5 + 2 * rank)]))
      let row = index[0] / vectors
      let first = (index[0] - row * vectors) * k.i64(Int64(lanes))
      let base = k.offset(ofFlat: row, axes: outer, extents: extents, strides: strides, base: first)
      let mask = k.prefixMask(count: run - first, lanes: lanes)
      let sum = k.foldLoops(axes: reducedAxes, extents: extents, strides: strides, from: base, carrying: k.splat(r.identity(k, type), lanes: lanes)) {
        offset, acc in r.combine(k, acc, r.map(k, k.loadVector(scalar, lanes: lanes, from: c[0], at: offset, mask: mask)))
      }
      k.storeVector(finish(sum, count: count), scalar, to: c[1], at: row * run + first, mask: mask)
    }
    return
  }
  ctx.forEachIndex(extents: [results], captures: [ctx.operand(0), ctx.results[0], count, run] + extents + strides) { index, c in
    let (count, run) = (c[2], c[3])
    let (extents, strides) = (Array(c[4..<(4 + rank)]), Array(c[(4 + rank)..<(4 + 2 * rank)]))
    // The result index, split into the kept axes (innermost last), gives the slice's first element.
    let base = k.offset(ofFlat: index[0], axes: kept, extents: extents, strides: strides, base: k.i64(0))
    /// Folds the slice with `map`/`combine` from `identity`: loops over the looped axes, then the trailing run.
    func fold(_ identity: IRValue, _ map: @escaping (IRValue) -> IRValue, _ combine: @escaping (IRValue, IRValue) -> IRValue) -> IRValue {
      k.foldLoops(axes: looped, extents: extents, strides: strides, from: base, carrying: identity) { offset, acc in
        guard trailing > 0 else { return combine(acc, map(k.load(scalar, from: c[0], at: offset))) }
        return combine(acc, k.foldContiguous(scalar, lanes: lanes, base: c[0], start: offset, count: run, identity: identity, map: map, combine: combine))
      }
    }
    guard logSumExp else {
      k.store(finish(fold(r.identity(k, type), { r.map(k, $0) }, { r.combine(k, $0, $1) }), count: count), scalar, to: c[1], at: index[0])
      return
    }
    // log Σ exp(x - m) + m with m the slice maximum (0 when infinite or empty), as the static lowering.
    let m = fold(extremum(k, type, largest: false), { $0 }, { maximum(k, $0, $1) })
    let shift = k.select(k.compare(.lt, k.abs(m), .infinity), m, k.constant(0, type))
    let sum = fold(k.constant(0, type), { x in inF32(k, x - (x.isVector ? k.splat(shift, lanes: x.lanes) : shift), k.exp) }, { $0 + $1 })
    k.store(inF32(k, sum, k.log) + shift, scalar, to: c[1], at: index[0])
  }
}

extension KernelBuilder {
  /// `base` plus the element offset of row-major index `flat` over `axes` (innermost last) of a tensor
  /// with these per-axis `extents` and `strides`.
  func offset(ofFlat flat: IRValue, axes: [Int], extents: [IRValue], strides: [IRValue], base: IRValue) -> IRValue {
    var (rest, offset) = (flat, base)
    for a in axes.reversed() {
      let next = rest / extents[a]
      offset = offset + (rest - next * extents[a]) * strides[a]
      rest = next
    }
    return offset
  }

  /// Nested loops over `axes` (per-axis `extents` and `strides`) from element `offset`, carrying one value
  /// through `body(offset, carried)` at every position.
  func foldLoops(
    axes: [Int], extents: [IRValue], strides: [IRValue], from offset: IRValue, carrying initial: IRValue,
    body: (_ offset: IRValue, _ carried: IRValue) -> IRValue
  ) -> IRValue {
    func level(_ n: Int, _ offset: IRValue, _ acc: IRValue) -> IRValue {
      guard n < axes.count else { return body(offset, acc) }
      let a = axes[n]
      return forLoop(from: i64(0), to: extents[a], hints: LoopHints(vectorize: false), carrying: [acc]) { i, carried in
        [level(n + 1, offset + i * strides[a], carried[0])]
      }[0]
    }
    return level(0, offset, initial)
  }
}

/// Gemm over run-time extents (2-D A and B, transA/transB, alpha, beta, C broadcasting to (M, N)): each row of
/// Y accumulates the rows of op(B) scaled by op(A)'s entries, then takes alpha and beta * C; rows go to the pool.
func lowerRuntimeGemm(_ ctx: LoweringContext) throws {
  let (a, b, y) = (ctx.operandType(0), ctx.operandType(1), ctx.resultType(0))
  let element = try ctx.scalar(y.element)
  guard element.isFloat, a.element == y.element, b.element == y.element, a.rank == 2, b.rank == 2, ctx.stridedOperands.isEmpty else {
    throw ctx.error("with run-time extents, Gemm takes contiguous 2-D float operands, got \(a) x \(b)")
  }
  let op = ctx.op
  let (alpha, beta) = (Double(try op.float("alpha")), Double(try op.float("beta")))
  let (transA, transB) = (try op.flag("transA"), try op.flag("transB"))
  let hasC = ctx.hasOperand(2) && beta != 0
  let (m, n) = (y.dims[0], y.dims[1])
  let inner = transA ? a.dims[0] : a.dims[1]
  let k = ctx.k
  // Strides of op(A) along (m, p) and op(B) along (p, j): a transposed operand swaps its row-major strides.
  let aRowMajor = ctx.runtimeStrides(of: a.dims, over: a.dims)
  let bRowMajor = ctx.runtimeStrides(of: b.dims, over: b.dims)
  let aStrides = transA ? aRowMajor.reversed() : aRowMajor
  let bStrides = transB ? bRowMajor.reversed() : bRowMajor
  let cStrides = hasC ? ctx.runtimeStrides(of: ctx.operandType(2).dims, over: [m, n]) : [k.i64(0), k.i64(0)]
  let pointers = [ctx.operand(0), ctx.operand(1), ctx.results[0]] + (hasC ? [ctx.operand(2)] : [])
  let values = [ctx.extent(inner), ctx.extent(n)] + aStrides + bStrides + cStrides
  ctx.forEachIndex(extents: [ctx.extent(m)], captures: pointers + values) { index, c in
    let v = Array(c[pointers.count...])
    let (inner, columns, sa, sb, sc) = (v[0], v[1], Array(v[2..<4]), Array(v[4..<6]), Array(v[6..<8]))
    let row = index[0]
    let yRow = row * columns
    k.emitRowProduct(
      element, columns: columns, inner: inner, a: (c[0], row * sa[0], sa[1]), b: (c[1], k.i64(0), sb[0], sb[1]),
      y: (c[2], yRow, k.i64(1)))
    guard alpha != 1 || hasC else { return }
    k.forLoop(from: k.i64(0), to: columns) { j in
      let at = yRow + j
      var value = k.load(element, from: c[2], at: at)
      if alpha != 1 { value = value * alpha }
      if hasC { value = value + k.load(element, from: c[3], at: row * sc[0] + j * sc[1]) * beta }
      k.store(value, element, to: c[2], at: at)
    }
  }
}
