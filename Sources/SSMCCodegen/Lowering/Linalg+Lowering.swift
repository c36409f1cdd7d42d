import CLLVM
import SSMCIR

/// MatMul, Gemm and Einsum. Each is described as a (batched) matrix product with explicit strides; f32
/// products large enough to pay for it go to the packed, register-blocked kernel of GemmKernel.swift, the
/// rest (integers, tiny or degenerate shapes) to a straightforward loop nest.
let linalgLowerings: [String: Lowering] = [
  "MatMul": { ctx in ctx.hasRuntimeExtents ? try lowerRuntimeMatMul(ctx) : try lowerMatMul(ctx) },
  "Gemm": { ctx in try lowerGemm(ctx) },
  "Einsum": { ctx in try lowerEinsum(ctx) },
]

/// A batched product C[b, m, n] = sum_k A[b, m, k] * B[b, k, n] with A, B addressed through element
/// strides (0 along broadcast batch dims) and C contiguous along n.
struct MatMulProblem {
  var batch: [Int]
  var m: Int
  var n: Int
  var k: Int
  /// A's strides per batch dim, then along m and along k.
  var aBatchStrides: [Int]
  var aM: Int
  var aK: Int
  /// B's strides per batch dim, then along k and along n.
  var bBatchStrides: [Int]
  var bK: Int
  var bN: Int
  /// C's strides per batch dim and along m; nil: contiguous (batch..., M, N).
  var cLayout: (batch: [Int], m: Int)? = nil

  var cBatchStrides: [Int] { cLayout?.batch ?? rowMajorStrides(batch).map { $0 * m * n } }
  var cM: Int { cLayout?.m ?? n }
  var batchCount: Int { batch.reduce(1, *) }
  var flops: Int { 2 * batchCount * m * n * k }

  /// Folds the batch into M when B is shared by every batch and A's batch walks its rows contiguously
  /// ((B, L, D) x (D, E) becomes one (B*L, D) x (D, E) product), so the kernel sees one large matrix.
  func foldingBatchIntoRows() -> MatMulProblem {
    guard !batch.isEmpty, cLayout == nil, bBatchStrides.allSatisfy({ $0 == 0 }) else { return self }
    var expected = aM * m
    for (dim, stride) in zip(batch, aBatchStrides).reversed() {
      guard stride == expected || dim == 1 else { return self }
      expected *= dim
    }
    var folded = self
    folded.m = m * batchCount
    folded.batch = []
    folded.aBatchStrides = []
    folded.bBatchStrides = []
    return folded
  }
}

extension MatMulProblem {
  /// numpy.matmul of A (shape `aShape`, element strides `aStrides`) by B into a contiguous result of shape
  /// `result`: a 1-D A is promoted to one row and a 1-D B to one column; the batch dims broadcast, with
  /// stride 0 where an operand lacks the dim or has extent 1.
  init(numpy aShape: [Int], strides aStrides: [Int], by bShape: [Int], strides bStrides: [Int], result: [Int]) {
    let left = aShape.count == 1 ? [1] + aShape : aShape
    let right = bShape.count == 1 ? bShape + [1] : bShape
    let batch = Array(result.prefix(max(left.count, right.count) - 2))
    func batchStrides(_ shape: [Int], _ strides: [Int]) -> [Int] {
      let pad = batch.count - (shape.count - 2)
      return batch.indices.map { j in j < pad || shape[j - pad] == 1 ? 0 : strides[j - pad] }
    }
    let (aPromoted, bPromoted) = (aShape.count == 1, bShape.count == 1)
    let k = left[left.count - 1]
    self.init(
      batch: batch, m: left[left.count - 2], n: right[right.count - 1], k: k,
      aBatchStrides: batchStrides(left, aStrides), aM: aPromoted ? k : aStrides[aStrides.count - 2],
      aK: aStrides[aStrides.count - 1],
      bBatchStrides: batchStrides(right, bStrides), bK: bPromoted ? 1 : bStrides[bStrides.count - 2],
      bN: bPromoted ? 1 : bStrides[bStrides.count - 1])
  }
}

