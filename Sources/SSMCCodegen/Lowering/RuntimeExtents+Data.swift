import CLLVM
import SSMCIR

// Data-movement and shape ops over extents given at run time: each is a strided copy (or a fill) whose
// extents, strides and offsets are i64 values computed from the symbol values, following `RuntimeExtents+Lowering`.
// The static lowerings branch here when `hasRuntimeExtents`.

extension Lowerings {
  /// Data-movement and shape-math ops (this file).
  static let runtimeSizedData: Set<String> = [
    "Concat", "Slice", "Split", "Gather", "Pad", "Expand", "Tile", "Shape", "Size", "ConstantOfShape", "Range", "Identity",
  ]
}

/// `runtime` when the node has extents given at run time, else `fixed` (a static lowering left as it is).
func runtimeOr(_ runtime: @escaping @Sendable (LoweringContext) throws -> Void, _ fixed: @escaping Lowering) -> Lowering {
  { ctx in ctx.hasRuntimeExtents ? try runtime(ctx) : try fixed(ctx) }
}

extension LoweringContext {
  /// `dst[dstOffset + Σ i_d dstStrides_d] = src[srcOffset + Σ i_d srcStrides_d]` for every index of `extents`,
  /// all given as i64 values (strides in elements, possibly negative or 0).
  func runtimeStridedCopy(
    _ extents: [IRValue], scalar: ScalarType, from src: IRValue, offset srcOffset: IRValue, strides srcStrides: [IRValue],
    to dst: IRValue, offset dstOffset: IRValue, strides dstStrides: [IRValue]
  ) {
    let rank = extents.count
    let k = self.k
    forEachIndex(extents: extents, captures: [src, dst, srcOffset, dstOffset] + srcStrides + dstStrides) { index, c in
      let from = c[2] + self.flatIndex(index, runtimeStrides: Array(c[4..<(4 + rank)]))
      let to = c[3] + self.flatIndex(index, runtimeStrides: Array(c[(4 + rank)..<(4 + 2 * rank)]))
      k.store(k.load(scalar, from: c[0], at: from), scalar, to: c[1], at: to)
    }
  }

  /// Sets the `count` elements of `buffer` to the element at `value` (bits moved as `scalar`), or to `bits`.
  func runtimeFill(_ buffer: IRValue, count: IRValue, scalar: ScalarType, value: IRValue?, bits: Int64 = 0) {
    let k = self.k
    forEachIndex(extents: [count], captures: [buffer] + (value.map { [$0] } ?? [])) { i, c in
      let v = value != nil ? k.load(scalar, from: c[1], at: k.i64(0)) : k.constant(bits: bits, k.type(scalar))
      k.store(v, scalar, to: c[0], at: i[0])
    }
  }

  /// Element `index` of the integer operand `operand` as i64: the constant itself, or loaded at run time.
  func runtimeInt(_ operand: Int, at index: Int) throws(CodegenError) -> IRValue {
    if let data = constant(operand) { return k.i64(Int64(data.ints[index])) }
    let scalar = try scalar(operandType(operand).element)
    return k.convert(k.load(scalar, from: self.operand(operand), at: k.i64(Int64(index))), to: .i64)
  }
}

/// Concat: each operand is copied to its run of the result along the axis.
func lowerRuntimeConcat(_ ctx: LoweringContext) throws {
  let parts = ctx.node.operands.indices.filter { ctx.hasOperand($0) }.map { (ctx.operandType($0).dims, ctx.operand($0)) }
  try copyRuns(ctx, parts: parts, whole: (ctx.resultType(0).dims, ctx.results[0]), intoWhole: true)
}

/// Split: each result copies its run of the operand along the axis.
func lowerRuntimeSplit(_ ctx: LoweringContext) throws {
  let parts = ctx.results.indices.map { (ctx.resultType($0).dims, ctx.results[$0]) }
  try copyRuns(ctx, parts: parts, whole: (ctx.operandType(0).dims, ctx.operand(0)), intoWhole: false)
}

/// Copies each part to (`intoWhole`) or from its run of `whole` along the node's axis, the parts in order.
private func copyRuns(_ ctx: LoweringContext, parts: [([Dim], IRValue)], whole: ([Dim], IRValue), intoWhole: Bool) throws {
  let axis = try normalizedAxis(ctx)
  let scalar = try ctx.moveScalar(ctx.resultType(0).element)
  let wholeStrides = ctx.runtimeStrides(of: whole.0, over: whole.0)
  var start = ctx.k.i64(0)
  for (dims, data) in parts {
    let (run, runStrides) = ((data, ctx.k.i64(0), ctx.runtimeStrides(of: dims, over: dims)), (whole.1, start * wholeStrides[axis], wholeStrides))
    let (from, to) = intoWhole ? (run, runStrides) : (runStrides, run)
    ctx.runtimeStridedCopy(dims.map(ctx.extent), scalar: scalar, from: from.0, offset: from.1, strides: from.2, to: to.0, offset: to.1, strides: to.2)
    start = start + ctx.extent(dims[axis])
  }
}

