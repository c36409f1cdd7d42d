import CLLVM
import SSMCIR

/// MatMulInteger, QLinearMatMul, ConvInteger and QLinearConv. Products of (value - zero point) accumulate in
/// i32 (exact: |difference| <= 255, so each product fits, and the spec lets only the sum wrap). The QLinear ops
/// then requantize: y = saturate(round_half_even(acc * (a_scale * b_scale / y_scale) + y_zero_point)), the
/// multiplier formed in f32 and the product in f64, as the ONNX reference computes it.
let quantizedProductLowerings: [String: Lowering] = [
  "MatMulInteger": { ctx in
    try lowerIntegerMatMul(ctx, IntegerProductOperands(a: 0, b: 1, aZero: 2, bZero: 3))
  },
  "QLinearMatMul": { ctx in
    try lowerIntegerMatMul(
      ctx, IntegerProductOperands(a: 0, b: 3, aZero: 2, bZero: 5, scales: (a: 1, b: 4, y: 6), yZero: 7))
  },
  "ConvInteger": { ctx in try lowerIntegerConv(ctx, IntegerProductOperands(a: 0, b: 1, aZero: 2, bZero: 3)) },
  "QLinearConv": { ctx in
    try lowerIntegerConv(
      ctx, IntegerProductOperands(a: 0, b: 3, aZero: 2, bZero: 5, scales: (a: 1, b: 4, y: 6), yZero: 7, bias: 8))
  },
]

/// Operand positions of an integer product: the two integer inputs, their zero points, and for the QLinear
/// ops the scales, the output zero point and (QLinearConv) the bias.
struct IntegerProductOperands {
  var a: Int
  var b: Int
  var aZero: Int
  var bZero: Int
  var scales: (a: Int, b: Int, y: Int)? = nil
  var yZero: Int? = nil
  var bias: Int? = nil
}

extension IntegerProductOperands {
  /// Throws unless every operand the op requires is present (the verifier checks this too; no lowering may
  /// crash on a graph that skipped it).
  func requirePresent(_ ctx: LoweringContext) throws {
    let required = [a, b] + (scales.map { [$0.a, $0.b, $0.y] } ?? []) + (yZero.map { [$0] } ?? [])
    for i in required where !ctx.hasOperand(i) { throw ctx.error("required operand \(i) is absent") }
  }
}

/// Loads an integer element widened to i32 (i8 sign-extends; u8 is already a zero-extended i32).
private func loadI32(_ k: KernelBuilder, _ scalar: ScalarType, _ base: IRValue, _ index: IRValue) -> IRValue {
  k.convert(k.load(scalar, from: base, at: index), to: .i32)
}

