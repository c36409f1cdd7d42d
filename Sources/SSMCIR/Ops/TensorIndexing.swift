/// Ops that select or add elements by index: Slice, Gather, GatherElements, Pad.
let indexingOps: [OpSchema] = [
  slice.with(samples: SampleRule.along { ctx throws(Diagnostic) in
    // At one sample the axis has one element, so a reversal or a [0:1] slice looks harmless there: only a
    // forward slice from 0 may touch it (the shape check at two samples then proves it takes them all).
    try sliceAxes(ctx.op).enumerated().filter { $0.element.start != 0 || $0.element.step != 1 }.map(\.offset)
  }.shapes([1, 2, 3, 4])).with(elementDims: ElementDimsRules.slice),
  gather.with(samples: gatherSamples).with(elementDims: ElementDimsRules.gather),
  gatherElements.with(samples: .alongAttribute("axis", operands: [0, 1])),
  pad.with(samples: SampleRule.along { ctx throws(Diagnostic) in
    let rank = ctx.rank(0)
    let pads = try ctx.op.constantInts(1)
    let axes = try ctx.op.normalizedAxes(ctx.op.optionalConstantInts(3) ?? Array(0..<rank), rank: rank)
    return axes.enumerated().filter { k, _ in pads[k] != 0 || pads[k + axes.count] != 0 }.map(\.element)
  }.shapes([1])),
]

/// Gather keeps samples apart when the data's sample axis is not the gathered one (it shifts by the indices'
/// rank), or when only the indices vary per sample (an embedding lookup).
private let gatherSamples = SampleRule { ctx throws(Diagnostic) in
  let axis = try ctx.op.axis(ctx.op.int("axis"), rank: ctx.rank(0))
  switch (ctx.axis(0), ctx.axis(1)) {
  case (nil, nil): return [nil]
  case (let data?, nil):
    if data == axis { throw ctx.mixes("it gathers along the sample axis \(data)") }
    return [data < axis ? data : data + ctx.rank(1) - 1]
  case (nil, let indices?): return [axis + indices]
  case (_?, _?): throw ctx.mixes("both its data and its indices vary per sample")
  }
}

/// One sliced axis after ONNX's clamping: the first element taken, the step, and how many are taken.
/// A symbolic axis reversed whole has start -1, meaning its last element.
public struct SliceAxis: Sendable, Hashable {
  public var start: Int
  public var step: Int
  public var count: Dim

  /// Elements between taken elements, for an axis whose elements are `stride` apart in the data; 0 when at
  /// most one is taken, since such a step (e.g. INT64_MIN) is never applied and may not fit when scaled.
  public func elementStride(_ stride: Int) -> Int { count.value ?? 0 > 1 ? step * stride : 0 }
}

/// Slice (opset 13 form): constant starts/ends/axes/steps inputs; negative values count from the end;
/// starts/ends clamp to [0, dim] for positive steps and [-1, dim-1] for negative ones.
private let slice = OpSchema(
  "Slice",
  operands: [.required("data"), .required("starts"), .required("ends"), .optional("axes"), .optional("steps")],
  inferTypes: { ctx throws(Diagnostic) in
    let x = try ctx.type(0)
    return [x.with(dims: try sliceAxes(ctx).map(\.count))]
  },
  fold: { ctx throws(Diagnostic) in
    let data = try ctx.requireConstant(0)
    let axes = try sliceAxes(ctx)
    let strides = rowMajorStrides(data.shape)
    let base = zip(axes, strides).reduce(0) { $0 + $1.0.start * $1.1 }
    return [try data.strided(to: axes.compactMap(\.count.value), base: base, strides: zip(axes, strides).map { $0.elementStride($1) })]
  })

