import CLLVM
import SSMCIR

/// STFT as a direct windowed DFT of each frame, accumulated in f64 by DFT's `twiddleSum` (see
/// DFT+Lowering). Frames, bins and batch entries run in parallel.
let lowerSTFT: Lowering = { ctx in
  let g = try stftGeometry(ctx.op)
  let scalar = try ctx.scalar(ctx.operandType(0).element)
  guard scalar == .f32 || scalar == .f64 else { throw ctx.error("STFT needs f32 or f64 input") }
  let k = ctx.k
  let length = g.frameLength
  let (cosTable, sinTable) = twiddleTables(k, length: length)
  let hasWindow = ctx.op.has(2)
  let window = hasWindow ? ctx.operand(2) : cosTable  // unused placeholder when there is no window
  ctx.forEachIndex(
    [g.batch, g.frames, g.bins], work: g.batch * g.frames * g.bins * length,
    captures: [ctx.operand(0), ctx.results[0], cosTable, sinTable, window], innerHints: LoopHints(vectorize: false)
  ) { i, c in
    let (x, y, cosT, sinT, w) = (c[0], c[1], c[2], c[3], c[4])
    let bin = i[2]
    let start = i[0] * k.i64(Int64(g.signalLength)) + i[1] * k.i64(Int64(g.frameStep))
    let sums = twiddleSum(k, tables: (cosT, sinT), length: length, terms: length, bin: bin, sign: -1) { t in
      let at = (start + t) * k.i64(Int64(g.components))
      var re = k.convert(k.load(scalar, from: x, at: at), to: .f64)
      var im = g.components == 2 ? k.convert(k.load(scalar, from: x, at: at + k.i64(1)), to: .f64) : k.f64(0)
      if hasWindow {
        let weight = k.convert(k.load(scalar, from: w, at: t), to: .f64)
        re = re * weight
        im = im * weight
      }
      return (re, im)
    }
    let out = ((i[0] * k.i64(Int64(g.frames)) + i[1]) * k.i64(Int64(g.bins)) + bin) * k.i64(2)
    k.store(k.convert(sums.re, to: scalar), scalar, to: y, at: out)
    k.store(k.convert(sums.im, to: scalar), scalar, to: y, at: out + k.i64(1))
  }
}