/// MatMul over batch dims: for each row of the result, vectors of `lanes` columns accumulate
/// sum_k (a[m, k] - za) * (b[k, n:n+lanes] - zb) in i32 registers, then store or requantize.
private func lowerIntegerMatMul(_ ctx: LoweringContext, _ o: IntegerProductOperands) throws {
  try o.requirePresent(ctx)
  let (aShape, bShape) = (ctx.operandShape(o.a), ctx.operandShape(o.b))
  // Contiguous operands: the loads below take adjacent elements along k in A and along n in B.
  let p = MatMulProblem(
    numpy: aShape, strides: rowMajorStrides(aShape), by: bShape, strides: rowMajorStrides(bShape), result: ctx.resultShape(0))
  let (batch, m, depth, n) = (p.batch, p.m, p.k, p.n)
  func parameter(_ index: Int, matrix: Int, rows: Bool) throws -> MatrixParameterStrides? {
    guard ctx.hasOperand(index) else { return nil }
    do {
      var s = try matrixParameterStrides(ctx.op, parameter: index, matrix: matrix, rows: rows)
      s.batch = Array(repeating: 0, count: batch.count - s.batch.count) + s.batch
      return s
    } catch { throw ctx.error("\(error)") }
  }
  let (aZero, bZero) = (try parameter(o.aZero, matrix: o.a, rows: true), try parameter(o.bZero, matrix: o.b, rows: false))
  let scaleStrides = try o.scales.map { (a: try parameter($0.a, matrix: o.a, rows: true)!, b: try parameter($0.b, matrix: o.b, rows: false)!) }
  let (aType, bType) = (try ctx.scalar(ctx.operandType(o.a).element), try ctx.scalar(ctx.operandType(o.b).element))
  let out = try ctx.scalar(ctx.resultType(0).element)
  guard batch.reduce(1, *) * m * n > 0 else { return }

  let k = ctx.k
  let lanes = min(ctx.vectorLanes, max(2, n.nextPowerOfTwo))
  // Captures: a, b, y, then the optional operands in a fixed order (nil slots skipped).
  let optional: [Int?] = [aZero != nil ? o.aZero : nil, bZero != nil ? o.bZero : nil, o.scales?.a, o.scales?.b, o.scales?.y, o.yZero]
  var captures = [ctx.operand(o.a), ctx.operand(o.b), ctx.results[0]]
  var slot: [Int: Int] = [:]
  for case let index? in optional {
    slot[index] = captures.count
    captures.append(ctx.operand(index))
  }
  // `rows` rows at a time share each loaded vector of b; the rows left over go one at a time.
  func emitRows(_ rows: Int, from first: Int, steps: Int) {
    guard steps > 0 else { return }
    let work = batch.reduce(1, *) * steps * rows * n * depth
    ctx.forEachIndex(batch + [steps], work: work, captures: captures, innerHints: LoopHints(vectorize: false)) { index, c in
      let bIndex = Array(index.dropLast())
      let rowIndices = (0..<rows).map { k.i64(Int64(first + $0)) + index.last! * k.i64(Int64(rows)) }
      let aRows = rowIndices.map { ctx.flatIndex(bIndex, strides: p.aBatchStrides) + $0 * k.i64(Int64(p.aM)) }
      let bBase = ctx.flatIndex(bIndex, strides: p.bBatchStrides)
      let outRows = rowIndices.map { ctx.flatIndex(bIndex, strides: p.cBatchStrides) + $0 * k.i64(Int64(p.cM)) }
      func rowParameter(_ s: MatrixParameterStrides, _ base: IRValue, _ scalar: ScalarType, _ row: IRValue) -> IRValue {
        k.load(scalar, from: base, at: ctx.flatIndex(bIndex, strides: s.batch) + row * k.i64(Int64(s.line)))
      }
      func columnParameter(_ s: MatrixParameterStrides, _ base: IRValue, _ scalar: ScalarType, _ column: IRValue, _ mask: IRValue?) -> IRValue {
        let at = ctx.flatIndex(bIndex, strides: s.batch)
        if s.line == 0 { return k.splat(k.load(scalar, from: base, at: at), lanes: lanes) }
        return k.loadVector(scalar, lanes: lanes, from: base, at: at + column, mask: mask)
      }
      let za = rowIndices.map { row in
        k.splat(aZero.map { k.convert(rowParameter($0, c[slot[o.aZero]!], aType, row), to: .i32) } ?? k.i32(0), lanes: lanes)
      }
      k.forVectors(count: n, lanes: lanes) { column, mask, _ in
        let zb = bZero.map { k.convert(columnParameter($0, c[slot[o.bZero]!], bType, column, mask), to: .i32) }
        let zero = k.constant(bits: 0, k.type(.i32, lanes: lanes))
        let acc = k.forLoop(from: k.i64(0), to: k.i64(Int64(depth)), carrying: Array(repeating: zero, count: rows)) { kk, sums in
          var bv = k.convert(k.loadVector(bType, lanes: lanes, from: c[1], at: bBase + kk * k.i64(Int64(p.bK)) + column, mask: mask), to: .i32)
          if let zb { bv = bv - zb }
          return (0..<rows).map { i in sums[i] + (k.splat(loadI32(k, aType, c[0], aRows[i] + kk), lanes: lanes) - za[i]) * bv }
        }
        for i in 0..<rows {
          guard let scales = o.scales, let strides = scaleStrides else {
            k.storeVector(acc[i], .i32, to: c[2], at: outRows[i] + column, mask: mask)
            continue
          }
          let sa = k.splat(rowParameter(strides.a, c[slot[scales.a]!], .f32, rowIndices[i]), lanes: lanes)
          let sb = columnParameter(strides.b, c[slot[scales.b]!], .f32, column, mask)
          let sy = k.splat(k.load(.f32, from: c[slot[scales.y]!], at: k.i64(0)), lanes: lanes)
          let zy = k.convert(k.load(out, from: c[slot[o.yZero!]!], at: k.i64(0)), to: .f64)
          let y = requantize(k, acc[i], multiplier: sa * sb / sy, zero: k.splat(zy, lanes: lanes), out)
          k.storeVector(y, out, to: c[2], at: outRows[i] + column, mask: mask)
        }
        return []
      }
    }
  }
  let block = 4
  emitRows(block, from: 0, steps: m / block)
  emitRows(1, from: m / block * block, steps: m % block)
}

