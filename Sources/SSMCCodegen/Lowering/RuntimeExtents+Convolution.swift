import CLLVM
import SSMCIR

// Conv over spatial extents given at run time. The window geometry is the shape rule's (`convWindows`), with
// sizes, window counts and pads evaluated at run time: SAME padding of a symbolic axis with stride > 1
// depends on the size, so its pads are computed in the kernel from the size, as the static rule does.

extension Lowerings {
  /// Convolutions, pools, reductions and Gemm (this file, RuntimeExtents+Pooling/Reduction/Gemm).
  static let runtimeSizedConvolution: Set<String> = [
    "Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "ReduceMean", "ReduceSum", "ReduceMax",
    "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp", "Gemm",
  ]
}

/// One spatial axis of a window with run-time extents: kernel, stride and dilation are attributes; the input
/// size, the window count and the pads are i64 values.
struct RuntimeWindowAxis {
  var kernel: Int
  var stride: Int
  var dilation: Int
  var size: IRValue
  var output: IRValue
  var padBegin: IRValue
  var padEnd: IRValue

  /// The four run-time values, for passing an axis into an outlined loop body.
  var values: [IRValue] { [size, output, padBegin, padEnd] }

  /// The same axis with its run-time values taken from `values` (four, as `values` lists them).
  func rebound(_ values: ArraySlice<IRValue>) -> RuntimeWindowAxis {
    var axis = self
    let v = Array(values)
    (axis.size, axis.output, axis.padBegin, axis.padEnd) = (v[0], v[1], v[2], v[3])
    return axis
  }
}

extension [RuntimeWindowAxis] {
  var values: [IRValue] { flatMap(\.values) }
  /// The axes with their values taken from `values` (four per axis).
  func rebound(_ values: ArraySlice<IRValue>) -> [RuntimeWindowAxis] {
    let start = values.startIndex
    return indices.map { self[$0].rebound(values[(start + 4 * $0)..<(start + 4 * $0 + 4)]) }
  }
}

extension LoweringContext {
  /// `windows` (from the op's shape rule) with their extents as i64 values. SAME pads over a symbolic size
  /// with stride > 1 are left for run time by the rule: total = max(0, (out - 1) * stride + kernel extent
  /// - size), the odd pixel at the end (SAME_UPPER) or the beginning (SAME_LOWER).
  func runtimeWindowAxes(_ windows: [WindowAxis]) throws -> [RuntimeWindowAxis] {
    let autoPad = try op.string("auto_pad") ?? "NOTSET"
    return windows.map { w in
      var axis = RuntimeWindowAxis(
        kernel: w.kernel, stride: w.stride, dilation: w.dilation, size: extent(w.input), output: extent(w.output),
        padBegin: k.i64(Int64(w.padBegin)), padEnd: k.i64(Int64(w.padEnd)))
      if autoPad.hasPrefix("SAME") && w.input.value == nil && w.stride > 1 {
        let reach = (axis.output - k.i64(1)) * k.i64(Int64(w.stride)) + k.i64(Int64(w.effectiveKernel))
        let total = k.max(reach - axis.size, k.i64(0))
        let half = total / k.i64(2)
        (axis.padBegin, axis.padEnd) = autoPad == "SAME_UPPER" ? (half, total - half) : (total - half, half)
      }
      return axis
    }
  }
}

extension KernelBuilder {
  /// ceil(max(n, 0) / d) for d > 0: the first multiple count at or past n, never below 0.
  func ceilDividedClamped(_ n: IRValue, by d: Int) -> IRValue {
    (max(n, i64(0)) + i64(Int64(d - 1))) / i64(Int64(d))
  }

  /// The kernel positions q of `axis` whose input coordinate `origin + q * dilation` lies in [0, size):
  /// q in [lower, upper), upper >= lower.
  func validTaps(_ axis: RuntimeWindowAxis, origin: IRValue) -> (lower: IRValue, upper: IRValue) {
    let lower = ceilDividedClamped(-origin, by: axis.dilation)
    let upper = min(ceilDividedClamped(axis.size - origin, by: axis.dilation), i64(Int64(axis.kernel)))
    return (lower, max(upper, lower))
  }

  /// Horner's row-major flat index of `index` in `extents`, starting from `base` (the outer flat index).
  func rowMajor(_ index: [IRValue], _ extents: [IRValue], base: IRValue) -> IRValue {
    zip(index, extents).reduce(base) { $0 * $1.1 + $1.0 }
  }
}

