import CLLVM
import SSMCIR

/// QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear: elementwise loops whose scale and zero point
/// are read per tensor, per index of one axis, or per block along one axis (`QuantizationLayout`). Scales and
/// zero points are run-time operands. The integer products are in QuantizedProduct+Lowering.swift.
let quantizationLowerings: [String: Lowering] = [
  "QuantizeLinear": { ctx in try lowerQuantizeLinear(ctx) },
  "DequantizeLinear": { ctx in try lowerDequantizeLinear(ctx) },
  "DynamicQuantizeLinear": { ctx in try lowerDynamicQuantizeLinear(ctx) },
]

/// The range of a quantized integer type.
func quantizedRange(_ scalar: ScalarType) -> (low: Double, high: Double) {
  scalar == .u8 ? (0, 255) : (-128, 127)
}

/// Rounds `value` (float, any lanes) half to even, clamps it to `scalar`'s range and converts it. Clamping
/// first keeps the conversion defined; a NaN becomes the low end (maxnum ignores it), as numpy's cast then clip
/// gives on x86.
func saturateToQuantized(_ k: KernelBuilder, _ value: IRValue, _ scalar: ScalarType) -> IRValue {
  let (low, high) = quantizedRange(scalar)
  let rounded = k.intrinsic("llvm.roundeven", overloads: [value.type], [value])
  let clamped = k.min(k.max(rounded, k.constant(low, value.type)), k.constant(high, value.type))
  return k.convert(clamped, to: scalar)
}

extension QuantizationIndexing {
  /// The scale index of the element at `index` of the (outer, axis, inner) view, as `parameterIndex(flat:)`.
  func parameterIndex(_ k: KernelBuilder, _ index: [IRValue]) -> IRValue {
    switch layout {
    case .tensor: return k.i64(0)
    case .axis: return index[1]
    case .blocked(_, let size):
      let row = index[0] * k.i64(Int64(blocks)) + index[1] / k.i64(Int64(size))
      return row * k.i64(Int64(dims[2])) + index[2]
    }
  }
}

private func layout(_ ctx: LoweringContext) throws -> QuantizationLayout {
  do { return try quantizationLayout(ctx.op) } catch { throw ctx.error("\(error)") }
}

/// y = saturate(round_half_even(x / scale) + zero_point), dividing in f32 or f64 as `quantizeDivision` says.
private func lowerQuantizeLinear(_ ctx: LoweringContext) throws {
  let view = QuantizationIndexing(shape: ctx.operandShape(0), layout: try layout(ctx))
  let division: ScalarType
  do { division = try quantizeDivision(ctx.op) == .f32 ? .f32 : .f64 } catch { throw ctx.error("\(error)") }
  let (xs, ss) = (try ctx.scalar(ctx.operandType(0).element), try ctx.scalar(ctx.operandType(1).element))
  let ys = try ctx.scalar(ctx.resultType(0).element)
  let hasZero = ctx.hasOperand(2)
  let k = ctx.k
  let captures = [ctx.operand(0), ctx.operand(1), ctx.results[0]] + (hasZero ? [ctx.operand(2)] : [])
  ctx.forEachIndex(view.dims, captures: captures) { index, c in
    let flat = ctx.flatIndex(index, strides: rowMajorStrides(view.dims))
    let p = view.parameterIndex(k, index)
    let x = k.convert(k.load(xs, from: c[0], at: flat), to: division)
    let scale = k.convert(k.load(ss, from: c[1], at: p), to: division)
    var q = k.intrinsic("llvm.roundeven", overloads: [x.type], [x / scale])
    if hasZero { q = q + k.convert(k.load(ys, from: c[3], at: p), to: division) }
    k.store(saturateToQuantized(k, q, ys), ys, to: c[2], at: flat)
  }
}

