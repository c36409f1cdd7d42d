import CLLVM
import SSMCIR

/// Reductions (ReduceSum ... ReduceLogSumExp). The input dims are grouped into runs of kept and reduced
/// dims. When the innermost run is reduced, each output element folds its slice with vector accumulators
/// over the contiguous innermost run; when it is kept, whole output rows accumulate in place so the
/// innermost loop stays contiguous and vectorizes.
let reductionLowerings: [String: Lowering] = [
  "ReduceSum": reduction(.sum),
  "ReduceMean": reduction(Reducer.sum.finishing { k, s, n in n == 0 ? (s.isFloat ? s / k.constant(0, s.type) : s) : s / Double(n) }),
  "ReduceMax": reduction(Reducer(identity: { k, t in extremum(k, t, largest: false) }, combine: maximum)),
  "ReduceMin": reduction(Reducer(identity: { k, t in extremum(k, t, largest: true) }, combine: minimum)),
  "ReduceProd": reduction(Reducer(identity: { k, t in k.constant(1, t) }, combine: { _, a, b in a * b })),
  "ReduceL1": reduction(Reducer.sum.mapping { k, x in k.abs(x) }),
  "ReduceL2": reduction(Reducer.sum.mapping { _, x in x * x }.finishing { k, s, _ in k.sqrt(s) }, floatOnly: true),
  "ReduceSumSquare": reduction(Reducer.sum.mapping { _, x in x * x }),
  "ReduceLogSum": reduction(Reducer.sum.finishing { k, s, _ in inF32(k, s, k.log) }, floatOnly: true),
  "ReduceLogSumExp": reduction(.sum, logSumExp: true),
]

/// How a reduction folds a slice: `finish(combine(identity, map(x0), map(x1), ...), count)`.
struct Reducer: Sendable {
  /// The neutral element, as a scalar of register type `type`.
  var identity: @Sendable (KernelBuilder, LLVMTypeRef) -> IRValue
  var map: @Sendable (KernelBuilder, IRValue) -> IRValue = { _, x in x }
  var combine: @Sendable (KernelBuilder, IRValue, IRValue) -> IRValue
  var finish: @Sendable (KernelBuilder, IRValue, Int) -> IRValue = { _, s, _ in s }

  static let sum = Reducer(identity: { k, t in t == k.llvm.i1 ? k.bool(false) : k.constant(0, t) }, combine: { _, a, b in a + b })

  func mapping(_ f: @escaping @Sendable (KernelBuilder, IRValue) -> IRValue) -> Reducer {
    var r = self
    r.map = f
    return r
  }
  func finishing(_ f: @escaping @Sendable (KernelBuilder, IRValue, Int) -> IRValue) -> Reducer {
    var r = self
    r.finish = f
    return r
  }
}

/// NaN-propagating maximum (as numpy and onnxruntime), signed integer maximum, or `or` for bools.
let maximum: @Sendable (KernelBuilder, IRValue, IRValue) -> IRValue = { k, a, b in
  if a.isFloat { return k.intrinsic("llvm.maximum", overloads: [a.type], [a, b]) }
  return LLVMGetIntTypeWidth(a.scalarType) == 1 ? k.or(a, b) : k.max(a, b)
}
let minimum: @Sendable (KernelBuilder, IRValue, IRValue) -> IRValue = { k, a, b in
  if a.isFloat { return k.intrinsic("llvm.minimum", overloads: [a.type], [a, b]) }
  return LLVMGetIntTypeWidth(a.scalarType) == 1 ? k.and(a, b) : k.min(a, b)
}

/// +inf/-inf, the largest/smallest signed integer, or true/false: the identity of min/max.
func extremum(_ k: KernelBuilder, _ type: LLVMTypeRef, largest: Bool) -> IRValue {
  if LLVMGetTypeKind(type) != LLVMIntegerTypeKind { return k.constant(largest ? .infinity : -.infinity, type) }
  let bits = Int64(LLVMGetIntTypeWidth(type))
  if bits == 1 { return k.bool(largest) }
  let top = bits == 64 ? Int64.max : (Int64(1) << (bits - 1)) - 1
  return k.constant(bits: largest ? top : ~top, type)
}

