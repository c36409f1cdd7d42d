import CLLVM
import Foundation
import SSMCIR

/// DFT as a direct O(n·L) sum per output bin, accumulated in f64 with twiddles cos/sin(2πm/L) tabulated in
/// double at compile time. The twiddle index k·t mod L is carried and stepped by k, so no division runs in
/// the inner loop. Zero padding (dft_length > n) is the sum stopping at n; truncation stops it at L.
let lowerDFT: Lowering = { ctx in
  let g = try dftGeometry(ctx.op)
  let shape = ctx.operandShape(0)
  let scalar = try ctx.scalar(ctx.operandType(0).element)
  guard scalar == .f32 || scalar == .f64 else { throw ctx.error("DFT needs f32 or f64 input") }
  let outer = shape[..<g.axis].reduce(1, *)
  let inner = shape[(g.axis + 1)..<(shape.count - 1)].reduce(1, *)
  let length = g.length
  if length >= 2 && length & (length - 1) == 0 && !(g.inverse && g.onesided) && outer * inner > 0 {
    lowerRadix2DFT(ctx, g, outer: outer, inner: inner, scalar: scalar)
    return
  }
  // Bins summed: the inverse of a real transform reads the one-sided half of the spectrum only.
  let terms = min(g.inputLength, g.inverse && g.onesided ? length / 2 + 1 : length)
  let k = ctx.k
  let (cosTable, sinTable) = twiddleTables(k, length: length)
  let (inC, outC) = (g.inputComponents, g.outputComponents)
  let sign = g.inverse ? 1.0 : -1.0
  let scale = g.inverse ? 1.0 / Double(length) : 1.0
  ctx.forEachIndex(
    [outer, g.outputLength, inner], work: outer * g.outputLength * inner * max(terms, 1),
    captures: [ctx.operand(0), ctx.results[0], cosTable, sinTable], innerHints: LoopHints(vectorize: false)
  ) { i, c in
    let (x, y, cosT, sinT) = (c[0], c[1], c[2], c[3])
    let bin = i[1]
    let inBase = i[0] * k.i64(Int64(g.inputLength * inner)) + i[2]
    let sums = twiddleSum(k, tables: (cosT, sinT), length: length, terms: terms, bin: bin, sign: sign) { t in
      let at = (inBase + t * k.i64(Int64(inner))) * k.i64(Int64(inC))
      var re = k.convert(k.load(scalar, from: x, at: at), to: .f64)
      var im = inC == 2 ? k.convert(k.load(scalar, from: x, at: at + k.i64(1)), to: .f64) : k.f64(0)
      if g.inverse && g.onesided {
        // Hermitian pairs count twice; DC and (even length) Nyquist once.
        let single = k.or(k.compare(.eq, t, k.i64(0)), k.compare(.eq, t * k.i64(2), k.i64(Int64(length))))
        let weight = k.select(single, k.f64(1), k.f64(2))
        re = re * weight
        im = im * weight
      }
      return (re, im)
    }
    let out = ((i[0] * k.i64(Int64(g.outputLength)) + bin) * k.i64(Int64(inner)) + i[2]) * k.i64(Int64(outC))
    k.store(k.convert(sums.re * scale, to: scalar), scalar, to: y, at: out)
    if outC == 2 { k.store(k.convert(sums.im * scale, to: scalar), scalar, to: y, at: out + k.i64(1)) }
  }
}

/// Read-only f64 tables cos(2πm/L) and sin(2πm/L) for m in 0..<L, computed in double at compile time.
func twiddleTables(_ k: KernelBuilder, length: Int) -> (cos: IRValue, sin: IRValue) {
  let angles = (0..<length).map { 2 * Double.pi * Double($0) / Double(length) }
  return (constantBytes(k, TensorData(.f64, shape: [length], doubles: angles.map(cos)).bytes),
          constantBytes(k, TensorData(.f64, shape: [length], doubles: angles.map(sin)).bytes))
}

/// Σ_{t < terms} x_t·(cos θ + i·sign·sin θ), θ = 2π·(bin·t mod L)/L, accumulated in f64; `term(t)` loads x_t
/// (f64 real and imaginary parts). The twiddle index bin·t mod L is carried and stepped by `bin` (in [0, L)),
/// so no division runs in the loop; `tables` are `twiddleTables` of `length`.
func twiddleSum(
  _ k: KernelBuilder, tables: (cos: IRValue, sin: IRValue), length: Int, terms: Int, bin: IRValue, sign: Double,
  term: (IRValue) -> (re: IRValue, im: IRValue)
) -> (re: IRValue, im: IRValue) {
  let lengthV = k.i64(Int64(length))
  let sums = k.forLoop(
    from: k.i64(0), to: k.i64(Int64(terms)), hints: LoopHints(vectorize: false), carrying: [k.f64(0), k.f64(0), k.i64(0)]
  ) { t, acc in
    let (re, im) = term(t)
    let cv = k.load(.f64, from: tables.cos, at: acc[2])
    let sv = k.load(.f64, from: tables.sin, at: acc[2]) * sign
    // (re + i·im)(cv + i·sv)
    let next = acc[2] + bin
    return [acc[0] + (re * cv - im * sv), acc[1] + (im * cv + re * sv),
            k.select(k.compare(.ge, next, lengthV), next - lengthV, next)]
  }
  return (sums[0], sums[1])
}