/// MatMul with numpy semantics: 1-D operands are promoted (and the added dim dropped from the result),
/// batch dims broadcast. `fused`: the epilogue of an `ssmc.FusedMatMul`.
func lowerMatMul(_ ctx: LoweringContext, fused: ProductEpilogue? = nil) throws {
  // Operand strides: contiguous, or permuted when the operand is a Transpose the memory plan made a view.
  let problem = MatMulProblem(
    numpy: ctx.operandShape(0), strides: ctx.operandStrides(0), by: ctx.operandShape(1), strides: ctx.operandStrides(1),
    result: ctx.resultShape(0))
  let folded = problem.foldingBatchIntoRows()
  // With a 1-D operand the result drops the promoted dim: rows or columns are no longer output dims.
  let keepsDims = ctx.operandShape(0).count >= 2 && ctx.operandShape(1).count >= 2
  let epilogue = keepsDims ? fused?.matMulEpilogue(ctx, batch: problem.batch, m: problem.m, problem: folded) : nil
  try emitMatMul(ctx, folded, a: ctx.operand(0), b: ctx.operand(1), bConstant: ctx.constant(1), epilogue: epilogue)
  if let fused, epilogue == nil { fused.emitSweep(ctx) }
}

/// Gemm: Y = alpha * op(A) op(B) + beta * C. `fused`: the epilogue of an `ssmc.FusedGemm`, after C.
func lowerGemm(_ ctx: LoweringContext, fused: ProductEpilogue? = nil) throws {
  if ctx.hasRuntimeExtents && fused == nil { return try lowerRuntimeGemm(ctx) }
  let op = ctx.op
  let alpha = Double(try op.float("alpha"))
  let beta = Double(try op.float("beta"))
  let (transA, transB) = (try op.flag("transA"), try op.flag("transB"))
  let (aShape, bShape) = (ctx.operandShape(0), ctx.operandShape(1))
  let out = ctx.resultShape(0)
  let (m, n) = (out[0], out[1])
  let k = transA ? aShape[0] : aShape[1]
  let problem = MatMulProblem(
    batch: [], m: m, n: n, k: k, aBatchStrides: [], aM: transA ? 1 : aShape[1], aK: transA ? aShape[1] : 1,
    bBatchStrides: [], bK: transB ? 1 : bShape[1], bN: transB ? bShape[1] : 1)
  var epilogue: GemmEpilogue? = nil
  let hasC = ctx.hasOperand(2) && beta != 0
  if alpha != 1 || hasC {
    // C broadcasts unidirectionally to (M, N): strides along m and n, 0 where C has extent 1.
    let cStrides = hasC ? broadcastStrides(of: ctx.operandShape(2), to: [m, n]) : [0, 0]
    let element = try ctx.scalar(ctx.resultType(0).element)
    epilogue = GemmEpilogue(extras: hasC ? [ctx.operand(2)] : []) { k, acc, _, row, column, mask, extras in
      var value = alpha == 1 ? acc : acc * alpha
      guard hasC else { return value }
      let offset = ctx.flatIndex([row], strides: [cStrides[0]]) + ctx.flatIndex([column], strides: [cStrides[1]])
      let c: IRValue
      if acc.isVector && cStrides[1] == 1 {
        c = k.loadVector(element, lanes: acc.lanes, from: extras[0], at: offset, mask: mask)
      } else if acc.isVector && cStrides[1] == 0 {
        c = k.splat(k.load(element, from: extras[0], at: offset), lanes: acc.lanes)
      } else {
        c = k.load(element, from: extras[0], at: offset)
      }
      value = value + (beta == 1 ? c : c * beta)
      return value
    }
  }
  epilogue = GemmEpilogue.chain(epilogue, fused?.gemmEpilogue(ctx))
  try emitMatMul(ctx, problem, a: ctx.operand(0), b: ctx.operand(1), bConstant: ctx.constant(1), epilogue: epilogue)
}

/// A per-element (or per-vector) transformation applied to the finished accumulator before it is stored:
/// `(builder, accumulator, batch multi-index, row index, first column index, lane mask, captured extras) ->
/// value`, indices in the problem's coordinates (the batch index is empty for an unbatched problem). Vector
/// accumulators cover consecutive columns; the mask (nil: all lanes) marks the columns inside the matrix.
/// `extras` are pointers the epilogue reads (captured into parallel bodies).
struct GemmEpilogue {
  typealias Apply = (KernelBuilder, IRValue, [IRValue], IRValue, IRValue, IRValue?, [IRValue]) -> IRValue
  var extras: [IRValue]
  var apply: Apply

