import CLLVM
import SSMCIR

/// MaxRoiPool as onnxruntime computes it (the ONNX reference has none): a RoI (batch, x1, y1, x2, y2)
/// is scaled and rounded to whole pixels (at least 1 x 1), split into pooled_shape bins of equal real
/// size, and each bin [floor(start), ceil(end)) shifted by the RoI origin and clipped to the image takes
/// its maximum; an empty bin is 0. The batch index (truncated toward zero) is clamped into [0, N), and bins
/// are clipped before any load, so no run-time RoI reads outside X.
let lowerMaxRoiPool: Lowering = { ctx in
  let pooled: [Int]
  do { pooled = try maxRoiPoolShape(ctx.op) } catch { throw ctx.error("\(error)") }
  let scale = Double(try ctx.op.float("spatial_scale"))
  let scalar = try ctx.scalar(ctx.operandType(0).element)
  guard scalar.isFloat else { throw ctx.error("MaxRoiPool needs a float X, got \(ctx.operandType(0).element)") }
  let x = ctx.operandShape(0)
  let out = ctx.resultShape(0)
  let (batch, channels, height, width) = (x[0], x[1], x[2], x[3])
  let rois = out[0]
  guard rois * channels > 0 else { return }
  guard batch > 0 else { throw ctx.error("MaxRoiPool cannot pool the empty batch of \(x)") }
  let k = ctx.k
  let t = k.type(scalar)
  func c(_ v: Double) -> IRValue { k.constant(v, t) }
  ctx.forEachIndex(
    [rois, channels], work: rois * channels * height * width, captures: [ctx.operand(0), ctx.operand(1), ctx.results[0]],
    innerHints: LoopHints(vectorize: false)
  ) { index, captured in
    let (src, boxes, dst) = (captured[0], captured[1], captured[2])
    let (roi, ch) = (index[0], index[1])
    func field(_ i: Int64) -> IRValue { k.load(scalar, from: boxes, at: roi * k.i64(5) + k.i64(i)) }
    /// A float bounded to [-limit, limit] (NaN to -limit) so its integer conversion is defined.
    func bounded(_ v: IRValue, _ limit: Double) -> IRValue { k.min(k.max(v, c(-limit)), c(limit)) }
    let limit = Double(max(height, width) + 1) * 4
    let b = k.min(k.max(k.convert(bounded(field(0), Double(batch)), to: .i64), k.i64(0)), k.i64(Int64(batch - 1)))
    func corner(_ i: Int64) -> IRValue {
      k.convert(bounded(k.intrinsic("llvm.round", overloads: [t], [field(i) * c(scale)]), limit), to: .i64)
    }
    let (startW, startH, endW, endH) = (corner(1), corner(2), corner(3), corner(4))
    let roiH = k.max(endH - startH + k.i64(1), k.i64(1))
    let roiW = k.max(endW - startW + k.i64(1), k.i64(1))
    let binH = k.convert(roiH, to: scalar) / Double(pooled[0])
    let binW = k.convert(roiW, to: scalar) / Double(pooled[1])
    let plane = (b * k.i64(Int64(channels)) + ch) * k.i64(Int64(height * width))
    let outBase = (roi * k.i64(Int64(channels)) + ch) * k.i64(Int64(pooled[0] * pooled[1]))
    /// The clipped pixel range [start, end) of bin `p` along an axis of `size` pixels.
    func range(_ p: IRValue, _ bin: IRValue, _ origin: IRValue, _ size: Int) -> (IRValue, IRValue) {
      let pf = k.convert(p, to: scalar)
      let low = k.convert(k.intrinsic("llvm.floor", overloads: [t], [pf * bin]), to: .i64)
      let high = k.convert(k.intrinsic("llvm.ceil", overloads: [t], [(pf + 1.0) * bin]), to: .i64)
      func clip(_ v: IRValue) -> IRValue { k.min(k.max(v + origin, k.i64(0)), k.i64(Int64(size))) }
      return (clip(low), clip(high))
    }
    k.forLoop(from: k.i64(0), to: k.i64(Int64(pooled[0]))) { ph in
      let (h0, h1) = range(ph, binH, startH, height)
      k.forLoop(from: k.i64(0), to: k.i64(Int64(pooled[1]))) { pw in
        let (w0, w1) = range(pw, binW, startW, width)
        let best = k.forLoop(from: h0, to: h1, carrying: [c(-Double.infinity)]) { h, acc in
          k.forLoop(from: w0, to: w1, carrying: acc) { w, acc in
            [k.max(acc[0], k.load(scalar, from: src, at: plane + h * k.i64(Int64(width)) + w))]
          }
        }[0]
        let empty = k.or(k.compare(.le, h1, h0), k.compare(.le, w1, w0))
        k.store(k.select(empty, c(0), best), scalar, to: dst, at: outBase + ph * k.i64(Int64(pooled[1])) + pw)
      }
    }
  }
}