/// Slice: the result's extents are its type's; each sliced axis's start is worked out at run time from the
/// starts operand and the axis extent, with ONNX's clamping ([0, d] for positive steps, [0, d-1] for negative).
func lowerRuntimeSlice(_ ctx: LoweringContext) throws {
  let dims = ctx.operandType(0).dims
  let out = ctx.resultType(0).dims
  let k = ctx.k
  let startCount = ctx.operandType(1).elementCount ?? 0
  let axes = ctx.constant(3).map { $0.ints.map { $0 < 0 ? $0 + dims.count : $0 } } ?? Array(0..<startCount)
  if ctx.hasOperand(3) && ctx.constant(3) == nil { throw ctx.error("axes must be a compile-time constant") }
  let steps = ctx.constant(4)?.ints ?? Array(repeating: 1, count: startCount)
  if ctx.hasOperand(4) && ctx.constant(4) == nil { throw ctx.error("steps must be a compile-time constant") }
  let strides = ctx.runtimeStrides(of: dims, over: dims)
  var offset = k.i64(0)
  var sourceStrides = strides
  for (n, axis) in axes.enumerated() {
    // A step of |step| >= d takes at most one element; bounding it keeps step * stride from overflowing.
    let step = Swift.min(Swift.max(steps[n], -Int(Int32.max)), Int(Int32.max))
    let d = ctx.extent(dims[axis])
    let raw = try ctx.runtimeInt(1, at: n)
    let wrapped = k.select(k.compare(.lt, raw, k.i64(0)), raw + d, raw)
    let high = step > 0 ? d : k.max(d - k.i64(1), k.i64(0))
    let start = k.min(k.max(wrapped, k.i64(0)), high)
    offset = offset + start * strides[axis]
    sourceStrides[axis] = strides[axis] * k.i64(Int64(step))
  }
  let scalar = try ctx.moveScalar(ctx.operandType(0).element)
  ctx.runtimeStridedCopy(
    out.map(ctx.extent), scalar: scalar, from: ctx.operand(0), offset: offset, strides: sourceStrides,
    to: ctx.results[0], offset: k.i64(0), strides: ctx.runtimeStrides(of: out, over: out))
}

/// Gather along any axis with indices read at run time (negative ones count from the end; out-of-range ones
/// are clamped, as the static lowering does, so a bad index cannot read outside the tensor).
func lowerRuntimeGather(_ ctx: LoweringContext) throws {
  let data = ctx.operandType(0).dims
  let axis = try normalizedAxis(ctx)
  let scalar = try ctx.moveScalar(ctx.operandType(0).element)
  let indexScalar = try ctx.scalar(ctx.operandType(1).element)
  if data[axis] == .fixed(0) && !ctx.operandType(1).dims.contains(.fixed(0)) {
    throw ctx.error("cannot gather from the empty axis \(axis) of \(dimsText(data))")
  }
  let outer = ctx.extentProduct(data[..<axis])
  let inner = ctx.extentProduct(data[(axis + 1)...])
  let count = ctx.extentProduct(ctx.operandType(1).dims)
  let k = ctx.k
  let captures = [ctx.operand(0), ctx.operand(1), ctx.results[0], ctx.extent(data[axis]), inner, count]
  ctx.forEachIndex(extents: [outer, count], captures: captures) { i, c in
    let (size, inner, count) = (c[3], c[4], c[5])
    let raw = k.convert(k.load(indexScalar, from: c[1], at: i[1]), to: .i64)
    let wrapped = k.select(k.compare(.lt, raw, k.i64(0)), raw + size, raw)
    let position = k.min(k.max(wrapped, k.i64(0)), k.max(size - k.i64(1), k.i64(0)))
    let source = (i[0] * size + position) * inner
    let dest = (i[0] * count + i[1]) * inner
    k.forLoop(from: k.i64(0), to: inner) { t in
      k.store(k.load(scalar, from: c[0], at: source + t), scalar, to: c[2], at: dest + t)
    }
  }
}