/// `f` (an f32 math function) applied to f32 or f64 `x`; f64 goes through f32, whose ~1e-7 relative error
/// is far inside what a log/exp reduction is checked to.
func inF32(_ k: KernelBuilder, _ x: IRValue, _ f: (IRValue) -> IRValue) -> IRValue {
  guard LLVMGetTypeKind(x.scalarType) == LLVMDoubleTypeKind else { return f(x) }
  return k.convert(f(k.convert(x, to: .f32)), to: .f64)
}

/// One run of adjacent input dims that are all kept or all reduced, with the stride of its innermost element.
private struct Run {
  var size: Int, reduced: Bool, stride: Int
}

/// The input's dims as runs (size-1 dims dropped, since they index nothing).
private func runs(_ shape: [Int], axes: Set<Int>) -> [Run] {
  let strides = rowMajorStrides(shape)
  var result: [Run] = []
  for (d, size) in shape.enumerated() where size != 1 {
    let reduced = axes.contains(d)
    if let last = result.last, last.reduced == reduced, last.stride == size * strides[d] {
      result[result.count - 1].size *= size
      result[result.count - 1].stride = strides[d]
    } else {
      result.append(Run(size: size, reduced: reduced, stride: strides[d]))
    }
  }
  return result
}

private func reduction(_ r: Reducer, floatOnly: Bool = false, logSumExp: Bool = false) -> Lowering {
  { ctx in
    if ctx.hasRuntimeExtents {
      if try (floatOnly || logSumExp) && !ctx.scalar(ctx.operandType(0).element).isFloat { throw ctx.error("needs a float input") }
      return try lowerRuntimeReduction(ctx, r, mean: ctx.node.op == "ReduceMean", logSumExp: logSumExp)
    }
    let shape = ctx.operandShape(0)
    let scalar = try ctx.scalar(ctx.operandType(0).element)
    if (floatOnly || logSumExp) && !scalar.isFloat { throw ctx.error("needs a float input") }
    var axes: [Int]
    if let given = ctx.constant(1)?.ints, !given.isEmpty {
      axes = given.map { $0 < 0 ? $0 + shape.count : $0 }
    } else if ctx.hasOperand(1) && ctx.constant(1) == nil && ctx.operandShape(1) != [0] {
      throw ctx.error("axes must be a compile-time constant")
    } else {
      axes = try ctx.op.int("noop_with_empty_axes") == 1 ? [] : Array(shape.indices)
    }
    let count = axes.reduce(1) { $0 * shape[$1] }
    let all = runs(shape, axes: Set(axes))
    if let last = all.last, !last.reduced, !logSumExp {
      rowReduction(ctx, all, scalar: scalar, r, count: count)
    } else {
      sliceReduction(ctx, all, scalar: scalar, r, count: count, logSumExp: logSumExp)
    }
  }
}

