/// Shape-math sources: Shape, Size, Range, ConstantOfShape, NonZero. Shape and Size fold from the operand's
/// type alone (`foldsFromTypes`), which is what turns exporters' Shape -> Gather -> Concat chains into
/// constants. `Constant` nodes never reach the IR: the frontend turns them into graph constants.
let shapeOps: [OpSchema] = [
  shape.with(elementDims: ElementDimsRules.shape), size.with(elementDims: ElementDimsRules.size),
  range.with(elementDims: rangeElements), constantOfShape.with(elementDims: constantOfShapeElements), nonZero,
]

/// Shape: the dims [start, end) of the input as i64; start and end count from the back when negative and
/// clamp to [0, rank].
private let shape = OpSchema(
  "Shape", operands: [.required("data")],
  attributes: [AttributeSpec("start", .int, default: .int(0)), AttributeSpec("end", .int)],
  inferTypes: { ctx throws(Diagnostic) in [TensorType(.i64, shape: [try shapeRange(ctx).count])] },
  fold: { ctx throws(Diagnostic) in
    let x = try ctx.type(0)
    let dims = x.dims[try shapeRange(ctx)]
    let values = dims.compactMap(\.value)
    guard values.count == dims.count else {
      throw ctx.error(.unknownShape, "Shape of \(x) has symbolic dims in \(Array(dims))")
    }
    return [TensorData(int64s: values.map(Int64.init))]
  },
  foldsFromTypes: true)

private func shapeRange(_ ctx: OpContext) throws(Diagnostic) -> Range<Int> {
  let rank = try ctx.type(0).rank
  func clamp(_ v: Int) -> Int { min(max(v < 0 ? v + rank : v, 0), rank) }
  let start = clamp(try ctx.int("start"))
  let end = clamp(try ctx.optionalInt("end") ?? rank)
  return start..<max(start, end)
}

/// Size: the element count as an i64 scalar.
private let size = OpSchema(
  "Size", operands: [.required("data")],
  inferTypes: { ctx throws(Diagnostic) in
    _ = try ctx.type(0)
    return [TensorType(.i64, [])]
  },
  fold: { ctx throws(Diagnostic) in
    [TensorData(int64s: [Int64(try ctx.staticShape(0).reduce(1, *))], shape: [])]
  },
  foldsFromTypes: true)

/// Range: [start, start + delta, ...) up to limit (exclusive); max(ceil((limit - start) / delta), 0) elements.
/// The length depends on the values, so the operands must be constants, or integers computed from shapes with
/// a constant delta (`Range(0, H, 1)` has H elements).
private let range = OpSchema(
  "Range", operands: [.required("start"), .required("limit"), .required("delta")],
  attributes: [AttributeSpec("stash_type", .int, default: .int(1))],
  inferTypes: { ctx throws(Diagnostic) in
    if let (element, count) = try symbolicRangeCount(ctx) { return [TensorType(element, [count])] }
    let (element, values) = try rangeValues(ctx)
    return [TensorType(element, shape: [values.count])]
  },
  fold: { ctx throws(Diagnostic) in
    let (element, values) = try rangeValues(ctx)
    return [TensorData(element, shape: [values.count], doubles: values)]
  })

/// The element count of an integer Range whose start or limit is known only as a dim; nil when all three
/// operands are constants (the values decide then).
private func symbolicRangeCount(_ ctx: OpContext) throws(Diagnostic) -> (ElementType, Dim)? {
  let element = try rangeElement(ctx)
  guard (0..<3).contains(where: { ctx.constant($0) == nil }) else { return nil }
  guard element == .i64 || element == .i32, let (start, limit, delta) = rangeOperands(ctx) else {
    throw ctx.error(
      .unsupportedFeature, "Range's length depends on its operands, which must be compile-time constants or integers computed from shapes")
  }
  guard let step = delta.value, step != 0, step != Int.min else {
    throw ctx.error(.unsupportedFeature, "Range delta \(delta) must be a nonzero constant to infer the length")
  }
  // ceil((limit - start) / delta), computed with a positive divisor.
  let span = step > 0 ? limit.expression.minus(start.expression) : start.expression.minus(limit.expression)
  let count = try ctx.dim(
    span?.ceilDivided(by: abs(step)).map { DimExpr.maximum($0, DimExpr(0)) }, "the length of Range(\(start), \(limit), \(delta))")
  return (element, count)
}

/// Range's three scalar operands as dims, when each is known (a constant or computed from shapes).
private func rangeOperands(_ ctx: OpContext) -> (Dim, Dim, Dim)? {
  var scalars: [Dim] = []
  for i in 0..<3 {
    guard let dims = ctx.elementDims(i), dims.count == 1 else { return nil }
    scalars.append(dims[0])
  }
  return (scalars[0], scalars[1], scalars[2])
}

/// Range's elements as dims when their count is a number: `start + i*delta`.
private let rangeElements: ElementDimsRule = { ctx throws(Diagnostic) in
  guard let (start, _, delta) = rangeOperands(ctx), let count = try symbolicRangeCount(ctx)?.1.value,
    count <= ElementDimsRules.limit
  else { throw ctx.error(.unknownShape, "Range elements are not known as dims") }
  return [try (0..<count).map { i throws(Diagnostic) in
    try ctx.dim(delta.expression.scaled(by: i).flatMap { start.expression.plus($0) }, "element \(i) of Range")
  }]
}

