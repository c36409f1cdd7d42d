import CLLVM
import SSMCIR

// Lowerings over extents given at run time (see `ModelCompiler+RuntimeDims.swift`): loop bounds and strides
// are i64 values computed from the symbol values, so one kernel serves every size. The ops listed in
// `Lowerings.runtimeSized` take such types; their lowerings branch here when `hasRuntimeExtents`.

extension Lowerings {
  /// Ops whose lowerings take operand and result types with run-time extents, by family.
  public static let runtimeSized: Set<String> = Set(
    [runtimeSizedCore, runtimeSizedData, runtimeSizedScan, runtimeSizedConvolution, runtimeSizedAxisOps].joined())

  /// Whether the op's operands broadcast against its result (numpy style), as elementwise ops do.
  static func broadcastsOperands(_ op: String) -> Bool {
    elementwiseFormulas[op] != nil || ["ssmc.FusedElementwise", "Dropout", "CastLike", "Pow"].contains(op)
  }

  /// Elementwise ops, products, layout and row-wise normalizations (this file).
  static let runtimeSizedCore: Set<String> = Set(elementwiseFormulas.keys).union([
    "ssmc.FusedElementwise", "Dropout", "CastLike", "Pow", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "MatMul",
    "Transpose", "Softmax", "LogSoftmax", "LayerNormalization", "RMSNormalization", "BatchNormalization",
  ])
}

extension LoweringContext {
  /// Element strides of a tensor of `dims` over a loop nest of `outer` (right-aligned, numpy broadcasting):
  /// 0 along axes it broadcasts or lacks. A symbolic dim that differs from its loop's dim broadcasts when it
  /// is 1 at run time ([R, T] + [4, 1] is typed [4, T]; R = 1 repeats the row).
  func runtimeStrides(of dims: [Dim], over outer: [Dim]) -> [IRValue] {
    var strides = [IRValue](repeating: k.i64(0), count: outer.count)
    var step = k.i64(1)
    let offset = outer.count - dims.count
    for axis in stride(from: dims.count - 1, through: 0, by: -1) {
      let (dim, loop) = (dims[axis], outer[axis + offset])
      if dim.value == nil && dim != loop {
        strides[axis + offset] = k.select(k.compare(.eq, extent(dim), k.i64(1)), k.i64(0), step)
      } else if !(dim == .fixed(1) && loop != .fixed(1)) {
        strides[axis + offset] = step
      }
      step = step * extent(dim)
    }
    return strides
  }

  /// `body(index, captured)` for every index of a nest with run-time `extents`: the outer loop is split
  /// across the pool. The body sees only `captures` (it is outlined) and
  /// values it computes itself; `captured` holds them followed by the extents.
  func forEachIndex(extents: [IRValue], captures: [IRValue], body: @escaping (_ index: [IRValue], _ captured: [IRValue]) -> Void) {
    guard let first = extents.first else {
      body([], captures)
      return
    }
    // Constants need no capture (any function may use them), and stay constants for LLVM to fold.
    let all = captures + extents
    let variable = all.indices.filter { LLVMIsConstant(all[$0].ref) == 0 }
    k.parallelFor(count: first, pool: pool, captures: variable.map { all[$0] }) { begin, end, passed in
      var captured = all
      for (slot, i) in variable.enumerated() { captured[i] = passed[slot] }
      let bounds = Array(captured.suffix(extents.count))
      func nest(_ dim: Int, _ prefix: [IRValue]) {
        if dim == bounds.count {
          body(prefix, captured)
          return
        }
        // No vectorization hint: with strides known only at run time LLVM decides whether it pays.
        k.forLoop(from: dim == 0 ? begin : k.i64(0), to: dim == 0 ? end : bounds[dim]) { i in
          nest(dim + 1, prefix + [i])
        }
      }
      nest(0, [])
    }
  }