/// Each output element folds its whole slice; the innermost reduced run is contiguous when it is the last.
private func sliceReduction(_ ctx: LoweringContext, _ all: [Run], scalar: ScalarType, _ r: Reducer, count: Int, logSumExp: Bool) {
  let kept = all.filter { !$0.reduced }
  let reduced = all.filter(\.reduced)
  let outStrides = rowMajorStrides(kept.map(\.size))
  let contiguous = reduced.last?.stride == 1 && all.last?.reduced == true
  let k = ctx.k
  let type = k.type(scalar)
  let lanes = ctx.lanes(for: scalar)
  let work = all.reduce(1) { $0 * $1.size }
  ctx.forEachIndex(kept.map(\.size), work: work, captures: [ctx.operand(0), ctx.results[0]], innerHints: LoopHints(vectorize: false)) { index, c in
    let base = ctx.flatIndex(index, strides: kept.map(\.stride))
    /// Folds the slice with `map`/`combine` from `identity`: loops over the outer reduced runs, then the last.
    func fold(_ identity: IRValue, _ map: @escaping (IRValue) -> IRValue, _ combine: @escaping (IRValue, IRValue) -> IRValue) -> IRValue {
      func level(_ n: Int, _ offset: IRValue, _ acc: IRValue) -> IRValue {
        if n == reduced.count {
          return combine(acc, map(k.load(scalar, from: c[0], at: offset)))
        }
        let run = reduced[n]
        if n == reduced.count - 1 && contiguous {
          let row = k.reduceContiguous(
            scalar, lanes: lanes, base: c[0], start: offset, count: run.size, identity: identity, map: map, combine: combine)
          return combine(acc, row)
        }
        return k.forLoop(from: k.i64(0), to: k.i64(Int64(run.size)), hints: LoopHints(vectorize: false), carrying: [acc]) { i, a in
          [level(n + 1, offset + i * k.i64(Int64(run.stride)), a[0])]
        }[0]
      }
      return level(0, base, identity)
    }
    var value: IRValue
    if logSumExp {
      // log Σ exp(x - m) + m with m the slice maximum (0 when infinite or empty, so -inf and +inf stay exact).
      let m = fold(extremum(k, type, largest: false), { $0 }, { maximum(k, $0, $1) })
      let shift = k.select(k.compare(.lt, k.abs(m), .infinity), m, k.constant(0, type))
      let sum = fold(k.constant(0, type), { x in inF32(k, x - (x.isVector ? k.splat(shift, lanes: x.lanes) : shift), k.exp) }, { $0 + $1 })
      value = inF32(k, sum, k.log) + shift
    } else {
      value = r.finish(k, fold(r.identity(k, type), { r.map(k, $0) }, { r.combine(k, $0, $1) }), count)
    }
    k.store(value, scalar, to: c[1], at: ctx.flatIndex(index, strides: outStrides))
  }
}

/// The innermost run is kept: each output row (the kept inner run) accumulates in place in the result,
/// one reduced position at a time, so every inner loop is contiguous.
private func rowReduction(_ ctx: LoweringContext, _ all: [Run], scalar: ScalarType, _ r: Reducer, count: Int) {
  let inner = all.last!.size
  let outer = all.dropLast()
  let kept = outer.filter { !$0.reduced }
  let reduced = outer.filter(\.reduced)
  let outStrides = rowMajorStrides(kept.map(\.size) + [inner]).dropLast()
  let k = ctx.k
  let type = k.type(scalar)
  let work = all.reduce(1) { $0 * $1.size }
  let vector = LoopHints(vectorize: true)
  ctx.forEachIndex(kept.map(\.size), work: work, captures: [ctx.operand(0), ctx.results[0]], innerHints: LoopHints(vectorize: false)) { index, c in
    let inBase = ctx.flatIndex(index, strides: kept.map(\.stride))
    let outBase = ctx.flatIndex(index, strides: Array(outStrides))
    k.forLoop(from: k.i64(0), to: k.i64(Int64(inner)), hints: vector) { i in
      k.store(r.identity(k, type), scalar, to: c[1], at: outBase + i)
    }
    func level(_ n: Int, _ offset: IRValue) {
      if n == reduced.count {
        k.forLoop(from: k.i64(0), to: k.i64(Int64(inner)), hints: vector) { i in
          let acc = k.load(scalar, from: c[1], at: outBase + i)
          k.store(r.combine(k, acc, r.map(k, k.load(scalar, from: c[0], at: offset + i))), scalar, to: c[1], at: outBase + i)
        }
        return
      }
      k.forLoop(from: k.i64(0), to: k.i64(Int64(reduced[n].size)), hints: LoopHints(vectorize: false)) { j in
        level(n + 1, offset + j * k.i64(Int64(reduced[n].stride)))
      }
    }
    level(0, inBase)
    k.forLoop(from: k.i64(0), to: k.i64(Int64(inner)), hints: vector) { i in
      k.store(r.finish(k, k.load(scalar, from: c[1], at: outBase + i), count), scalar, to: c[1], at: outBase + i)
    }
  }
}