  /// `first`, then `second` on its value (either may be nil); each sees its own extras.
  static func chain(_ first: GemmEpilogue?, _ second: GemmEpilogue?) -> GemmEpilogue? {
    guard let first, let second else { return first ?? second }
    let split = first.extras.count
    return GemmEpilogue(extras: first.extras + second.extras) { k, acc, batch, row, column, mask, extras in
      let value = first.apply(k, acc, batch, row, column, mask, Array(extras[..<split]))
      return second.apply(k, value, batch, row, column, mask, Array(extras[split...]))
    }
  }
}

/// Picks the kernel for a product into `c` (the node's first result unless given): the packed f32 kernel
/// when it pays, else loops.
func emitMatMul(
  _ ctx: LoweringContext, _ problem: MatMulProblem, a: IRValue, b: IRValue, bConstant: TensorData?,
  c: IRValue? = nil, epilogue: GemmEpilogue? = nil
) throws {
  let c = c ?? ctx.results[0]
  let element = try ctx.scalar(ctx.resultType(0).element)
  guard element == .f32 || element == .f64 || element == .i64 || element == .i32 else {
    throw ctx.error("element type \(ctx.resultType(0).element) is not supported (f32, f64, i64, i32)")
  }
  guard problem.batchCount * problem.m * problem.n > 0 else { return }
  if element == .f32, GemmKernel.pays(problem, lanes: ctx.vectorLanes, bIsConstant: bConstant != nil) {
    try GemmKernel(ctx: ctx, problem: problem).emit(a: a, b: b, bConstant: bConstant, c: c, epilogue: epilogue)
    return
  }
  emitLoopMatMul(ctx, problem, element: element, a: a, b: b, c: c, epilogue: epilogue)
}

/// The simple kernel: for each row, C[m, :] = sum_k A[m, k] * B[k, :], the inner loop over n vectorized.
func emitLoopMatMul(
  _ ctx: LoweringContext, _ p: MatMulProblem, element: ScalarType, a: IRValue, b: IRValue, c: IRValue,
  epilogue: GemmEpilogue?
) {
  let k = ctx.k
  let extras = epilogue?.extras ?? []
  let rows = p.batch + [p.m]
  ctx.forEachIndex(rows, captures: [a, b, c] + extras, innerHints: LoopHints(vectorize: false)) { index, captured in
    let batchIndex = Array(index.dropLast())
    let row = index.last!
    let aRow = ctx.flatIndex(batchIndex, strides: p.aBatchStrides) + row * k.i64(Int64(p.aM))
    let bBase = ctx.flatIndex(batchIndex, strides: p.bBatchStrides)
    let cRow = ctx.flatIndex(batchIndex, strides: p.cBatchStrides) + row * k.i64(Int64(p.cM))
    let zero = k.constant(0, k.type(element))
    k.forLoop(from: k.i64(0), to: k.i64(Int64(p.n)), hints: LoopHints(vectorize: true)) { j in
      k.store(zero, element, to: captured[2], at: cRow + j)
    }
    k.forLoop(from: k.i64(0), to: k.i64(Int64(p.k)), hints: LoopHints(vectorize: false)) { kk in
      let av = k.load(element, from: captured[0], at: aRow + kk * k.i64(Int64(p.aK)))
      let bRow = bBase + kk * k.i64(Int64(p.bK))
      k.forLoop(from: k.i64(0), to: k.i64(Int64(p.n)), hints: LoopHints(vectorize: true)) { j in
        let bv = k.load(element, from: captured[1], at: bRow + j * k.i64(Int64(p.bN)))
        let old = k.load(element, from: captured[2], at: cRow + j)
        k.store(element.isFloat ? k.mulAdd(av, bv, old) : av * bv + old, element, to: captured[2], at: cRow + j)
      }
    }
    if let epilogue {
      k.forLoop(from: k.i64(0), to: k.i64(Int64(p.n)), hints: LoopHints(vectorize: true)) { j in
        let acc = k.load(element, from: captured[2], at: cRow + j)
        let value = epilogue.apply(k, acc, batchIndex, row, j, nil, Array(captured[3...]))
        k.store(value, element, to: captured[2], at: cRow + j)
      }
    }
  }
}