/// Expand: the result reads the operand with broadcast strides (0 along the axes it repeats).
func lowerRuntimeExpand(_ ctx: LoweringContext) throws {
  let out = ctx.resultType(0).dims
  let scalar = try ctx.moveScalar(ctx.operandType(0).element)
  ctx.runtimeStridedCopy(
    out.map(ctx.extent), scalar: scalar, from: ctx.operand(0), offset: ctx.k.i64(0),
    strides: ctx.runtimeStrides(of: ctx.operandType(0).dims, over: out),
    to: ctx.results[0], offset: ctx.k.i64(0), strides: ctx.runtimeStrides(of: out, over: out))
}

/// Tile: result dim j (r_j copies of d_j) is split into a repeat index (source stride 0) and the operand index.
func lowerRuntimeTile(_ ctx: LoweringContext) throws {
  let input = ctx.operandType(0).dims
  let out = ctx.resultType(0).dims
  let k = ctx.k
  let inStrides = ctx.runtimeStrides(of: input, over: input)
  let outStrides = ctx.runtimeStrides(of: out, over: out)
  var extents: [IRValue] = []
  var source: [IRValue] = []
  var dest: [IRValue] = []
  for (j, dim) in input.enumerated() {
    let d = ctx.extent(dim)
    // An empty operand dim gives an empty result dim: no repeats (and no division by zero).
    let repeats = ctx.extent(out[j]) / k.max(d, k.i64(1))
    extents += [repeats, d]
    source += [k.i64(0), inStrides[j]]
    dest += [d * outStrides[j], outStrides[j]]
  }
  let scalar = try ctx.moveScalar(ctx.operandType(0).element)
  ctx.runtimeStridedCopy(
    extents, scalar: scalar, from: ctx.operand(0), offset: k.i64(0), strides: source, to: ctx.results[0], offset: k.i64(0), strides: dest)
}

/// Shape: the operand's extents [start, end) as i64.
func lowerRuntimeShape(_ ctx: LoweringContext) throws {
  let dims = ctx.operandType(0).dims
  let rank = dims.count
  func clamp(_ v: Int) -> Int { Swift.min(Swift.max(v < 0 ? v + rank : v, 0), rank) }
  let start = clamp(try ctx.op.int("start"))
  let end = Swift.max(start, clamp(try ctx.op.optionalInt("end") ?? rank))
  for (slot, dim) in dims[start..<end].enumerated() {
    ctx.k.store(ctx.extent(dim), .i64, to: ctx.results[0], at: ctx.k.i64(Int64(slot)))
  }
}

/// Size: the operand's element count as an i64 scalar.
func lowerRuntimeSize(_ ctx: LoweringContext) throws {
  ctx.k.store(ctx.extentProduct(ctx.operandType(0).dims), .i64, to: ctx.results[0], at: ctx.k.i64(0))
}

/// ConstantOfShape: the result (extents of its type) filled with the `value` attribute's bits (0 when absent).
func lowerRuntimeConstantOfShape(_ ctx: LoweringContext) throws {
  let type = ctx.resultType(0)
  let scalar = try ctx.moveScalar(type.element)
  var bits: Int64 = 0
  if case .tensor(let value)? = ctx.op.attribute("value") {
    for (shift, byte) in value.bytes.prefix(type.element.byteSize).enumerated() { bits |= Int64(byte) << (8 * shift) }
  }
  ctx.runtimeFill(ctx.results[0], count: ctx.extentProduct(type.dims), scalar: scalar, value: nil, bits: bits)
}

/// Range over integers whose length is given at run time: element i is start + i * delta.
func lowerRuntimeRange(_ ctx: LoweringContext) throws {
  let type = ctx.resultType(0)
  guard type.element == .i64 || type.element == .i32, type.rank == 1 else {
    throw ctx.error("with run-time extents, Range takes i64 or i32 operands, got \(type)")
  }
  let scalar = try ctx.scalar(type.element)
  let (start, delta) = (try ctx.runtimeInt(0, at: 0), try ctx.runtimeInt(2, at: 0))
  let k = ctx.k
  ctx.forEachIndex(extents: [ctx.extent(type.dims[0])], captures: [ctx.results[0], start, delta]) { i, c in
    k.store(k.convert(c[1] + i[0] * c[2], to: scalar), scalar, to: c[0], at: i[0])
  }
}

