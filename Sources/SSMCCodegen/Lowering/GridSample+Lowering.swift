import CLLVM
import SSMCIR

/// The taps one sample reads along one spatial axis: element offsets into the (n, c) plane of X, their
/// weights (nil for nearest) and whether each lies inside the axis (nil when padding never reads zeros).
private struct AxisTaps {
  var offsets: [IRValue]
  var weights: [IRValue]?
  var inside: [IRValue]?
}

/// GridSample following the ONNX reference: each output position's grid coordinates are denormalized, the
/// coordinate is clamped or reflected into the image for border/reflection padding, and the interpolation
/// taps (1 nearest, 2 linear, 4 cubic per axis) are worked out once per position, then summed for every
/// channel. Tap indices are clamped into the axis before any load, so no grid value (NaN, huge, out of
/// range) makes the kernel read outside X; zeros padding masks the taps that fell outside.
let lowerGridSample: Lowering = { ctx in
  let plan: GridSamplePlan
  do { plan = try gridSamplePlan(ctx.op) } catch { throw ctx.error("\(error)") }
  let scalar = try ctx.scalar(ctx.operandType(0).element)
  let gridScalar = try ctx.scalar(ctx.operandType(1).element)
  guard scalar.isFloat, gridScalar.isFloat else {
    throw ctx.error("GridSample needs float X and grid, got \(ctx.operandType(0).element) and \(ctx.operandType(1).element)")
  }
  let x = ctx.operandShape(0)
  let out = ctx.resultShape(0)
  let r = plan.spatialRank
  let (batch, channels) = (out[0], out[1])
  let dims = Array(x[2...])
  let inPlane = dims.reduce(1, *)
  let outPlane = out[2...].reduce(1, *)
  guard batch * channels * outPlane > 0 else { return }
  let inStrides = rowMajorStrides(dims)
  let tapsPerAxis = switch plan.mode { case .nearest: 1; case .linear: 2; case .cubic: 4 }
  let tapCount = (0..<r).reduce(1) { n, _ in n * tapsPerAxis }
  if inPlane == 0 {
    throw ctx.error("GridSample cannot sample the empty spatial shape \(dims)")
  }
  let k = ctx.k

  ctx.forEachIndex(
    [batch, outPlane], work: batch * outPlane * channels * tapCount, captures: [ctx.operand(0), ctx.operand(1), ctx.results[0]],
    innerHints: LoopHints(vectorize: false)
  ) { index, c in
    let (src, grid, dst) = (c[0], c[1], c[2])
    let (n, p) = (index[0], index[1])
    let gridAt = (n * k.i64(Int64(outPlane)) + p) * k.i64(Int64(r))
    var axes: [AxisTaps] = []
    for axis in 0..<r {
      // The grid lists coordinates innermost axis first.
      let g = k.convert(k.load(gridScalar, from: grid, at: gridAt + k.i64(Int64(r - 1 - axis))), to: scalar)
      axes.append(axisTaps(k, g, size: dims[axis], stride: inStrides[axis], plan: plan, scalar: scalar))
    }
    // Every combination of the axes' taps: offset, weight and inside flag.
    var combos: [(offset: IRValue, weight: IRValue?, inside: IRValue?)] = [(k.i64(0), nil, nil)]
    for a in axes {
      combos = combos.flatMap { combo in
        (0..<tapsPerAxis).map { t in
          let w = a.weights.map { ws in combo.weight.map { $0 * ws[t] } ?? ws[t] }
          let inside = a.inside.map { flags in combo.inside.map { k.and($0, flags[t]) } ?? flags[t] }
          return (combo.offset + a.offsets[t], w, inside)
        }
      }
    }
    let zero = k.constant(0, k.type(scalar))
    let srcBase = n * k.i64(Int64(channels * inPlane))
    let dstBase = n * k.i64(Int64(channels * outPlane)) + p
    k.forLoop(from: k.i64(0), to: k.i64(Int64(channels)), hints: LoopHints(vectorize: false)) { ch in
      let plane = srcBase + ch * k.i64(Int64(inPlane))
      let terms = combos.map { combo -> IRValue in
        var v = k.load(scalar, from: src, at: plane + combo.offset)
        if let inside = combo.inside { v = k.select(inside, v, zero) }
        return combo.weight.map { $0 * v } ?? v
      }
      let sum = terms.dropFirst().reduce(terms[0], +)
      k.store(sum, scalar, to: dst, at: dstBase + ch * k.i64(Int64(outPlane)))
    }
  }
}