/// Conv (any rank, groups, pads, strides, dilations, bias) over run-time extents. Rows along the last spatial
/// axis are the unit of work; kernel positions whose input row lies outside X are skipped by loop bounds, and
/// along the row the input is read under a mask of the output positions whose input lies inside X, so no
/// position needs padding (see `emitRuntimeConvBlocks`).
func lowerRuntimeConv(_ ctx: LoweringContext) throws {
  let (x, w, y) = (ctx.operandType(0), ctx.operandType(1), ctx.resultType(0))
  let element = try ctx.scalar(y.element)
  guard element.isFloat, x.element == y.element, w.element == y.element, ctx.stridedOperands.isEmpty else {
    throw ctx.error("with run-time extents, Conv takes contiguous f32 or f64 operands, got X \(x) and W \(w)")
  }
  let windows: [WindowAxis]
  do { windows = try convWindows(ctx.op) } catch { throw ctx.error("\(error)") }
  let groups = try ctx.op.int("group")
  let channels = try ctx.staticExtents(x.dims[1...1], what: "X's channels")[0]
  let outChannels = try ctx.staticExtents(w.dims[0...0], what: "W's output channels")[0]
  let hasBias = ctx.hasOperand(2)
  let shape = RuntimeConvShape(
    element: element, channels: channels, outChannels: outChannels, inPerGroup: channels / groups,
    outPerGroup: outChannels / groups, kernelVolume: windows.reduce(1) { $0 * $1.kernel }, hasBias: hasBias)
  let pointers = [ctx.operand(0), ctx.operand(1), ctx.results[0]] + (hasBias ? [ctx.operand(2)] : [])
  emitRuntimeConvBlocks(ctx, shape, axes: try ctx.runtimeWindowAxes(windows), batch: ctx.extent(x.dims[0]), pointers: pointers)
}

/// The static sizes of a Conv with run-time spatial extents.
struct RuntimeConvShape {
  var element: ScalarType
  var channels: Int
  var outChannels: Int
  var inPerGroup: Int
  var outPerGroup: Int
  var kernelVolume: Int
  var hasBias: Bool
}

/// Conv rows: each iteration owns one row of up to 8 output channels of a group, and computes it a vector of
/// output positions at a time with the accumulators in registers: every kernel position loads the input
/// (contiguous with unit stride, else gathered) under a mask of the positions whose input is inside X
/// (masked-off lanes are never read) and broadcasts each channel's weight into its accumulator.
private func emitRuntimeConvBlocks(
  _ ctx: LoweringContext, _ s: RuntimeConvShape, axes: [RuntimeWindowAxis], batch: IRValue, pointers: [IRValue]
) {
  let k = ctx.k
  let element = s.element
  let lanes = element == .f64 ? ctx.vectorLanes / 2 : ctx.vectorLanes
  let block = [8, 4, 2, 1].first { s.outPerGroup % $0 == 0 }!
  let blocksPerImage = s.outChannels / block
  let rows = [batch * k.i64(Int64(blocksPerImage))] + axes.dropLast().map(\.output)
  let vectorType = k.type(element, lanes: lanes)
  ctx.forEachIndex(extents: rows, captures: pointers + axes.values) { index, c in
    let axes = axes.rebound(c[pointers.count...])
    let (last, leading) = (axes[axes.count - 1], Array(axes.dropLast()))
    let n = index[0] / k.i64(Int64(blocksPerImage))
    let firstOut = (index[0] - n * k.i64(Int64(blocksPerImage))) * k.i64(Int64(block))
    let firstChannel = firstOut / k.i64(Int64(s.outPerGroup)) * k.i64(Int64(s.inPerGroup))
    let outPlane = n * k.i64(Int64(s.outChannels)) + firstOut
    let yRows = (0..<block).map { j in k.rowMajor(Array(index[1...]), leading.map(\.output), base: outPlane + k.i64(Int64(j))) * last.output }
    let starts = (0..<block).map { j in
      s.hasBias ? k.splat(k.load(element, from: c[3], at: firstOut + k.i64(Int64(j))), lanes: lanes) : k.constant(0, vectorType)
    }
    let inputPlane = axes.dropFirst().reduce(axes[0].size) { $0 * $1.size }
    let vectors = (last.output + k.i64(Int64(lanes - 1))) / k.i64(Int64(lanes))
    k.forLoop(from: k.i64(0), to: vectors, hints: LoopHints(vectorize: false)) { v in
      let first = v * k.i64(Int64(lanes))
      let positions = k.splat(first, lanes: lanes) + k.laneIndices(lanes: lanes)
      let sums = k.forLoop(from: k.i64(0), to: k.i64(Int64(s.inPerGroup)), hints: LoopHints(vectorize: false), carrying: starts) { ci, accs in
        let xPlane = (n * k.i64(Int64(s.channels)) + firstChannel + ci) * inputPlane
        let wBase = (firstOut * k.i64(Int64(s.inPerGroup)) + ci) * k.i64(Int64(s.kernelVolume))
        return k.forEachInsideRow(leading, outputs: Array(index[1...]), carrying: accs) { inputRow, kernelRow, accs in
          let xRow = xPlane + inputRow * last.size
          let wRow = wBase + kernelRow * k.i64(Int64(last.kernel))
          return k.forLoop(from: k.i64(0), to: k.i64(Int64(last.kernel)), hints: LoopHints(vectorize: false), carrying: accs) { q, carried in
            let shift = q * k.i64(Int64(last.dilation)) - last.padBegin
            let input = k.windowRowLoad(element, lanes: lanes, from: c[0], row: xRow, positions: positions, stride: last.stride, shift: shift, size: last.size)
            return (0..<block).map { j in
              let weight = k.load(element, from: c[1], at: wRow + q + k.i64(Int64(j * s.inPerGroup * s.kernelVolume)))
              return k.mulAdd(input.value, k.splat(weight, lanes: lanes), carried[j])
            }
          }
        }
      }
      let inRow = k.compare(.lt, positions, k.splat(last.output, lanes: lanes))
      for j in 0..<block { k.storeVector(sums[j], element, to: c[2], at: yRows[j] + first, mask: inRow) }
    }
  }
}