  /// For row-wise lowerings whose leading `outer` dims may be given at run time: the loops of
  /// `forEachIndex(_:work:captures:innerHints:body:)` over [product of outer] + `shape`, with the outer extent
  /// computed at run time when it is not static (then the pool always splits it). The body sees `captures`.
  func forEachIndex(
    outer: [Dim], _ shape: [Int], work: Int, captures: [IRValue], innerHints: LoopHints = LoopHints(vectorize: true),
    body: @escaping (_ index: [IRValue], _ captured: [IRValue]) -> Void
  ) {
    guard let rows = Dim.product(outer), rows.constantValue == nil else {
      forEachIndex([Dim.product(outer)?.constantValue ?? 0] + shape, work: work, captures: captures, innerHints: innerHints, body: body)
      return
    }
    let extents = [extentProduct(outer)] + shape.map { k.i64(Int64($0)) }
    forEachIndex(extents: extents, captures: captures) { index, captured in body(index, Array(captured.prefix(captures.count))) }
  }

  /// The static extents of `dims`, which a lowering over run-time leading dims needs for the rest.
  func staticExtents(_ dims: ArraySlice<Dim>, what: String) throws(CodegenError) -> [Int] {
    let values = dims.compactMap(\.value)
    guard values.count == dims.count else { throw error("\(what) \(dimsText(Array(dims))) must have static extents") }
    return values
  }

  /// The product of the extents of `dims` as an i64 value (1 for none).
  func extentProduct<S: Sequence>(_ dims: S) -> IRValue where S.Element == Dim {
    dims.reduce(k.i64(1)) { $0 * extent($1) }
  }

  func flatIndex(_ index: [IRValue], runtimeStrides strides: [IRValue]) -> IRValue {
    zip(index, strides).reduce(k.i64(0)) { $0 + $1.0 * $1.1 }
  }
}

/// `lowerElementwise` over run-time extents: one loop per result dim.
func lowerRuntimeElementwise(_ ctx: LoweringContext, _ formula: @escaping Formula) throws(CodegenError) {
  let out = ctx.resultType(0).dims
  let present = ctx.node.operands.indices.filter { ctx.hasOperand($0) }
  let operandScalars = try present.map { i throws(CodegenError) in try ctx.scalar(ctx.operandType(i).element) }
  let resultScalar = try ctx.scalar(ctx.resultType(0).element)
  let strides = present.map { ctx.runtimeStrides(of: ctx.operandType($0).dims, over: out) } + [ctx.runtimeStrides(of: out, over: out)]
  let pointers = present.map { ctx.operand($0) } + [ctx.results[0]]
  let op = ctx.op
  let k = ctx.k
  let rank = out.count
  ctx.forEachIndex(extents: out.map(ctx.extent), captures: pointers + strides.flatMap { $0 }) { index, captured in
    let loopStrides = (0..<pointers.count).map { Array(captured[(pointers.count + $0 * rank)..<(pointers.count + ($0 + 1) * rank)]) }
    let loaded = present.indices.map { slot in
      k.load(operandScalars[slot], from: captured[slot], at: ctx.flatIndex(index, runtimeStrides: loopStrides[slot]))
    }
    let value = formula(k, loaded, op)
    k.store(value, resultScalar, to: captured[present.count], at: ctx.flatIndex(index, runtimeStrides: loopStrides[present.count]))
  }
}

/// Reshape-like ops whose result is no view (a graph output): a copy of the run-time byte count.
func copyRuntimeBytes(_ ctx: LoweringContext) {
  let type = ctx.resultType(0)
  ctx.k.memcpy(to: ctx.results[0], from: ctx.operand(0), bytes: ctx.extentProduct(type.dims) * ctx.k.i64(Int64(type.element.byteSize)))
}