/// saturate(round_half_even(acc * multiplier + zero)) with acc i32, multiplier f32 and zero f64 (any lanes).
private func requantize(_ k: KernelBuilder, _ acc: IRValue, multiplier: IRValue, zero: IRValue, _ out: ScalarType) -> IRValue {
  let value = k.convert(acc, to: .f64) * k.convert(multiplier, to: .f64) + zero
  return saturateToQuantized(k, value, out)
}

/// The convolution: for each output row (all output indices but the last spatial one), vectors of positions
/// along the last axis accumulate over the group's input channels and the window; padding contributes 0 to
/// the (x - x_zero_point) products.
private func lowerIntegerConv(_ ctx: LoweringContext, _ o: IntegerProductOperands) throws {
  try o.requirePresent(ctx)
  let axes: [LoweringContext.StaticAxis]
  do { axes = try convWindows(ctx.op, x: o.a, w: o.b).map(LoweringContext.StaticAxis.init) } catch { throw ctx.error("\(error)") }
  let (x, w) = (ctx.operandShape(o.a), ctx.operandShape(o.b))
  let groups = try ctx.op.int("group")
  let (channels, outChannels) = (x[1], w[0])
  let (inPerGroup, outPerGroup) = (channels / groups, outChannels / groups)
  let inputSpatial = Array(x[2...])
  let kernelStrides = rowMajorStrides(Array(w[2...]))
  let (inputPlane, kernelVolume) = (inputSpatial.reduce(1, *), w[2...].reduce(1, *))
  let outShape = ctx.resultShape(0)
  guard outShape.reduce(1, *) > 0 else { return }
  let (xType, wType) = (try ctx.scalar(ctx.operandType(o.a).element), try ctx.scalar(ctx.operandType(o.b).element))
  let out = try ctx.scalar(ctx.resultType(0).element)
  let perChannel = { (index: Int) in ctx.hasOperand(index) && ctx.operandShape(index).reduce(1, *) > 1 }
  let (wZeroPerChannel, wScalePerChannel) = (perChannel(o.bZero), o.scales.map { perChannel($0.b) } ?? false)

  let k = ctx.k
  let optional: [Int?] = [o.aZero, o.bZero, o.scales?.a, o.scales?.b, o.scales?.y, o.yZero, o.bias]
  var captures = [ctx.operand(o.a), ctx.operand(o.b), ctx.results[0]]
  var slot: [Int: Int] = [:]
  for case let index? in optional where ctx.hasOperand(index) {
    slot[index] = captures.count
    captures.append(ctx.operand(index))
  }
  // Vectors run along the last output axis; the other spatial axes are walked as in the general Conv.
  let rows = Array(outShape.dropLast())
  let last = axes[axes.count - 1]
  let lanes = min(ctx.vectorLanes, max(2, last.output.nextPowerOfTwo))
  let outerAxes = Array(axes.dropLast())
  let outerStrides = Array(rowMajorStrides(inputSpatial).dropLast())
  let work = outShape.reduce(1, *) * inPerGroup * kernelVolume
  ctx.forEachIndex(rows, work: work, captures: captures, innerHints: LoopHints(vectorize: false)) { index, c in
    let (batch, m) = (index[0], index[1])
    let group = m / k.i64(Int64(outPerGroup))
    let zx = k.splat(slot[o.aZero].map { loadI32(k, xType, c[$0], k.i64(0)) } ?? k.i32(0), lanes: lanes)
    let zw = slot[o.bZero].map { loadI32(k, wType, c[$0], wZeroPerChannel ? m : k.i64(0)) } ?? k.i32(0)
    let start = o.bias.flatMap { slot[$0] }.map { k.load(.i32, from: c[$0], at: m) } ?? k.i32(0)
    let zeros = k.constant(bits: 0, k.type(.i32, lanes: lanes))
    let outRow = ctx.flatIndex(index, strides: Array(rowMajorStrides(outShape).dropLast()))
    k.forVectors(count: last.output, lanes: lanes) { column, mask, _ in
      let positions = k.splat(column, lanes: lanes) + k.laneIndices(lanes: lanes)
      let live = mask ?? k.constant(bits: -1, k.type(.i1, lanes: lanes))
      let acc = k.forLoop(from: k.i64(0), to: k.i64(Int64(inPerGroup)), hints: LoopHints(vectorize: false), carrying: [k.splat(start, lanes: lanes)]) { ci, sum in
        let xBase = (batch * k.i64(Int64(channels)) + group * k.i64(Int64(inPerGroup)) + ci) * k.i64(Int64(inputPlane))
        let wBase = (m * k.i64(Int64(inPerGroup)) + ci) * k.i64(Int64(kernelVolume))
        return ctx.forEachWindowPosition(outerAxes, output: Array(index[2...]), carrying: sum) { kernel, input, inside, _, s in
          let rowBase = xBase + ctx.flatIndex(input, strides: outerStrides)
          let wRow = wBase + ctx.flatIndex(kernel, strides: Array(kernelStrides.dropLast()))
          let rowLive = k.and(live, k.splat(inside, lanes: lanes))
          return k.forLoop(from: k.i64(0), to: k.i64(Int64(last.kernel)), hints: LoopHints(vectorize: false), carrying: s) { kk, s2 in
            let offset = kk * k.i64(Int64(last.dilation)) - k.i64(Int64(last.padBegin))
            let coordinates = positions * k.constant(bits: Int64(last.stride), positions.type) + k.splat(offset, lanes: lanes)
            let inRange = k.and(
              k.compare(.ge, coordinates, k.constant(bits: 0, coordinates.type)),
              k.compare(.lt, coordinates, k.constant(bits: Int64(last.size), coordinates.type)))
            let use = k.and(rowLive, inRange)
            let xv = gatherI32(k, xType, c[0], rowBase, coordinates, use, contiguous: last.stride == 1)
            let wv = k.splat(loadI32(k, wType, c[1], wRow + kk) - zw, lanes: lanes)
            return [s2[0] + k.select(use, xv - zx, zeros) * wv]
          }
        }
      }[0]
      let at = outRow + column
      guard let scales = o.scales, let yZero = o.yZero else {
        k.storeVector(acc, .i32, to: c[2], at: at, mask: mask)
        return []
      }
      let sx = k.load(.f32, from: c[slot[scales.a]!], at: k.i64(0))
      let sw = k.load(.f32, from: c[slot[scales.b]!], at: wScalePerChannel ? m : k.i64(0))
      let sy = k.load(.f32, from: c[slot[scales.y]!], at: k.i64(0))
      let zy = k.convert(k.load(out, from: c[slot[yZero]!], at: k.i64(0)), to: .f64)
      let y = requantize(k, acc, multiplier: k.splat(sx * sw / sy, lanes: lanes), zero: k.splat(zy, lanes: lanes), out)
      k.storeVector(y, out, to: c[2], at: at, mask: mask)
      return []
    }
  }
}

