import Foundation

/// Reductions (ONNX opset 18+ form: `axes` is an optional input), ArgMax/ArgMin, CumSum/CumProd,
/// Softmax/LogSoftmax/Hardmax.
/// Folders evaluate in Double and round to the element type, enough for shape math and small weights.
let reductionOps: [OpSchema] = [
  reduce("ReduceSum").with(elementDims: reducedList { $0.plus($1) }),
  reduce("ReduceMean", finish: { s, n in s / Double(n) }),
  reduce("ReduceMax", empty: -.infinity, combine: nanPropagating(max)).with(elementDims: reducedList { .maximum($0, $1) }),
  reduce("ReduceMin", empty: .infinity, combine: nanPropagating(min)).with(elementDims: reducedList { .minimum($0, $1) }),
  reduce("ReduceProd", empty: 1, combine: *).with(elementDims: reducedList { $0.times($1) }),
  reduce("ReduceL1", prepare: { abs($0) }),
  reduce("ReduceL2", prepare: { $0 * $0 }, finish: { s, _ in s.squareRoot() }),
  reduce("ReduceSumSquare", prepare: { $0 * $0 }),
  reduce("ReduceLogSum", finish: { s, _ in log(s) }),
  reduce("ReduceLogSumExp", prepare: { exp($0) }, finish: { s, _ in log(s) }),
].map { $0.with(samples: reductionSamples { ctx throws(Diagnostic) in try reducedAxes(ctx) ?? [] }) } + [
  argReduce("ArgMax") { $0 > $1 }, argReduce("ArgMin") { $0 < $1 },
].map { $0.with(samples: reductionSamples { ctx throws(Diagnostic) in [try ctx.axis(ctx.int("axis"), rank: ctx.type(0).rank)] }) } + [
  cumulative("CumSum", identity: 0, +).with(samples: .along { ctx throws(Diagnostic) in [try cumSumAxis(ctx.op, rank: ctx.rank(0))] }),
  cumulative("CumProd", identity: 1, *).with(samples: .along { ctx throws(Diagnostic) in [try cumSumAxis(ctx.op, rank: ctx.rank(0))] }),
  softmax("Softmax").with(samples: .alongAttribute("axis")), softmax("LogSoftmax").with(samples: .alongAttribute("axis")),
  softmax("Hardmax").with(samples: .alongAttribute("axis")),
]

/// A reduction keeps samples apart when it does not reduce the sample axis, which then moves left past the
/// reduced axes unless they are kept.
private func reductionSamples(_ reduced: @escaping @Sendable (OpContext) throws(Diagnostic) -> [Int]) -> SampleRule {
  SampleRule { ctx throws(Diagnostic) in
    try ctx.requireOnlyBatched([0])
    guard let axis = ctx.axis(0) else { return [nil] }
    let axes = try reduced(ctx.op)
    if axes.contains(axis) { throw ctx.mixes("it reduces the sample axis \(axis)") }
    return [try ctx.op.flag("keepdims") ? axis : axis - axes.filter { $0 < axis }.count]
  }
}

private func nanPropagating(_ f: @escaping @Sendable (Double, Double) -> Double) -> @Sendable (Double, Double) -> Double {
  { a, b in a.isNaN || b.isNaN ? .nan : f(a, b) }
}

/// The axes a reduction reduces, normalized; nil means "no axes and noop_with_empty_axes": the identity shape.
private func reducedAxes(_ ctx: OpContext) throws(Diagnostic) -> [Int]? {
  let rank = try ctx.type(0).rank
  let axes = try ctx.optionalConstantInts(1) ?? []
  if axes.isEmpty { return try ctx.flag("noop_with_empty_axes") ? nil : Array(0..<rank) }
  return try ctx.normalizedAxes(axes, rank: rank)
}