/// The slice of every axis of the data (untouched axes take everything).
public func sliceAxes(_ ctx: OpContext) throws(Diagnostic) -> [SliceAxis] {
  let x = try ctx.type(0)
  // Starts and ends may be computed from symbolic shapes (`x[:, :n]` with n from a Shape).
  let starts = try ctx.shapeOperand(1)
  let ends = try ctx.shapeOperand(2)
  let axes = try ctx.normalizedAxes(ctx.optionalConstantInts(3) ?? Array(0..<starts.count), rank: x.rank)
  let steps = try ctx.optionalConstantInts(4) ?? Array(repeating: 1, count: starts.count)
  guard ends.count == starts.count, axes.count == starts.count, steps.count == starts.count else {
    throw ctx.error("Slice starts, ends, axes and steps must have equal lengths: \(dimsText(starts)), \(dimsText(ends)), \(axes), \(steps)")
  }
  var result = x.dims.map { SliceAxis(start: 0, step: 1, count: $0) }
  for (k, axis) in axes.enumerated() {
    let step = steps[k]
    guard step != 0 else { throw ctx.error("Slice step for axis \(axis) is 0") }
    guard let start = starts[k].value, let end = ends[k].value else {
      // Bounds known only as dims: their count is symbolic (the start is worked out once they are fixed).
      let count = symbolicSliceCount(x.dims[axis].expression, start: starts[k].expression, end: ends[k].expression, step: step)
      guard let count else {
        throw ctx.error(.unknownShape, "cannot slice \(x.dims[axis]) with the symbolic bounds [\(starts[k]):\(ends[k]):\(step)]")
      }
      result[axis] = SliceAxis(start: 0, step: step, count: Dim(count))
      continue
    }
    guard let d = x.dims[axis].value else {
      // A slice that takes all of a symbolic dim, in order, keeps it as it is.
      let big = Int(Int32.max)
      if step == 1 && (start == 0 || start <= -big) && end >= big { continue }
      if step == -1 && (start == -1 || start >= big) && end <= -big {
        result[axis] = SliceAxis(start: -1, step: -1, count: x.dims[axis])  // start -1: the last element
        continue
      }
      // Any other slice of it has a symbolic count; its start is worked out once the dim is fixed.
      let count = symbolicSliceCount(x.dims[axis].expression, start: start, end: end, step: step)
      result[axis] = SliceAxis(start: 0, step: step, count: try ctx.dim(count, "the slice [\(start):\(end):\(step)] of \(x.dims[axis])"))
      continue
    }
    var s = start < 0 ? start + d : start
    var e = end < 0 ? end + d : end
    var count = 0
    if d > 0 && step > 0 {
      s = min(max(s, 0), d)
      e = min(max(e, 0), d)
      count = e > s ? (e - s - 1) / step + 1 : 0
    } else if d > 0 {
      s = min(max(s, 0), d - 1)
      e = min(max(e, -1), d - 1)
      count = s > e ? Int(UInt(s - e - 1) / step.magnitude) + 1 : 0
    }
    result[axis] = SliceAxis(start: count > 0 ? s : 0, step: step, count: .fixed(count))
  }
  return result
}

/// The element count of `[start:end:step]` over `d` when the bounds are symbolic: a forward slice whose bounds
/// cannot be negative (they count from the front), clamped to [0, d]; nil for any other.
private func symbolicSliceCount(_ d: DimExpr, start: DimExpr, end: DimExpr, step: Int) -> DimExpr? {
  let zero = DimExpr(0)
  guard step > 0, (start.bounds.lower ?? -1) >= 0, (end.bounds.lower ?? -1) >= 0 else { return nil }
  let (s, e) = (DimExpr.minimum(start, d), DimExpr.minimum(end, d))
  return e.minus(s)?.ceilDivided(by: step).map { .maximum($0, zero) }
}

/// The element count of `[start:end:step]` over a symbolic size `d`, with the clamping the static path does.
private func symbolicSliceCount(_ d: DimExpr, start: Int, end: Int, step: Int) -> DimExpr? {
  let big = Int(Int32.max)
  let zero = DimExpr(0)
  // A position from the front or the back, clamped to [low, d + highOffset].
  func position(_ p: Int, low: DimExpr, highOffset: Int) -> DimExpr? {
    guard let high = d.plus(highOffset) else { return nil }
    if p >= big { return high }
    if p <= -big { return low }
    guard let raw = p < 0 ? d.plus(p) : DimExpr(p) else { return nil }
    return .minimum(.maximum(raw, low), high)
  }
  if step > 0 {
    // The common forms directly, so they stay simple: a tail [s:] and a head [:e].
    if end >= big {
      let from = start <= -big ? 0 : start
      let tail = from < 0 ? DimExpr.minimum(d, DimExpr(-from)) : d.minus(DimExpr(from)).map { .maximum($0, zero) }
      return tail?.ceilDivided(by: step)
    }
    if start == 0 || start <= -big {
      let head = end < 0 ? d.plus(end).map { .maximum($0, zero) } : DimExpr.minimum(d, DimExpr(end))
      return head?.ceilDivided(by: step)
    }
    guard let s = position(start, low: zero, highOffset: 0), let e = position(end, low: zero, highOffset: 0) else { return nil }
    return e.minus(s)?.ceilDivided(by: step).map { .maximum($0, zero) }
  }
  guard let s = position(start, low: zero, highOffset: -1), let e = position(end, low: DimExpr(-1), highOffset: -1) else { return nil }
  return s.minus(e)?.ceilDivided(by: Int(exactly: step.magnitude) ?? big).map { .maximum($0, zero) }
}

