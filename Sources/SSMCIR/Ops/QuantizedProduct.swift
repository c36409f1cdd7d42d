/// Integer products of quantized tensors: MatMulInteger and ConvInteger (exact i32 results) and QLinearMatMul
/// and QLinearConv (the i32 accumulator requantized to the output's scale and zero point).
let quantizedProductOps: [OpSchema] = [
  matMulInteger.with(samples: quantizedMatMulSamples(a: 0, b: 1)), qLinearMatMul.with(samples: quantizedMatMulSamples(a: 0, b: 3)),
  convInteger.with(samples: .leading()), qLinearConv.with(samples: .leading()),
]

/// MatMul's sample rule applied to the two matrices; their scales and zero points must not vary per sample.
private func quantizedMatMulSamples(a: Int, b: Int) -> SampleRule {
  SampleRule { ctx throws(Diagnostic) in
    try ctx.requireOnlyBatched([a, b])
    guard let rule = linalgOps.first(where: { $0.name == "MatMul" })?.samples else { return [nil] }
    var op = ctx.op
    op.operandTypes = [op.operandTypes[a], op.operandTypes[b]]
    op.constants = [op.constant(a), op.constant(b)]
    return try rule.results(
      SampleContext(op: op, operandAxes: [ctx.axis(a), ctx.axis(b)], resultShapes: ctx.resultShapes, resultShapesAtTwo: ctx.resultShapesAtTwo))
  }
}

/// MatMulInteger: (A - a_zero_point) x (B - b_zero_point) as numpy.matmul, accumulated in i32.
private let matMulInteger = OpSchema(
  "MatMulInteger", operands: [.required("A"), .required("B"), .optional("a_zero_point"), .optional("b_zero_point")],
  inferTypes: { ctx throws(Diagnostic) in
    try ctx.requireSameElement([2], as: 0)
    try ctx.requireSameElement([3], as: 1)
    let dims = try matMulDims(ctx, a: 0, b: 1)
    if ctx.has(2) { try checkMatrixParameter(ctx, parameter: 2, matrix: 0, rows: true) }
    if ctx.has(3) { try checkMatrixParameter(ctx, parameter: 3, matrix: 1, rows: false) }
    return [TensorType(.i32, dims)]
  })

/// QLinearMatMul: a, b with their scales and zero points (per tensor, per row of a, per column of b), y in
/// y_zero_point's type with a per-tensor scale.
private let qLinearMatMul = OpSchema(
  "QLinearMatMul",
  operands: [
    .required("a"), .required("a_scale"), .required("a_zero_point"), .required("b"), .required("b_scale"),
    .required("b_zero_point"), .required("y_scale"), .required("y_zero_point"),
  ],
  inferTypes: { ctx throws(Diagnostic) in
    try ctx.requireSameElement([2], as: 0)
    try ctx.requireSameElement([5], as: 3)
    try ctx.requireSameElement([4, 6], as: 1)
    let dims = try matMulDims(ctx, a: 0, b: 3)
    for (parameter, matrix, rows) in [(1, 0, true), (2, 0, true), (4, 3, false), (5, 3, false)] {
      try checkMatrixParameter(ctx, parameter: parameter, matrix: matrix, rows: rows)
    }
    try requireSingle(ctx, [6, 7])
    return [TensorType(try ctx.type(7).element, dims)]
  })

/// ConvInteger: Conv of (x - x_zero_point) and (w - w_zero_point) (per tensor or per output channel), in i32.
private let convInteger = OpSchema(
  "ConvInteger", operands: [.required("x"), .required("w"), .optional("x_zero_point"), .optional("w_zero_point")],
  attributes: convAttributes,
  inferTypes: { ctx throws(Diagnostic) in
    try ctx.requireSameElement([2], as: 0)
    try ctx.requireSameElement([3], as: 1)
    let (x, w) = (try ctx.type(0), try ctx.type(1))
    let windows = try convWindows(ctx, x: 0, w: 1)
    if ctx.has(2) { try requireSingle(ctx, [2]) }
    if ctx.has(3) { try requirePerChannel(ctx, [3], channels: w.dims[0]) }
    return [TensorType(.i32, [x.dims[0], w.dims[0]] + windows.map(\.output))]
  })

