import CLLVM
import SSMCIR

// Pools over extents given at run time: the same window rules as the static kernels in Pooling+Lowering.swift
// (positions outside X skipped; AveragePool counts the positions inside X, or with count_include_pad those
// inside X and its declared pads, never the extra ones ceil_mode adds; MaxPool's Indices point at the first
// maximum), with sizes, window counts and pads evaluated at run time.

/// AveragePool and MaxPool (with or without Indices) over run-time extents, (N * C) planes split across the
/// pool: float pools without Indices by vector rows, the others one output element per loop iteration.
func lowerRuntimeWindowPool(_ ctx: LoweringContext) throws {
  let x = ctx.operandType(0)
  let element = try ctx.scalar(x.element)
  let average = ctx.node.op == "AveragePool"
  let includePad = average ? try ctx.op.flag("count_include_pad") : false
  let withIndices = ctx.node.results.count == 2
  let columnMajor = withIndices ? try ctx.op.flag("storage_order") : false
  guard !average || element.isFloat else { throw ctx.error("AveragePool needs a float input") }
  guard ctx.stridedOperands.isEmpty else { throw ctx.error("with run-time extents, pools take contiguous operands") }
  let windows: [WindowAxis]
  do { windows = try poolWindows(ctx.op) } catch { throw ctx.error("\(error)") }
  let axes = try ctx.runtimeWindowAxes(windows)
  let k = ctx.k
  let pointers = [ctx.operand(0)] + ctx.results
  let planes = ctx.extent(x.dims[0]) * ctx.extent(x.dims[1])
  if !withIndices && element.isFloat {
    return emitRuntimePoolRows(ctx, axes: axes, element: element, average: average, includePad: includePad, planes: planes)
  }
  let zero = k.constant(0, k.type(element))
  ctx.forEachIndex(extents: [planes] + axes.map(\.output), captures: pointers + axes.values) { index, c in
    let axes = axes.rebound(c[pointers.count...])
    let sizes = axes.map(\.size)
    let planeBase = index[0] * sizes.dropFirst().reduce(sizes[0], *)
    // Where an input position is, as MaxPool's Indices count it: row-major in the plane, or column-major.
    let indexStrides = columnMajor ? columnMajorStrideValues(k, sizes) : rowMajorStrideValues(k, sizes)
    let start: [IRValue] =
      average ? [zero, zero] : withIndices ? [lowestValue(k, element), k.i64(-1), k.bool(false)] : [lowestValue(k, element)]
    func level(_ a: Int, _ input: [IRValue], _ inside: IRValue, _ padded: IRValue, _ carried: [IRValue]) -> [IRValue] {
      guard a == axes.count else {
        let axis = axes[a]
        return k.forLoop(from: k.i64(0), to: k.i64(Int64(axis.kernel)), hints: LoopHints(vectorize: false), carrying: carried) { q, acc in
          let coordinate = index[a + 1] * k.i64(Int64(axis.stride)) + q * k.i64(Int64(axis.dilation)) - axis.padBegin
          let inRange = k.and(k.compare(.ge, coordinate, k.i64(0)), k.compare(.lt, coordinate, axis.size))
          let inPadded = k.compare(.lt, coordinate, axis.size + axis.padEnd)
          let clamped = k.min(k.max(coordinate, k.i64(0)), axis.size - k.i64(1))
          return level(a + 1, input + [clamped], k.and(inside, inRange), k.and(padded, inPadded), acc)
        }
      }
      let v = k.load(element, from: c[0], at: k.rowMajor(input, sizes, base: index[0]))
      if average {
        let counted = includePad ? padded : inside
        return [carried[0] + k.select(inside, v, zero), carried[1] + k.select(counted, k.constant(1, v.type), zero)]
      }
      guard withIndices else { return [k.select(k.and(inside, k.compare(.gt, v, carried[0])), v, carried[0])] }
      let take = k.and(inside, k.or(k.not(carried[2]), k.compare(.gt, v, carried[0])))
      let position = planeBase + ctx.flatIndex(input, runtimeStrides: indexStrides)
      return [k.select(take, v, carried[0]), k.select(take, position, carried[1]), k.or(carried[2], inside)]
    }
    let result = level(0, [], k.bool(true), k.bool(true), start)
    let at = k.rowMajor(Array(index[1...]), axes.map(\.output), base: index[0])
    k.store(average ? result[0] / result[1] : result[0], element, to: c[1], at: at)
    if withIndices { k.store(result[1], .i64, to: c[2], at: at) }
  }
}