/// Gather along `axis`: output dims are data[..<axis] + indices + data[axis+1...]; indices may be negative.
private let gather = OpSchema(
  "Gather", operands: [.required("data"), .required("indices")], attributes: [AttributeSpec("axis", .int, default: .int(0))],
  inferTypes: { ctx throws(Diagnostic) in
    let (x, i) = (try ctx.type(0), try ctx.type(1))
    try requireIndexType(ctx, 1)
    let axis = try ctx.normalizedAxes([ctx.int("axis")], rank: x.rank, what: "axis")[0]
    // Indices known now must be in range (the spec makes any other an error; at run time they are clamped).
    if let indices = ctx.constants[1], let size = x.dims[axis].value { _ = try checkedIndices(ctx, indices.ints, size: size) }
    return [x.with(dims: Array(x.dims[..<axis]) + i.dims + Array(x.dims[(axis + 1)...]))]
  },
  fold: { ctx throws(Diagnostic) in
    let data = try ctx.requireConstant(0)
    let indices = try ctx.requireConstant(1)
    let axis = try ctx.normalizedAxes([ctx.int("axis")], rank: data.shape.count, what: "axis")[0]
    let size = data.shape[axis]
    let positions = try checkedIndices(ctx, indices.ints, size: size)
    let strides = rowMajorStrides(data.shape)
    let indexStrides = rowMajorStrides(indices.shape)
    let r = indices.shape.count
    let shape = Array(data.shape[..<axis]) + indices.shape + Array(data.shape[(axis + 1)...])
    return [try data.remapped(to: shape) { index in
      var flat = 0
      for k in 0..<axis { flat += index[k] * strides[k] }
      var which = 0
      for k in 0..<r { which += index[axis + k] * indexStrides[k] }
      flat += positions[which] * strides[axis]
      for k in (axis + 1)..<data.shape.count { flat += index[k + r - 1] * strides[k] }
      return flat
    }]
  })

/// GatherElements: out[i] = data[i with i[axis] replaced by indices[i]]; the output has the indices' shape.
private let gatherElements = OpSchema(
  "GatherElements", operands: [.required("data"), .required("indices")],
  attributes: [AttributeSpec("axis", .int, default: .int(0))],
  inferTypes: { ctx throws(Diagnostic) in
    let (x, i) = (try ctx.type(0), try ctx.type(1))
    try requireIndexType(ctx, 1)
    guard i.rank == x.rank else { throw ctx.error("indices \(i) must have the rank of data \(x)") }
    _ = try ctx.normalizedAxes([ctx.int("axis")], rank: x.rank, what: "axis")
    return [x.with(dims: i.dims)]
  },
  fold: { ctx throws(Diagnostic) in
    let data = try ctx.requireConstant(0)
    let indices = try ctx.requireConstant(1)
    let axis = try ctx.normalizedAxes([ctx.int("axis")], rank: data.shape.count, what: "axis")[0]
    let positions = try checkedIndices(ctx, indices.ints, size: data.shape[axis])
    let strides = rowMajorStrides(data.shape)
    var n = 0
    return [try data.remapped(to: indices.shape) { index throws(Diagnostic) in
      defer { n += 1 }
      var flat = 0
      for (k, i) in index.enumerated() {
        let at = k == axis ? positions[n] : i
        guard at < data.shape[k] else { throw ctx.error("indices shape \(indices.shape) exceeds data \(data.shape) on axis \(k)") }
        flat += at * strides[k]
      }
      return flat
    }]
  })

/// Index operands are i64, or i32 where the op's spec allows it.
func requireIndexType(_ ctx: OpContext, _ index: Int, allowInt32: Bool = true) throws(Diagnostic) {
  let t = try ctx.type(index)
  guard t.element == .i64 || (allowInt32 && t.element == .i32) else {
    throw ctx.error(.typeMismatch, "\(ctx.operandName(index)) must be \(allowInt32 ? "i32 or i64" : "i64"), got \(t)")
  }
}

/// Indices in [-size, size) made non-negative; anything else is an error, as in ONNX.
private func checkedIndices(_ ctx: OpContext, _ values: [Int], size: Int) throws(Diagnostic) -> [Int] {
  try values.map { v throws(Diagnostic) in
    guard v >= -size && v < size else { throw ctx.error(.badOperand, "index \(v) is out of range for an axis of size \(size)") }
    return v < 0 ? v + size : v
  }
}

