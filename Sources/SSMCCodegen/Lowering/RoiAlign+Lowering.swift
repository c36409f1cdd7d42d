import CLLVM
import SSMCIR

/// Sampling points per bin and axis are capped at this many when picked adaptively (sampling_ratio 0), so a
/// huge or non-finite run-time RoI cannot turn into an endless loop; real RoIs stay far below it.
private let maximumAdaptiveSamples = 1 << 16

/// RoiAlign following the ONNX reference (and onnxruntime): every output bin averages (or takes the max of)
/// a grid of bilinearly interpolated samples; max mode takes the largest weighted corner of each sample,
/// as both do. The RoI's batch index is clamped into [0, N), and sample positions are clamped into the
/// image before they become indices, so no run-time RoI makes the kernel read outside X.
let lowerRoiAlign: Lowering = { ctx in
  let plan: RoiAlignPlan
  do { plan = try roiAlignPlan(ctx.op) } catch { throw ctx.error("\(error)") }
  let scalar = try ctx.scalar(ctx.operandType(0).element)
  guard scalar.isFloat else { throw ctx.error("RoiAlign needs a float X, got \(ctx.operandType(0).element)") }
  let x = ctx.operandShape(0)
  let out = ctx.resultShape(0)
  let (batch, channels, height, width) = (x[0], x[1], x[2], x[3])
  let (rois, pooledH, pooledW) = (out[0], plan.outputHeight, plan.outputWidth)
  guard rois * channels > 0 else { return }
  guard batch > 0, height > 0, width > 0 else { throw ctx.error("RoiAlign cannot sample the empty X \(x)") }
  let k = ctx.k
  let t = k.type(scalar)
  func c(_ v: Double) -> IRValue { k.constant(v, t) }
  let samples = plan.samplingRatio > 0 ? plan.samplingRatio * plan.samplingRatio : 4

  ctx.forEachIndex(
    [rois, channels], work: rois * channels * pooledH * pooledW * samples * 4,
    captures: [ctx.operand(0), ctx.operand(1), ctx.operand(2), ctx.results[0]], innerHints: LoopHints(vectorize: false)
  ) { index, captured in
    let (src, boxes, batchIndices, dst) = (captured[0], captured[1], captured[2], captured[3])
    let (roi, ch) = (index[0], index[1])
    let b = k.min(k.max(k.load(.i64, from: batchIndices, at: roi), k.i64(0)), k.i64(Int64(batch - 1)))
    let plane = (b * k.i64(Int64(channels)) + ch) * k.i64(Int64(height * width))
    let offset = plan.halfPixel ? 0.5 : 0.0
    func corner(_ i: Int64) -> IRValue {
      k.load(scalar, from: boxes, at: roi * k.i64(4) + k.i64(i)) * c(plan.spatialScale) - offset
    }
    let (startW, startH, endW, endH) = (corner(0), corner(1), corner(2), corner(3))
    var roiW = endW - startW
    var roiH = endH - startH
    if !plan.halfPixel {
      roiW = k.max(roiW, c(1))
      roiH = k.max(roiH, c(1))
    }
    let binH = roiH / Double(pooledH)
    let binW = roiW / Double(pooledW)
    func gridCount(_ bin: IRValue) -> IRValue {
      guard plan.samplingRatio == 0 else { return k.i64(Int64(plan.samplingRatio)) }
      let n = k.intrinsic("llvm.ceil", overloads: [t], [bin])
      // maxnum/minnum drop a NaN operand, so NaN becomes 0 samples.
      return k.convert(k.min(k.max(n, c(0)), c(Double(maximumAdaptiveSamples))), to: .i64)
    }
    let gridH = gridCount(binH)
    let gridW = gridCount(binW)
    let gridHf = k.convert(gridH, to: scalar)
    let gridWf = k.convert(gridW, to: scalar)
    let count = k.convert(k.max(gridH * gridW, k.i64(1)), to: scalar)
    let outBase = (roi * k.i64(Int64(channels)) + ch) * k.i64(Int64(pooledH * pooledW))
    k.forLoop(from: k.i64(0), to: k.i64(Int64(pooledH))) { ph in
      k.forLoop(from: k.i64(0), to: k.i64(Int64(pooledW))) { pw in
        let phf = k.convert(ph, to: scalar)
        let pwf = k.convert(pw, to: scalar)
        let initial = plan.maxMode ? -Double.infinity : 0
        let acc = k.forLoop(from: k.i64(0), to: gridH, carrying: [c(initial)]) { iy, acc in
          let yy = startH + phf * binH + (k.convert(iy, to: scalar) + 0.5) * binH / gridHf
          return k.forLoop(from: k.i64(0), to: gridW, carrying: acc) { ix, acc in
            let xx = startW + pwf * binW + (k.convert(ix, to: scalar) + 0.5) * binW / gridWf
            let v = bilinearSample(k, src, plane, y: yy, x: xx, height: height, width: width, maxMode: plan.maxMode, scalar)
            return [plan.maxMode ? k.max(acc[0], v) : acc[0] + v]
          }
        }[0]
        let empty = k.compare(.eq, gridH * gridW, k.i64(0))
        let value = plan.maxMode ? k.select(empty, c(0), acc) : acc / count
        k.store(value, scalar, to: dst, at: outBase + ph * k.i64(Int64(pooledW)) + pw)
      }
    }
  }
}

/// One sample at (y, x) of an H x W plane: the weighted sum of its four neighbours (or, in max mode, the
/// largest weighted neighbour); 0 when the point lies more than one pixel outside the plane.
private func bilinearSample(
  _ k: KernelBuilder, _ src: IRValue, _ plane: IRValue, y: IRValue, x: IRValue, height: Int, width: Int, maxMode: Bool,
  _ scalar: ScalarType
) -> IRValue {
  let t = y.type
  func c(_ v: Double) -> IRValue { k.constant(v, t) }
  let outside = k.or(
    k.or(k.compare(.lt, y, c(-1)), k.compare(.gt, y, c(Double(height)))),
    k.or(k.compare(.lt, x, c(-1)), k.compare(.gt, x, c(Double(width)))))
  /// The low and high neighbour along one axis and the position's fraction past the low one.
  func axis(_ p: IRValue, _ size: Int) -> (low: IRValue, high: IRValue, frac: IRValue) {
    let clamped = k.min(k.max(p, c(0)), c(Double(size)))
    let low = k.convert(clamped, to: .i64)
    let last = k.i64(Int64(size - 1))
    let atEnd = k.compare(.ge, low, last)
    let lowIndex = k.select(atEnd, last, low)
    let highIndex = k.select(atEnd, last, low + k.i64(1))
    let position = k.select(atEnd, k.convert(last, to: scalar), clamped)
    return (lowIndex, highIndex, position - k.convert(lowIndex, to: scalar))
  }
  let (yl, yh, ly) = axis(y, height)
  let (xl, xh, lx) = axis(x, width)
  let (hy, hx) = (1.0 - ly, 1.0 - lx)
  let w = k.i64(Int64(width))
  func at(_ row: IRValue, _ col: IRValue) -> IRValue { k.load(scalar, from: src, at: plane + row * w + col) }
  let terms = [hy * hx * at(yl, xl), hy * lx * at(yl, xh), ly * hx * at(yh, xl), ly * lx * at(yh, xh)]
  let value = maxMode ? k.max(k.max(terms[0], terms[1]), k.max(terms[2], terms[3])) : terms[0] + terms[1] + terms[2] + terms[3]
  return k.select(outside, c(0), value)
}