extension KernelBuilder {
  /// Visits the kernel positions of the `leading` window axes (all but the last) whose input row lies inside
  /// X, for the output row at `outputs`: `body(input row, kernel row, carried)` gets the row-major indices
  /// of the input row among X's rows and of the kernel row among the kernel's rows.
  func forEachInsideRow(
    _ leading: [RuntimeWindowAxis], outputs: [IRValue], carrying initial: [IRValue],
    body: (_ inputRow: IRValue, _ kernelRow: IRValue, _ carried: [IRValue]) -> [IRValue]
  ) -> [IRValue] {
    func level(_ a: Int, _ inputRow: IRValue, _ kernelRow: IRValue, _ carried: [IRValue]) -> [IRValue] {
      guard a < leading.count else { return body(inputRow, kernelRow, carried) }
      let axis = leading[a]
      let origin = outputs[a] * i64(Int64(axis.stride)) - axis.padBegin
      let (lower, upper) = validTaps(axis, origin: origin)
      return forLoop(from: lower, to: upper, hints: LoopHints(vectorize: false), carrying: carried) { q, c in
        let coordinate = origin + q * i64(Int64(axis.dilation))
        return level(a + 1, inputRow * axis.size + coordinate, kernelRow * i64(Int64(axis.kernel)) + q, c)
      }
    }
    return level(0, i64(0), i64(0), initial)
  }

  /// The inputs read by a vector of output `positions` (i64 lanes) along one input row starting at element
  /// `row`: position o reads o * stride + shift, and `inside` marks the lanes where that lies in [0, size).
  /// The other lanes read as 0 and are never accessed (contiguous masked load, or a gather when strided).
  func windowRowLoad(
    _ element: ScalarType, lanes: Int, from base: IRValue, row: IRValue, positions: IRValue, stride: Int, shift: IRValue, size: IRValue
  ) -> (value: IRValue, inside: IRValue, taps: IRValue) {
    let taps = (stride == 1 ? positions : positions * splat(i64(Int64(stride)), lanes: lanes)) + splat(shift, lanes: lanes)
    let inside = and(compare(.ge, taps, splat(i64(0), lanes: lanes)), compare(.lt, taps, splat(size, lanes: lanes)))
    let vectorType = type(element, lanes: lanes)
    // Plain GEPs, not inbounds: a masked-off lane's address may lie outside the array.
    if stride == 1 {
      var offsets = [Optional((row + extractLane(taps, 0)).ref)]
      let address = IRValue(LLVMBuildGEP2(llvm.builder, type(element), base.ref, &offsets, 1, "")!, self)
      let value = intrinsic("llvm.masked.load", overloads: [vectorType, llvm.ptr], [address, i32(Int32(element.byteSize)), inside, constant(0, vectorType)])
      return (value, inside, taps)
    }
    var offsets = [Optional((splat(row, lanes: lanes) + taps).ref)]
    let addresses = IRValue(LLVMBuildGEP2(llvm.builder, type(element), base.ref, &offsets, 1, "")!, self)
    let value = intrinsic(
      "llvm.masked.gather", overloads: [vectorType, llvm.vector(llvm.ptr, lanes: lanes)],
      [addresses, i32(Int32(element.byteSize)), inside, constant(0, vectorType)])
    return (value, inside, taps)
  }
}