/// Lanes `base + coordinates[j]` of an i8/u8 (or i32) array widened to i32, reading only the lanes in `use`
/// (the others are 0). Contiguous coordinates are one masked load; others a masked gather. Addresses are
/// formed without `inbounds`: a masked-off lane may point outside the tensor (into the padding).
private func gatherI32(
  _ k: KernelBuilder, _ scalar: ScalarType, _ array: IRValue, _ base: IRValue, _ coordinates: IRValue, _ use: IRValue,
  contiguous: Bool
) -> IRValue {
  let lanes = coordinates.lanes
  let memory = k.type(scalar == .u8 ? .i8 : scalar)
  let vector = k.llvm.vector(memory, lanes: lanes)
  let align = k.i32(Int32(scalar.byteSize))
  let loaded: IRValue
  if contiguous {
    var index = [Optional((base + k.extractLane(coordinates, 0)).ref)]
    let address = IRValue(LLVMBuildGEP2(k.builder, memory, array.ref, &index, 1, "")!, k)
    loaded = k.intrinsic("llvm.masked.load", overloads: [vector, k.llvm.ptr], [address, align, use, k.constant(0, vector)])
  } else {
    var index = [Optional((k.splat(base, lanes: lanes) + coordinates).ref)]
    let addresses = IRValue(LLVMBuildGEP2(k.builder, memory, array.ref, &index, 1, "")!, k)
    let pointers = k.llvm.vector(k.llvm.ptr, lanes: lanes)
    loaded = k.intrinsic("llvm.masked.gather", overloads: [vector, pointers], [addresses, align, use, k.constant(0, vector)])
  }
  return scalar == .u8 ? IRValue(LLVMBuildZExt(k.builder, loaded.ref, k.type(.i32, lanes: lanes), "")!, k) : k.convert(loaded, to: .i32)
}
