import CLLVM
import SSMCIR

// CumSum/CumProd and Einsum over run-time extents (see RuntimeExtents+Lowering.swift).

extension Lowerings {
  static let runtimeSizedAxisOps: Set<String> = ["CumSum", "CumProd", "Einsum"]
}

/// CumSum or CumProd along a constant axis: each outer block's rows (of `inner` elements) accumulate in order.
func lowerRuntimeCumulative(_ ctx: LoweringContext, product: Bool) throws {
  let dims = ctx.operandType(0).dims
  guard let rawAxis = ctx.constant(1)?.ints.first else { throw ctx.error("with run-time extents, the axis must be a constant") }
  let axis = try ctx.op.axis(rawAxis, rank: dims.count)
  let exclusive = try ctx.op.int("exclusive") == 1
  let reverse = try ctx.op.int("reverse") == 1
  let scalar = try ctx.scalar(ctx.operandType(0).element)
  let k = ctx.k
  let extents = [ctx.extentProduct(dims[..<axis]), ctx.extentProduct(dims[(axis + 1)...])]
  let identity = k.constant(product ? 1 : 0, k.type(scalar))
  ctx.forEachIndex(extents: extents, captures: [ctx.operand(0), ctx.results[0], ctx.extent(dims[axis])]) { i, c in
    let (x, y, n, inner) = (c[0], c[1], c[2], c[4])
    let base = i[0] * n * inner + i[1]
    k.forLoop(from: k.i64(0), to: n, carrying: [identity]) { step, acc in
      let at = base + (reverse ? n - k.i64(1) - step : step) * inner
      let value = k.load(scalar, from: x, at: at)
      let next = product ? acc[0] * value : acc[0] + value
      k.store(exclusive ? acc[0] : next, scalar, to: y, at: at)
      return [next]
    }
  }
}

/// Einsum over run-time extents: a loop over the output letters with a reduction nest over the summed ones;
/// each letter's extent and each operand's stride along it are computed at run time.
func lowerRuntimeEinsum(_ ctx: LoweringContext) throws {
  let count = ctx.node.operands.count
  let types = (0..<count).map { ctx.operandType($0) }
  // The letters, terms and output come from the equation and the ranks; a symbolic dim stands in as 2 (a size
  // that does not broadcast) and the real extents are taken below.
  let placeholders = types.map { $0.dims.map { $0.value ?? 2 } }
  let plan = try EinsumPlan(equation: try ctx.op.string("equation") ?? "", shapes: placeholders) { ctx.error($0) }
  let element = try ctx.scalar(ctx.resultType(0).element)
  let k = ctx.k
  var letterDim: [Character: Dim] = [:]
  for (letters, type) in zip(plan.terms, types) {
    for (c, d) in zip(letters, type.dims) where letterDim[c] == nil || letterDim[c] == .fixed(1) { letterDim[c] = d }
  }
  // Per operand and letter: its element stride (0 where it broadcasts the letter or lacks it).
  var strides: [[Character: IRValue]] = []
  for (letters, type) in zip(plan.terms, types) {
    let rowMajor = ctx.runtimeStrides(of: type.dims, over: type.dims)
    var s: [Character: IRValue] = [:]
    for (position, c) in letters.enumerated() where !(type.dims[position] == .fixed(1) && letterDim[c] != .fixed(1)) {
      s[c] = s[c].map { $0 + rowMajor[position] } ?? rowMajor[position]
    }
    strides.append(s)
  }
  let summed = plan.summedLetters
  let outDims = plan.outputLetters.map { letterDim[$0]! }
  let outStrides = ctx.runtimeStrides(of: outDims, over: outDims)
  func stride(_ op: Int, _ c: Character) -> IRValue { strides[op][c] ?? k.i64(0) }
  var captures = (0..<count).map { ctx.operand($0) } + [ctx.results[0]] + outStrides + summed.map { ctx.extent(letterDim[$0]!) }
  for op in 0..<count { captures += plan.outputLetters.map { stride(op, $0) } + summed.map { stride(op, $0) } }
  let (outRank, sumRank) = (plan.outputLetters.count, summed.count)
  ctx.forEachIndex(extents: outDims.map(ctx.extent), captures: captures) { index, c in
    var cursor = count + 1
    func take(_ n: Int) -> [IRValue] {
      defer { cursor += n }
      return Array(c[cursor..<(cursor + n)])
    }
    let yStrides = take(outRank)
    let sumExtents = take(sumRank)
    let opStrides = (0..<count).map { _ in (out: take(outRank), sum: take(sumRank)) }
    let base = opStrides.map { ctx.flatIndex(index, runtimeStrides: $0.out) }
    func product(_ offsets: [IRValue]) -> IRValue {
      (1..<count).reduce(k.load(element, from: c[0], at: offsets[0])) { $0 * k.load(element, from: c[$1], at: offsets[$1]) }
    }
    func reduce(_ level: Int, _ offsets: [IRValue], _ acc: IRValue) -> IRValue {
      guard level < sumRank else { return acc + product(offsets) }
      return k.forLoop(from: k.i64(0), to: sumExtents[level], carrying: [acc]) { i, carried in
        [reduce(level + 1, (0..<count).map { offsets[$0] + i * opStrides[$0].sum[level] }, carried[0])]
      }[0]
    }
    let value = summed.isEmpty ? product(base) : reduce(0, base, k.constant(0, k.type(element)))
    k.store(value, element, to: c[count], at: ctx.flatIndex(index, runtimeStrides: yStrides))
  }
}