/// Range's element type, after checking that the operands are scalars of one type Range takes.
private func rangeElement(_ ctx: OpContext) throws(Diagnostic) -> ElementType {
  let element = try ctx.type(0).element
  let allowed: [ElementType] = [.f32, .f64, .f16, .bf16, .i16, .i32, .i64]
  guard allowed.contains(element) else { throw ctx.error(.typeMismatch, "Range does not take \(element)") }
  for i in 0..<3 {
    let t = try ctx.type(i)
    guard t.element == element else { throw ctx.error(.typeMismatch, "Range operands differ in element type") }
    // The spec says scalars; a one-element 1-D tensor is accepted too, as onnxruntime does.
    guard t.rank == 0 || t.dims == [.fixed(1)] else { throw ctx.error("Range \(ctx.operandName(i)) must be a scalar, got \(t)") }
  }
  return element
}

private func rangeValues(_ ctx: OpContext) throws(Diagnostic) -> (ElementType, [Double]) {
  let element = try rangeElement(ctx)
  var scalars: [Double] = []
  for i in 0..<3 { scalars.append(try ctx.requireConstant(i).element(at: 0)) }
  let (start, limit, delta) = (scalars[0], scalars[1], scalars[2])
  guard delta != 0 else { throw ctx.error(.badOperand, "Range delta is 0") }
  let count = ((limit - start) / delta).rounded(.up)
  guard count.isFinite || count < 0 else { throw ctx.error(.badOperand, "Range(\(start), \(limit), \(delta)) has no finite length") }
  guard count <= Double(maxFoldElements) else {
    throw ctx.error(.unsupportedFeature, "Range of \(count) elements is larger than ssmc supports (\(maxFoldElements))")
  }
  let n = count > 0 ? Int(count) : 0
  return (element, (0..<n).map { start + Double($0) * delta })
}

/// ConstantOfShape: a tensor of the constant shape filled with `value` (one element; default f32 0).
private let constantOfShape = OpSchema(
  "ConstantOfShape", operands: [.required("input")], attributes: [AttributeSpec("value", .tensor)],
  inferTypes: { ctx throws(Diagnostic) in
    let (dims, value) = try constantOfShapeGeometry(ctx)
    return [TensorType(value.element, dims)]
  },
  fold: { ctx throws(Diagnostic) in
    let (dims, value) = try constantOfShapeGeometry(ctx)
    guard let count = Dim.product(dims)?.constantValue, count <= maxFoldElements else {
      throw ctx.error(.unsupportedFeature, "ConstantOfShape \(dimsText(dims)) is too large to fold")
    }
    return [TensorData(value.element, shape: dims.compactMap(\.value), bytes: Array([[UInt8]](repeating: value.bytes, count: count).joined()))]
  })

/// The shape (constant or computed from shapes: `ConstantOfShape(Shape(x))`) and the fill value.
private func constantOfShapeGeometry(_ ctx: OpContext) throws(Diagnostic) -> ([Dim], TensorData) {
  let t = try ctx.type(0)
  guard t.element == .i64, t.rank == 1 else { throw ctx.error(.typeMismatch, "ConstantOfShape input must be 1-D i64, got \(t)") }
  let dims = try ctx.shapeOperand(0)
  guard dims.allSatisfy({ ($0.value ?? 0) >= 0 }) else { throw ctx.error("ConstantOfShape shape \(dimsText(dims)) has a negative dim") }
  var value = TensorData(floats: [0])
  switch ctx.attribute("value") {
  case .tensor(let v)?:
    guard v.count == 1 else { throw ctx.error(.badAttribute, "ConstantOfShape value must hold one element, got \(v.shape)") }
    value = v
  case nil: break
  default: throw ctx.error(.badAttribute, "ConstantOfShape value must be a tensor")
  }
  return (dims, value)
}

/// An integer list filled with one value: copies of it as dims (exporters build lists of ones this way).
private let constantOfShapeElements: ElementDimsRule = { ctx throws(Diagnostic) in
  let (dims, value) = try constantOfShapeGeometry(ctx)
  guard value.element == .i64 || value.element == .i32, dims.count <= 1, let count = Dim.product(dims)?.constantValue,
    count <= ElementDimsRules.limit
  else { throw ctx.error(.unknownShape, "only short integer lists are evaluated as dims") }
  return [Array(repeating: .fixed(value.ints[0]), count: count)]
}

/// NonZero: i64 indices [rank, count] of the nonzero elements. The count depends on the values, so only a
/// constant input has a shape; for other inputs the error says so.
private let nonZero = OpSchema(
  "NonZero", operands: [.required("X")],
  inferTypes: { ctx throws(Diagnostic) in [try nonZeroIndices(ctx).type] },
  fold: { ctx throws(Diagnostic) in [try nonZeroIndices(ctx)] })

private func nonZeroIndices(_ ctx: OpContext) throws(Diagnostic) -> TensorData {
  let t = try ctx.type(0)
  guard t.rank >= 1 else { throw ctx.error("NonZero needs an input of rank 1 or more, got \(t)") }
  guard let x = ctx.constant(0) else {
    throw ctx.error(.unsupportedFeature, "NonZero's output size depends on the values, so its input must be a constant")
  }
  var found: [[Int]] = []
  var flat = 0
  let values = x.doubles
  try forEachIndex(x.shape) { index throws(Diagnostic) in
    if values[flat] != 0 { found.append(index) }
    flat += 1
  }
  // Row k lists the k-th coordinate of every nonzero element.
  let rows = (0..<x.shape.count).flatMap { k in found.map { Int64($0[k]) } }
  return TensorData(int64s: rows, shape: [x.shape.count, found.count])
}