/// MatMul over run-time extents (numpy batch broadcasting, operands of rank >= 2): each row of the result
/// accumulates the rows of B scaled by A's entries; batch entries and rows go to the pool.
func lowerRuntimeMatMul(_ ctx: LoweringContext) throws(CodegenError) {
  let (a, b, y) = (ctx.operandType(0), ctx.operandType(1), ctx.resultType(0))
  guard a.rank >= 2, b.rank >= 2, a.element == .f32, b.element == .f32, ctx.stridedOperands.isEmpty else {
    throw ctx.error("with run-time extents, MatMul takes f32 operands of rank >= 2, got \(a) x \(b)")
  }
  let batch = Array(y.dims.dropLast(2))
  let (m, k, n) = (a.dims[a.rank - 2], a.dims[a.rank - 1], b.dims[b.rank - 1])
  let aStrides = ctx.runtimeStrides(of: a.dims, over: batch + [m, k])
  let bStrides = ctx.runtimeStrides(of: b.dims, over: batch + [k, n])
  let yStrides = ctx.runtimeStrides(of: y.dims, over: y.dims)
  let rank = batch.count + 2
  let kb = ctx.k
  let captures = [ctx.operand(0), ctx.operand(1), ctx.results[0], ctx.extent(k), ctx.extent(n)] + aStrides + bStrides + yStrides
  ctx.forEachIndex(extents: batch.map(ctx.extent) + [ctx.extent(m)], captures: captures) { index, c in
    let (aData, bData, yData, kCount, nCount) = (c[0], c[1], c[2], c[3], c[4])
    let (sa, sb, sy) = (Array(c[5..<(5 + rank)]), Array(c[(5 + rank)..<(5 + 2 * rank)]), Array(c[(5 + 2 * rank)..<(5 + 3 * rank)]))
    let row = index + [kb.i64(0)]
    let (aRow, bBase, yRow) = (ctx.flatIndex(row, runtimeStrides: sa), ctx.flatIndex(row, runtimeStrides: Array(sb.prefix(rank - 2)) + [kb.i64(0), kb.i64(0)]), ctx.flatIndex(row, runtimeStrides: sy))
    kb.emitRowProduct(
      .f32, columns: nCount, inner: kCount, a: (aData, aRow, sa[rank - 1]), b: (bData, bBase, sb[rank - 2], sb[rank - 1]),
      y: (yData, yRow, sy[rank - 1]))
  }
}

extension KernelBuilder {
  /// One row of a matrix product over run-time extents: y[j] = Σ_p a[p] b[p, j] for j < `columns`, p < `inner`,
  /// each operand given as (data, offset of the row, strides): y is zeroed, then accumulates the rows of B
  /// scaled by A's entries. The run-time MatMul and Gemm lowerings share it.
  func emitRowProduct(
    _ element: ScalarType, columns: IRValue, inner: IRValue, a: (data: IRValue, row: IRValue, step: IRValue),
    b: (data: IRValue, base: IRValue, rowStep: IRValue, columnStep: IRValue), y: (data: IRValue, row: IRValue, step: IRValue)
  ) {
    let zero = constant(0, type(element))
    forLoop(from: i64(0), to: columns) { j in store(zero, element, to: y.data, at: y.row + j * y.step) }
    forLoop(from: i64(0), to: inner, hints: LoopHints(vectorize: false)) { p in
      let scale = load(element, from: a.data, at: a.row + p * a.step)
      let bRow = b.base + p * b.rowStep
      forLoop(from: i64(0), to: columns) { j in
        let at = y.row + j * y.step
        store(mulAdd(scale, load(element, from: b.data, at: bRow + j * b.columnStep), load(element, from: y.data, at: at)), element, to: y.data, at: at)
      }
    }
  }
}

/// Transpose over run-time extents: result index i reads the operand at its row-major strides, permuted.
func lowerRuntimeTranspose(_ ctx: LoweringContext) throws(CodegenError) {
  let dims = ctx.operandType(0).dims
  let out = ctx.resultType(0).dims
  let perm = (try? ctx.op.ints("perm")) ?? nil ?? Array((0..<dims.count).reversed())
  let source = ctx.runtimeStrides(of: dims, over: dims)
  ctx.runtimeStridedCopy(
    out.map(ctx.extent), scalar: try ctx.moveScalar(ctx.operandType(0).element), from: ctx.operand(0), offset: ctx.k.i64(0),
    strides: perm.map { source[$0] }, to: ctx.results[0], offset: ctx.k.i64(0), strides: ctx.runtimeStrides(of: out, over: out))
}