/// Float AveragePool and MaxPool without Indices: each iteration owns one output row of one (n, c) plane and
/// computes it a vector of positions at a time. Kernel rows outside X are skipped by loop bounds; along the
/// row, each kernel position reads under the mask of the positions whose input is inside X. AveragePool's
/// count is a product over axes (the counted window is a box): the leading axes' counts are scalars, the
/// last axis's a vector.
private func emitRuntimePoolRows(
  _ ctx: LoweringContext, axes: [RuntimeWindowAxis], element: ScalarType, average: Bool, includePad: Bool, planes: IRValue
) {
  let k = ctx.k
  let lanes = element == .f64 ? ctx.vectorLanes / 2 : ctx.vectorLanes
  let vectorType = k.type(element, lanes: lanes)
  let (zero, one) = (k.constant(0, vectorType), k.constant(1, vectorType))
  let pointers = [ctx.operand(0), ctx.results[0]]
  ctx.forEachIndex(extents: [planes] + axes.dropLast().map(\.output), captures: pointers + axes.values) { index, c in
    let axes = axes.rebound(c[pointers.count...])
    let (last, leading) = (axes[axes.count - 1], Array(axes.dropLast()))
    let outputs = Array(index[1...])
    let yRow = k.rowMajor(outputs, leading.map(\.output), base: index[0]) * last.output
    let xPlane = index[0] * axes.dropFirst().reduce(axes[0].size) { $0 * $1.size }
    // Window positions counted along each leading axis: inside X, or inside X and its declared pads (a
    // window never starts before the begin padding, so only the end bounds it).
    var counted = k.i64(1)
    for (a, axis) in leading.enumerated() where average {
      let origin = outputs[a] * k.i64(Int64(axis.stride)) - axis.padBegin
      let (lower, upper) = k.validTaps(axis, origin: origin)
      let padded = k.min(k.ceilDividedClamped(axis.size + axis.padEnd - origin, by: axis.dilation), k.i64(Int64(axis.kernel)))
      counted = counted * (includePad ? padded : upper - lower)
    }
    let vectors = (last.output + k.i64(Int64(lanes - 1))) / k.i64(Int64(lanes))
    k.forLoop(from: k.i64(0), to: vectors, hints: LoopHints(vectorize: false)) { v in
      let first = v * k.i64(Int64(lanes))
      let positions = k.splat(first, lanes: lanes) + k.laneIndices(lanes: lanes)
      let start = average ? zero : k.splat(lowestValue(k, element), lanes: lanes)
      let folded = k.forEachInsideRow(leading, outputs: outputs, carrying: [start]) { inputRow, _, carried in
        let row = xPlane + inputRow * last.size
        return k.forLoop(from: k.i64(0), to: k.i64(Int64(last.kernel)), hints: LoopHints(vectorize: false), carrying: carried) { q, acc in
          let shift = q * k.i64(Int64(last.dilation)) - last.padBegin
          let input = k.windowRowLoad(element, lanes: lanes, from: c[0], row: row, positions: positions, stride: last.stride, shift: shift, size: last.size)
          if average { return [acc[0] + input.value] }
          return [k.select(k.and(input.inside, k.compare(.gt, input.value, acc[0])), input.value, acc[0])]
        }
      }[0]
      var result = folded
      if average {
        let count = k.forLoop(from: k.i64(0), to: k.i64(Int64(last.kernel)), hints: LoopHints(vectorize: false), carrying: [zero]) { q, acc in
          let taps = positions * k.splat(k.i64(Int64(last.stride)), lanes: lanes) + k.splat(q * k.i64(Int64(last.dilation)) - last.padBegin, lanes: lanes)
          let inside = k.and(k.compare(.ge, taps, k.splat(k.i64(0), lanes: lanes)), k.compare(.lt, taps, k.splat(last.size, lanes: lanes)))
          let inPadded = k.compare(.lt, taps, k.splat(last.size + last.padEnd, lanes: lanes))
          return [acc[0] + k.select(includePad ? inPadded : inside, one, zero)]
        }[0]
        result = folded / (count * k.splat(k.convert(counted, to: element), lanes: lanes))
      }
      k.storeVector(result, element, to: c[1], at: yRow + first, mask: k.compare(.lt, positions, k.splat(last.output, lanes: lanes)))
    }
  }
}