/// Pad (opset 19+ form): pads [begin..., end...] for `axes` (default all), negative pads crop;
/// modes constant (with the optional constant_value), reflect, edge, wrap.
private let pad = OpSchema(
  "Pad", operands: [.required("data"), .required("pads"), .optional("constant_value"), .optional("axes")],
  attributes: [AttributeSpec("mode", .string, default: .string("constant"))],
  inferTypes: { ctx throws(Diagnostic) in
    let x = try ctx.type(0)
    return [x.with(dims: try padPlan(ctx).map(\.out))]
  },
  fold: { ctx throws(Diagnostic) in
    let data = try ctx.requireConstant(0)
    let plan = try padPlan(ctx)
    let mode = try ctx.string("mode") ?? "constant"
    let fill = ctx.has(2) ? try ctx.requireConstant(2).doubles.first ?? 0 : 0
    let strides = rowMajorStrides(data.shape)
    return [try data.remapped(to: plan.compactMap(\.out.value), fill: fill) { index in
      var flat = 0
      for (k, i) in index.enumerated() {
        guard let at = plan[k].source(i, mode: mode) else { return nil }
        flat += at * strides[k]
      }
      return flat
    }]
  })

/// How one axis is padded: the kept input range [low, high) after cropping, positive padding before it, output size.
struct PadAxis {
  var low: Int, high: Int, before: Int, out: Dim

  /// The input position output position `i` reads, or nil for the constant fill.
  func source(_ i: Int, mode: String) -> Int? {
    let n = high - low
    var q = i - before
    if q < 0 || q >= n {
      switch mode {
      case "edge": q = min(max(q, 0), n - 1)
      case "wrap": q = ((q % n) + n) % n
      case "reflect":
        let period = 2 * (n - 1)
        if period == 0 { q = 0 } else {
          q = ((q % period) + period) % period
          if q >= n { q = period - q }
        }
      default: return nil
      }
    }
    return low + q
  }
}

private func padPlan(_ ctx: OpContext) throws(Diagnostic) -> [PadAxis] {
  let x = try ctx.type(0)
  let mode = try ctx.string("mode") ?? "constant"
  guard ["constant", "reflect", "edge", "wrap"].contains(mode) else {
    throw ctx.error(.badAttribute, "Pad mode must be constant, reflect, edge or wrap, got \(mode)")
  }
  if ctx.has(2) {
    let v = try ctx.type(2)
    guard v.element == x.element, v.elementCount == 1 else {
      throw ctx.error(.typeMismatch, "constant_value must be one \(x.element) value, got \(v)")
    }
  }
  // Pads may be computed from symbolic shapes (padding H up to a multiple of a window size).
  let pads = try ctx.shapeOperand(1)
  guard pads.allSatisfy({ ($0.value ?? 0) > -(1 << 40) && ($0.value ?? 0) < 1 << 40 }) else {
    throw ctx.error("pads \(dimsText(pads)) are out of range")
  }
  let axes = try ctx.normalizedAxes(ctx.optionalConstantInts(3) ?? Array(0..<x.rank), rank: x.rank)
  guard pads.count == 2 * axes.count else {
    throw ctx.error("pads \(dimsText(pads)) must have 2 entries per padded axis (\(axes.count) axes)")
  }
  var plan = x.dims.map { PadAxis(low: 0, high: $0.value ?? 0, before: 0, out: $0) }
  for (k, axis) in axes.enumerated() {
    let (begin, end) = (pads[k], pads[k + axes.count])
    if begin == .fixed(0) && end == .fixed(0) { continue }
    guard let d = x.dims[axis].value, let begin = begin.value, let end = end.value else {
      // The output size is exact; the kept range and offsets are worked out once the dims are fixed.
      let out = try ctx.dim(Dim.sum([x.dims[axis], begin, end]), "\(x.dims[axis]) padded by (\(begin), \(end))")
      guard (out.expression.bounds.upper ?? 0) >= 0 else {
        throw ctx.error("pads (\(begin), \(end)) crop more than axis \(axis) of \(x) holds")
      }
      plan[axis] = PadAxis(low: 0, high: 0, before: 0, out: out)
      continue
    }
    let low = max(0, -begin)
    let high = d - max(0, -end)
    let out = try ctx.sum([d, begin, end])
    guard out >= 0, high >= low else { throw ctx.error("pads (\(begin), \(end)) crop more than axis \(axis) of \(x) holds") }
    if mode != "constant" && high == low && out > 0 {
      throw ctx.error("Pad mode \(mode) cannot pad the empty axis \(axis) of \(x)")
    }
    plan[axis] = PadAxis(low: low, high: high, before: max(0, begin), out: .fixed(out))
  }
  return plan
}