/// The taps along one axis of length `size` for normalized coordinate `g`.
private func axisTaps(
  _ k: KernelBuilder, _ g: IRValue, size: Int, stride: Int, plan: GridSamplePlan, scalar: ScalarType
) -> AxisTaps {
  let d = Double(size)
  // The reference's order of operations, so nearest rounds the same values the same way.
  var x = plan.alignCorners ? (g + 1.0) / 2.0 * (d - 1) : ((g + 1.0) * d - 1.0) / 2.0
  if plan.mode == .nearest { x = k.intrinsic("llvm.roundeven", overloads: [x.type], [x]) }
  let (low, high) = plan.alignCorners ? (0.0, d - 1) : (-0.5, d - 0.5)
  switch plan.padding {
  case .zeros: break
  case .border:
    let outside = k.or(k.compare(.lt, x, low), k.compare(.gt, x, high))
    x = k.select(outside, k.min(k.max(x, k.constant(0, x.type)), k.constant(d - 1, x.type)), x)
  case .reflection:
    x = reflect(k, x, low, high)
  }
  // Far outside (or NaN) every tap is padding anyway; bounding x keeps the integer conversion defined.
  let bound = d + 4
  x = k.min(k.max(x, k.constant(-bound, x.type)), k.constant(bound, x.type))

  let indices: [IRValue]
  var weights: [IRValue]? = nil
  if plan.mode == .nearest {
    indices = [k.convert(x, to: .i64)]
  } else {
    let floor = k.intrinsic("llvm.floor", overloads: [x.type], [x])
    let t = x - floor
    let x0 = k.convert(floor, to: .i64)
    if plan.mode == .linear {
      indices = [x0, x0 + k.i64(1)]
      weights = [1.0 - t, t]
    } else {
      indices = (-1...2).map { x0 + k.i64(Int64($0)) }
      weights = cubicWeights(t)
    }
  }
  let last = k.i64(Int64(size - 1))
  func clamp(_ i: IRValue) -> IRValue { k.min(k.max(i, k.i64(0)), last) }
  switch plan.padding {
  case .zeros:
    let inside = indices.map { k.and(k.compare(.ge, $0, k.i64(0)), k.compare(.le, $0, last)) }
    return AxisTaps(offsets: indices.map { clamp($0) * k.i64(Int64(stride)) }, weights: weights, inside: inside)
  case .border:
    return AxisTaps(offsets: indices.map { clamp($0) * k.i64(Int64(stride)) }, weights: weights, inside: nil)
  case .reflection:
    // Taps beyond the edge read their mirror image (the clamp only guards rounding at the ends).
    let mirrored = indices.map { i in clamp(k.convert(reflect(k, k.convert(i, to: scalar), low, high), to: .i64)) }
    return AxisTaps(offsets: mirrored.map { $0 * k.i64(Int64(stride)) }, weights: weights, inside: nil)
  }
}

/// Reflects `x` at the ends of [low, high] until it lies inside (values inside are kept), as the reference's
/// `_gs_reflect`; a zero-length range maps everything to `low`.
private func reflect(_ k: KernelBuilder, _ x: IRValue, _ low: Double, _ high: Double) -> IRValue {
  let range = high - low
  guard range > 0 else { return k.constant(low, x.type) }
  let below = k.compare(.lt, x, low)
  let above = k.compare(.gt, x, high)
  let distance = k.select(below, low - x, x - high)
  let folds = k.intrinsic("llvm.floor", overloads: [x.type], [distance / range])
  let rest = distance - folds * range
  let even = k.compare(.eq, folds - 2.0 * k.intrinsic("llvm.floor", overloads: [x.type], [folds * 0.5]), 0)
  let fromLow = low + rest
  let fromHigh = high - rest
  let reflected = k.select(below, k.select(even, fromLow, fromHigh), k.select(even, fromHigh, fromLow))
  return k.select(k.or(below, above), reflected, x)
}

/// Keys cubic convolution weights (a = -0.75) of the taps at -1, 0, 1, 2 for fraction `t` in [0, 1).
private func cubicWeights(_ t: IRValue) -> [IRValue] {
  let a = -0.75
  func far(_ s: IRValue) -> IRValue { ((a * s - 5 * a) * s + 8 * a) * s - 4 * a }
  func near(_ s: IRValue) -> IRValue { ((a + 2) * s - (a + 3)) * s * s + 1.0 }
  return [far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t)]
}