/// A reduction of a whole non-empty list of dims to one (`ReduceProd(Shape(x)[1:])`, the element count per sample).
private func reducedList(_ combine: @escaping @Sendable (DimExpr, DimExpr) -> DimExpr?) -> ElementDimsRule {
  { ctx throws(Diagnostic) in
    let list = try ElementDimsRules.elements(ctx, 0)
    guard try ctx.type(0).rank == 1, try reducedAxes(ctx) == [0], let first = list.first else {
      throw ctx.error(.unknownShape, "only a whole non-empty list reduces to a dim")
    }
    var total = first.expression
    for d in list.dropFirst() {
      guard let t = combine(total, d.expression) else { throw ctx.error(.unknownShape, "the reduction of \(dimsText(list)) overflows") }
      total = t
    }
    return [[Dim(total)]]
  }
}

/// Result dims of a reduction over `axes`: reduced dims become 1 (keepdims) or disappear.
func reducedDims(_ dims: [Dim], axes: [Int], keepdims: Bool) -> [Dim] {
  var out: [Dim] = []
  for (i, d) in dims.enumerated() {
    if !axes.contains(i) { out.append(d) } else if keepdims { out.append(.fixed(1)) }
  }
  return out
}

/// A reduction: `finish(fold(combine, empty, map(prepare, slice)), count)` over each reduced slice.
/// With no axes and noop_with_empty_axes = 1, each element is its own slice (ONNX still applies the
/// non-reducing steps, e.g. ReduceSumSquare squares).
private func reduce(
  _ name: String, empty: Double = 0,
  prepare: @escaping @Sendable (Double) -> Double = { $0 },
  combine: @escaping @Sendable (Double, Double) -> Double = (+),
  finish: @escaping @Sendable (Double, Int) -> Double = { s, _ in s }
) -> OpSchema {
  OpSchema(
    name, operands: [.required("data"), .optional("axes")],
    attributes: [
      AttributeSpec("keepdims", .int, default: .int(1)), AttributeSpec("noop_with_empty_axes", .int, default: .int(0)),
    ],
    inferTypes: { ctx throws(Diagnostic) in
      let x = try ctx.type(0)
      let keep = try ctx.flag("keepdims")
      guard let axes = try reducedAxes(ctx) else { return [x] }
      return [x.with(dims: reducedDims(x.dims, axes: axes, keepdims: keep))]
    },
    fold: { ctx throws(Diagnostic) in
      let data = try ctx.requireConstant(0)
      let keep = try ctx.flag("keepdims")
      let axes = try reducedAxes(ctx) ?? []
      let values = data.doubles
      // Accumulate into the keepdims-shaped output; dropping the 1s afterwards is free.
      let kept = data.shape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element }
      let outStrides = rowMajorStrides(kept)
      var acc = [Double](repeating: empty, count: kept.reduce(1, *))
      var flat = 0
      try forEachIndex(data.shape) { index throws(Diagnostic) in
        var o = 0
        for (axis, i) in index.enumerated() where !axes.contains(axis) { o += i * outStrides[axis] }
        acc[o] = combine(acc[o], prepare(values[flat]))
        flat += 1
      }
      let n = axes.reduce(1) { $0 * data.shape[$1] }
      let shape = reducedDims(data.shape.map(Dim.fixed), axes: axes, keepdims: keep).compactMap(\.value)
      return [TensorData(data.element, shape: shape, doubles: acc.map { finish($0, n) })]
    })
}

