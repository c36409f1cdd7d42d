import CLLVM
import SSMCIR

/// STFT as a direct windowed DFT of each frame, accumulated in f64 with compile-time twiddle tables (see
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
    let lengthV = k.i64(Int64(length))
    let start = i[0] * k.i64(Int64(g.signalLength)) + i[1] * k.i64(Int64(g.frameStep))
    let sums = k.forLoop(
      from: k.i64(0), to: lengthV, hints: LoopHints(vectorize: false), carrying: [k.f64(0), k.f64(0), k.i64(0)]
    ) { t, acc in
      let at = (start + t) * k.i64(Int64(g.components))
      var re = k.convert(k.load(scalar, from: x, at: at), to: .f64)
      var im = g.components == 2 ? k.convert(k.load(scalar, from: x, at: at + k.i64(1)), to: .f64) : k.f64(0)
      if hasWindow {
        let weight = k.convert(k.load(scalar, from: w, at: t), to: .f64)
        re = re * weight
        im = im * weight
      }
      let cv = k.load(.f64, from: cosT, at: acc[2])
      let sv = k.load(.f64, from: sinT, at: acc[2])
      // (re + i·im)(cv - i·sv)
      let next = acc[2] + bin
      return [acc[0] + re * cv + im * sv, acc[1] + im * cv - re * sv,
              k.select(k.compare(.ge, next, lengthV), next - lengthV, next)]
    }
    let out = ((i[0] * k.i64(Int64(g.frames)) + i[1]) * k.i64(Int64(g.bins)) + bin) * k.i64(2)
    k.store(k.convert(sums[0], to: scalar), scalar, to: y, at: out)
    k.store(k.convert(sums[1], to: scalar), scalar, to: y, at: out + k.i64(1))
  }
}