/// Pad with constant pads: constant mode fills the result and copies the kept operand into it; reflect, edge
/// and wrap map every result index to the operand index it reads.
func lowerRuntimePad(_ ctx: LoweringContext) throws {
  let dims = ctx.operandType(0).dims
  let out = ctx.resultType(0).dims
  let mode = try ctx.op.string("mode") ?? "constant"
  guard ["constant", "reflect", "edge", "wrap"].contains(mode) else { throw ctx.error("unknown mode \(mode)") }
  let pads = try ctx.requireConstant(1, what: "pads").ints
  let rank = dims.count
  let axes = try padAxes(ctx, rank: rank)
  let k = ctx.k
  // Per axis: positions cropped from the front and the back, and padding put before.
  var (cropFront, cropBack, before) = (Array(repeating: 0, count: rank), Array(repeating: 0, count: rank), Array(repeating: 0, count: rank))
  for (n, axis) in axes.enumerated() {
    (cropFront[axis], cropBack[axis], before[axis]) = (Swift.max(0, -pads[n]), Swift.max(0, -pads[n + axes.count]), Swift.max(0, pads[n]))
  }
  let kept = (0..<rank).map { k.max(ctx.extent(dims[$0]) - k.i64(Int64(cropFront[$0] + cropBack[$0])), k.i64(0)) }
  let inStrides = ctx.runtimeStrides(of: dims, over: dims)
  let outStrides = ctx.runtimeStrides(of: out, over: out)
  let scalar = try ctx.moveScalar(ctx.operandType(0).element)
  let dot = { (values: [Int], strides: [IRValue]) in zip(values, strides).reduce(k.i64(0)) { $0 + k.i64(Int64($1.0)) * $1.1 } }
  if mode == "constant" {
    ctx.runtimeFill(ctx.results[0], count: ctx.extentProduct(out), scalar: scalar, value: ctx.hasOperand(2) ? ctx.operand(2) : nil)
    ctx.runtimeStridedCopy(
      kept, scalar: scalar, from: ctx.operand(0), offset: dot(cropFront, inStrides), strides: inStrides,
      to: ctx.results[0], offset: dot(before, outStrides), strides: outStrides)
    return
  }
  // The other modes read inside the kept range, which must not be empty where the result is not.
  for axis in 0..<rank where out[axis] != .fixed(0) {
    if let d = dims[axis].value, d - cropFront[axis] - cropBack[axis] <= 0 {
      throw ctx.error("mode \(mode) cannot pad the empty axis \(axis) of \(dimsText(dims))")
    }
    if dims[axis].value == nil && cropFront[axis] + cropBack[axis] > 0 {
      throw ctx.error("mode \(mode) with negative pads on axis \(axis) of \(dimsText(dims)), whose extent is given at run time, is not supported")
    }
  }
  let captures = [ctx.operand(0), ctx.results[0]] + kept + inStrides + outStrides
  ctx.forEachIndex(extents: out.map(ctx.extent), captures: captures) { i, c in
    var source = k.i64(0)
    var dest = k.i64(0)
    for axis in 0..<rank {
      let n = c[2 + axis]
      let q = padSourcePosition(k, i[axis] - k.i64(Int64(before[axis])), count: n, mode: mode)
      source = source + (q + k.i64(Int64(cropFront[axis]))) * c[2 + rank + axis]
      dest = dest + i[axis] * c[2 + 2 * rank + axis]
    }
    k.store(k.load(scalar, from: c[0], at: source), scalar, to: c[1], at: dest)
  }
}

/// The kept-range position that padded position `q` (relative to the kept range's start) reads, for a kept
/// range of `n` >= 1 elements given at run time.
private func padSourcePosition(_ k: KernelBuilder, _ q: IRValue, count n: IRValue, mode: String) -> IRValue {
  func positiveModulo(_ x: IRValue, _ m: IRValue) -> IRValue { (x % m + m) % m }
  switch mode {
  case "edge":
    return k.min(k.max(q, k.i64(0)), n - k.i64(1))
  case "wrap":
    return positiveModulo(q, n)
  default:  // reflect: mirror without repeating the edge, period 2(n - 1); one element reads itself
    let period = k.max((n - k.i64(1)) * k.i64(2), k.i64(1))
    let r = positiveModulo(q, period)
    return k.select(k.compare(.ge, r, n), period - r, r)
  }
}

/// Whether a Slice's starts and ends are known at compile time (constants or static dims). When they are
/// computed from extents given at run time, `sliceAxes` has no start for them, even if every type is static.
func sliceBoundsAreStatic(_ op: OpContext) -> Bool {
  guard let starts = try? op.shapeOperand(1), let ends = try? op.shapeOperand(2) else { return false }
  return (starts + ends).allSatisfy { $0.value != nil }
}

/// Pad's axes operand (constant, counted from the back when negative), or every axis when absent.
func padAxes(_ ctx: LoweringContext, rank: Int) throws(CodegenError) -> [Int] {
  if let given = ctx.constant(3)?.ints { return given.map { $0 < 0 ? $0 + rank : $0 } }
  if ctx.hasOperand(3) { throw ctx.error("axes must be a compile-time constant") }
  return Array(0..<rank)
}