/// ArgMax/ArgMin: i64 index of the best element along `axis`; ties go to the first (or, with
/// select_last_index, the last) occurrence.
private func argReduce(_ name: String, better: @escaping @Sendable (Double, Double) -> Bool) -> OpSchema {
  OpSchema(
    name, operands: [.required("data")],
    attributes: [
      AttributeSpec("axis", .int, default: .int(0)), AttributeSpec("keepdims", .int, default: .int(1)),
      AttributeSpec("select_last_index", .int, default: .int(0)),
    ],
    inferTypes: { ctx throws(Diagnostic) in
      let x = try ctx.type(0)
      let axis = try ctx.normalizedAxes([ctx.int("axis")], rank: x.rank, what: "axis")[0]
      _ = try ctx.flag("select_last_index")
      return [TensorType(.i64, reducedDims(x.dims, axes: [axis], keepdims: try ctx.flag("keepdims")))]
    },
    fold: { ctx throws(Diagnostic) in
      let data = try ctx.requireConstant(0)
      let axis = try ctx.normalizedAxes([ctx.int("axis")], rank: data.shape.count, what: "axis")[0]
      let last = try ctx.flag("select_last_index")
      guard data.shape[axis] > 0 else { throw ctx.error("cannot take \(name) over an empty axis") }
      let values = data.doubles
      let strides = rowMajorStrides(data.shape)
      var kept = data.shape
      kept[axis] = 1
      var out: [Double] = []
      try forEachIndex(kept) { index throws(Diagnostic) in
        let base = zip(index, strides).reduce(0) { $0 + $1.0 * $1.1 }
        var best = 0
        for k in 1..<data.shape[axis] {
          let v = values[base + k * strides[axis]]
          let b = values[base + best * strides[axis]]
          if better(v, b) || (last && v == b) { best = k }
        }
        out.append(Double(best))
      }
      let shape = reducedDims(data.shape.map(Dim.fixed), axes: [axis], keepdims: try ctx.flag("keepdims")).compactMap(\.value)
      return [TensorData(.i64, shape: shape, doubles: out)]
    })
}

/// CumSum/CumProd along the axis given as a scalar input; `exclusive` drops the element itself (the first
/// output is the identity), `reverse` runs from the end.
private func cumulative(_ name: String, identity: Double, _ combine: @escaping @Sendable (Double, Double) -> Double) -> OpSchema {
  OpSchema(
    name, operands: [.required("x"), .required("axis")],
    attributes: [AttributeSpec("exclusive", .int, default: .int(0)), AttributeSpec("reverse", .int, default: .int(0))],
    inferTypes: { ctx throws(Diagnostic) in
      let x = try ctx.type(0)
      let a = try ctx.type(1)
      guard a.element == .i32 || a.element == .i64, a.rank == 0 || a.dims == [.fixed(1)] else {
        throw ctx.error(.typeMismatch, "axis must be an i32 or i64 scalar, got \(a)")
      }
      if ctx.constant(1) != nil { _ = try cumSumAxis(ctx, rank: x.rank) }
      _ = (try ctx.flag("exclusive"), try ctx.flag("reverse"))
      return [x]
    },
    fold: { ctx throws(Diagnostic) in
      let data = try ctx.requireConstant(0)
      let axis = try cumSumAxis(ctx, rank: data.shape.count)
      let (exclusive, reverse) = (try ctx.flag("exclusive"), try ctx.flag("reverse"))
      var values = data.doubles
      let strides = rowMajorStrides(data.shape)
      var lines = data.shape
      lines[axis] = 1
      try forEachIndex(lines) { index throws(Diagnostic) in
        let base = zip(index, strides).reduce(0) { $0 + $1.0 * $1.1 }
        let n = data.shape[axis]
        var sum = identity
        for step in 0..<n {
          let flat = base + (reverse ? n - 1 - step : step) * strides[axis]
          let v = values[flat]
          if exclusive { values[flat] = sum; sum = combine(sum, v) } else { sum = combine(sum, v); values[flat] = sum }
        }
      }
      return [TensorData(data.element, shape: data.shape, doubles: values)]
    })
}

private func cumSumAxis(_ ctx: OpContext, rank: Int) throws(Diagnostic) -> Int {
  try ctx.normalizedAxes([ctx.constantScalarInt(1)], rank: rank, what: "axis")[0]
}

/// Softmax, LogSoftmax and Hardmax in the opset 13 form: along the single `axis` (default -1).
private func softmax(_ name: String) -> OpSchema {
  OpSchema(
    name, operands: [.required("input")], attributes: [AttributeSpec("axis", .int, default: .int(-1))],
    inferTypes: { ctx throws(Diagnostic) in
      let x = try ctx.type(0)
      guard x.element.isFloat else { throw ctx.error(.typeMismatch, "\(name) needs a float input, got \(x)") }
      _ = try ctx.normalizedAxes([ctx.int("axis")], rank: x.rank, what: "axis")
      return [x]
    })
}