/// QLinearConv: x, w with scales and zero points (w's per output channel allowed), optional i32 bias B
/// (scale x_scale * w_scale, zero point 0), y in y_zero_point's type.
private let qLinearConv = OpSchema(
  "QLinearConv",
  operands: [
    .required("x"), .required("x_scale"), .required("x_zero_point"), .required("w"), .required("w_scale"),
    .required("w_zero_point"), .required("y_scale"), .required("y_zero_point"), .optional("B"),
  ],
  attributes: convAttributes,
  inferTypes: { ctx throws(Diagnostic) in
    try ctx.requireSameElement([2], as: 0)
    try ctx.requireSameElement([5], as: 3)
    try ctx.requireSameElement([4, 6], as: 1)
    let (x, w) = (try ctx.type(0), try ctx.type(3))
    let windows = try convWindows(ctx, x: 0, w: 3)
    try requireSingle(ctx, [1, 2, 6, 7])
    try requirePerChannel(ctx, [4, 5], channels: w.dims[0])
    if ctx.has(8) {
      let b = try ctx.type(8, rank: 1)
      guard b.element == .i32, unifyDims(b.dims[0], w.dims[0]) != nil else {
        throw ctx.error("bias \(b) must be i32 with W's \(w.dims[0]) output channels")
      }
    }
    return [TensorType(try ctx.type(7).element, [x.dims[0], w.dims[0]] + windows.map(\.output))]
  })

/// Operands that must hold one value (rank 0, or any rank with one element).
private func requireSingle(_ ctx: OpContext, _ indices: [Int]) throws(Diagnostic) {
  for i in indices {
    let t = try ctx.type(i)
    guard t.elementCount == 1 else { throw ctx.error("\(ctx.operandName(i)) must hold one value (per tensor), got \(t)") }
  }
}

/// Operands that hold one value or one per output channel (1-D).
private func requirePerChannel(_ ctx: OpContext, _ indices: [Int], channels: Dim) throws(Diagnostic) {
  for i in indices {
    let t = try ctx.type(i)
    if t.elementCount == 1 { continue }
    guard t.rank == 1, unifyDims(t.dims[0], channels) != nil else {
      throw ctx.error("\(ctx.operandName(i)) must be a scalar or 1-D with \(channels) output channels, got \(t)")
    }
  }
}

/// Where a matmul operand's quantization parameter is read for each result index: the parameter's element
/// strides over the result's batch dims (right-aligned, 0 where it broadcasts) and over the row (for A's
/// parameters) or the column (for B's). A parameter is a scalar, a 1-D vector of A's rows (B's columns), or
/// an N-D tensor shaped like the matrix with 1 in the contracted dim ([..., M, 1] for A, [..., 1, N] for B).
public struct MatrixParameterStrides: Sendable, Equatable {
  public var batch: [Int]
  public var line: Int
}

/// The strides of parameter operand `parameter` of matrix operand `matrix` (rows: A's per-row parameters,
/// else B's per-column ones); needs static shapes.
public func matrixParameterStrides(
  _ ctx: OpContext, parameter: Int, matrix: Int, rows: Bool
) throws(Diagnostic) -> MatrixParameterStrides {
  let (p, m) = (try ctx.type(parameter), try ctx.type(matrix))
  guard let ps = p.staticShape, let ms = m.staticShape else {
    throw ctx.error(.unknownShape, "\(ctx.operandName(parameter)) \(p) and \(ctx.operandName(matrix)) \(m) need static shapes")
  }
  let full = m.rank == 1 ? (rows ? [1] + ms : ms + [1]) : ms
  let batchRank = full.count - 2
  let lines = rows ? full[full.count - 2] : full[full.count - 1]
  if ps.reduce(1, *) == 1 { return MatrixParameterStrides(batch: Array(repeating: 0, count: batchRank), line: 0) }
  if ps.count == 1 && ps[0] == lines {
    return MatrixParameterStrides(batch: Array(repeating: 0, count: batchRank), line: 1)
  }
  let want = rows ? [lines, 1] : [1, lines]
  guard ps.count == full.count, Array(ps.suffix(2)) == want,
    zip(ps.prefix(batchRank), full.prefix(batchRank)).allSatisfy({ $0 == 1 || $0 == $1 })
  else {
    throw ctx.error(
      "\(ctx.operandName(parameter)) \(p) must be a scalar, \(lines) values or shaped [..., \(want.map(String.init).joined(separator: ", "))] for \(ctx.operandName(matrix)) \(m)")
  }
  let strides = rowMajorStrides(ps)
  let batch = (0..<batchRank).map { ps[$0] == 1 ? 0 : strides[$0] }
  return MatrixParameterStrides(batch: batch, line: rows ? strides[batchRank] : 1)
}

/// Checks a matmul parameter's shape once the shapes are static (symbolic batch dims wait for specialization).
private func checkMatrixParameter(_ ctx: OpContext, parameter: Int, matrix: Int, rows: Bool) throws(Diagnostic) {
  guard try ctx.type(parameter).isStatic, try ctx.type(matrix).isStatic else { return }
  _ = try matrixParameterStrides(ctx, parameter: parameter, matrix: matrix, rows: rows)
}