/// y = (x - zero_point) * scale. An i8/u8 difference is exact in i32 and its product rounds once in f32; an i32
/// one is formed in f64 (exact there) and the product rounded once to f32.
private func lowerDequantizeLinear(_ ctx: LoweringContext) throws {
  let view = QuantizationIndexing(shape: ctx.operandShape(0), layout: try layout(ctx))
  let xs = try ctx.scalar(ctx.operandType(0).element)
  let out = try ctx.scalar(ctx.resultType(0).element)
  let hasZero = ctx.hasOperand(2)
  let wide: ScalarType = xs == .i32 ? .f64 : .f32
  let k = ctx.k
  let captures = [ctx.operand(0), ctx.operand(1), ctx.results[0]] + (hasZero ? [ctx.operand(2)] : [])
  ctx.forEachIndex(view.dims, captures: captures) { index, c in
    let flat = ctx.flatIndex(index, strides: rowMajorStrides(view.dims))
    let p = view.parameterIndex(k, index)
    var difference: IRValue
    if xs == .i32 {
      difference = k.convert(k.load(xs, from: c[0], at: flat), to: .f64)
      if hasZero { difference = difference - k.convert(k.load(xs, from: c[3], at: p), to: .f64) }
    } else {
      var d = k.convert(k.load(xs, from: c[0], at: flat), to: .i32)
      if hasZero { d = d - k.convert(k.load(xs, from: c[3], at: p), to: .i32) }
      difference = k.convert(d, to: .f32)
    }
    let scale = k.convert(k.load(out, from: c[1], at: p), to: wide)
    k.store(k.convert(difference * scale, to: out), out, to: c[2], at: flat)
  }
}

/// The range of x (widened to include 0) gives scale = (max - min) / 255 (1/255 when max == min) and zero
/// point = round(clamp(-min / scale, 0, 255)); then x is quantized as QuantizeLinear with them. NaN elements
/// are skipped by the range (maxnum/minnum).
private func lowerDynamicQuantizeLinear(_ ctx: LoweringContext) throws {
  let count = ctx.operandShape(0).reduce(1, *)
  let k = ctx.k
  let (x, y, yScale, yZero) = (ctx.operand(0), ctx.results[0], ctx.results[1], ctx.results[2])
  let lanes = ctx.vectorLanes
  var (low, high) = (k.f32(0), k.f32(0))
  if count > 0 {
    low = k.reduceContiguous(.f32, lanes: lanes, base: x, start: k.i64(0), count: count, identity: k.f32(.infinity), map: { $0 }, combine: k.min)
    high = k.reduceContiguous(.f32, lanes: lanes, base: x, start: k.i64(0), count: count, identity: k.f32(-.infinity), map: { $0 }, combine: k.max)
  }
  let minimum = k.min(low, k.f32(0))
  let maximum = k.max(high, k.f32(0))
  let range = k.select(k.compare(.eq, maximum, minimum), k.f32(1), maximum - minimum)
  let scale = range / k.f32(255)
  let initialZero = k.f32(0) - minimum / scale
  let zero = k.intrinsic("llvm.roundeven", overloads: [scale.type], [k.min(k.max(initialZero, k.f32(0)), k.f32(255))])
  k.store(scale, .f32, to: yScale, at: k.i64(0))
  k.store(k.convert(zero, to: .u8), .u8, to: yZero, at: k.i64(0))
  // The loop reads the scale and zero point back from the results: a parallel body sees only its captures.
  ctx.forEachIndex([count], captures: [x, y, yScale, yZero]) { index, c in
    let s = k.load(.f32, from: c[2], at: k.i64(0))
    let z = k.convert(k.load(.u8, from: c[3], at: k.i64(0)), to: .f32)
    let q = k.intrinsic("llvm.roundeven", overloads: [s.type], [k.load(.f32, from: c[0], at: index[0]) / s]) + z
    k.store(saturateToQuantized(k, q, .u8), .u8, to: c[1], at: index[0])
  }
}