private func rowMajorStrideValues(_ k: KernelBuilder, _ extents: [IRValue]) -> [IRValue] {
  var strides = [IRValue](repeating: k.i64(1), count: extents.count)
  for a in stride(from: extents.count - 2, through: 0, by: -1) { strides[a] = strides[a + 1] * extents[a + 1] }
  return strides
}

private func columnMajorStrideValues(_ k: KernelBuilder, _ extents: [IRValue]) -> [IRValue] {
  Array(rowMajorStrideValues(k, extents.reversed()).reversed())
}

/// GlobalAveragePool and GlobalMaxPool over run-time extents: a vector reduction over each (n, c) plane.
func lowerRuntimeGlobalPool(_ ctx: LoweringContext, average: Bool) throws {
  let x = ctx.operandType(0)
  let element = try ctx.scalar(x.element)
  guard element.isFloat, ctx.stridedOperands.isEmpty else { throw ctx.error("with run-time extents, global pools take contiguous float operands") }
  let k = ctx.k
  let planeSize = x.dims[2...].map(ctx.extent).reduce(k.i64(1), *)
  let planes = ctx.extent(x.dims[0]) * ctx.extent(x.dims[1])
  let lanes = element == .f64 ? ctx.vectorLanes / 2 : ctx.vectorLanes
  ctx.forEachIndex(extents: [planes], captures: [ctx.operand(0), ctx.results[0], planeSize]) { index, c in
    let count = c[2]
    let identity = average ? k.constant(0, k.type(element)) : lowestValue(k, element)
    let v = k.foldContiguous(element, lanes: lanes, base: c[0], start: index[0] * count, count: count, identity: identity, map: { $0 }) {
      average ? $0 + $1 : k.select(k.compare(.gt, $1, $0), $1, $0)
    }
    k.store(average ? v / k.convert(count, to: element) : v, element, to: c[1], at: index[0])
  }
}

extension KernelBuilder {
  /// `reduceContiguous` over a run-time `count`: `lanes`-wide vectors, then a masked tail.
  func foldContiguous(
    _ scalar: ScalarType, lanes: Int, base: IRValue, start: IRValue, count: IRValue, identity: IRValue,
    map: (IRValue) -> IRValue, combine: (IRValue, IRValue) -> IRValue
  ) -> IRValue {
    let fill = splat(identity, lanes: lanes)
    let main = count / i64(Int64(lanes)) * i64(Int64(lanes))
    var acc = forLoop(from: i64(0), to: main, step: Int64(lanes), hints: LoopHints(vectorize: false), carrying: [fill]) { i, a in
      [combine(a[0], map(loadVector(scalar, lanes: lanes, from: base, at: start + i)))]
    }[0]
    let mask = prefixMask(count: count - main, lanes: lanes)
    let tail = loadVector(scalar, lanes: lanes, from: base, at: start + main, mask: mask)
    acc = combine(acc, select(mask, map(tail), fill))
    return horizontal(acc, combine)
  }
}
