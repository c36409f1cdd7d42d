import CLLVM
import SSMCIR

/// Radix-2 FFT for DFT nodes whose transform length is a power of two (not the inverse of a real
/// transform, which the direct sum handles): each line is loaded into f64 scratch in bit-reversed order
/// (zero padded or truncated to L), then log2(L) butterfly stages run in place with compile-time twiddles.
/// Lines are split into a fixed number of parts, each with its own scratch, run in parallel.
func lowerRadix2DFT(_ ctx: LoweringContext, _ g: DFTGeometry, outer: Int, inner: Int, scalar: ScalarType) {
  let k = ctx.k
  let length = g.length
  let lines = outer * inner
  let parts = Swift.min(lines, 16)
  let perPart = (lines + parts - 1) / parts
  let scratch = ctx.workspace(bytes: parts * 2 * length * 8)
  let (cosTable, sinTable) = twiddleTables(k, length: length)
  var bits = 0
  while 1 << bits < length { bits += 1 }
  let reversed = (0..<length).map { t in (0..<bits).reduce(0) { r, b in r | ((t >> b) & 1) << (bits - 1 - b) } }
  let reverseTable = constantBytes(k, TensorData(int64s: reversed.map(Int64.init)).bytes)
  let sign = g.inverse ? 1.0 : -1.0
  let scale = g.inverse ? 1.0 / Double(length) : 1.0
  let (inC, outC) = (g.inputComponents, g.outputComponents)
  let serial = LoopHints(vectorize: false)
  let captures = [ctx.operand(0), ctx.results[0], scratch, cosTable, sinTable, reverseTable]
  k.parallelFor(count: k.i64(Int64(parts)), pool: ctx.pool, captures: captures, noaliasPointers: false) { begin, end, c in
    let (x, y, work, cosT, sinT, rev) = (c[0], c[1], c[2], c[3], c[4], c[5])
    k.forLoop(from: begin, to: end, hints: serial) { part in
      let s = k.byteOffset(work, part * k.i64(Int64(2 * length * 8)))
      let first = part * k.i64(Int64(perPart))
      let last = k.min(first + k.i64(Int64(perPart)), k.i64(Int64(lines)))
      k.forLoop(from: first, to: last, hints: serial) { line in
        let o = line / k.i64(Int64(inner))
        let i = line % k.i64(Int64(inner))
        let inBase = o * k.i64(Int64(g.inputLength * inner)) + i
        k.forLoop(from: k.i64(0), to: k.i64(Int64(length)), hints: serial) { t in
          let slot = k.load(.i64, from: rev, at: t) * k.i64(2)
          k.store(k.f64(0), .f64, to: s, at: slot)
          k.store(k.f64(0), .f64, to: s, at: slot + k.i64(1))
          k.ifThen(k.compare(.lt, t, k.i64(Int64(g.inputLength)))) {
            let at = (inBase + t * k.i64(Int64(inner))) * k.i64(Int64(inC))
            k.store(k.convert(k.load(scalar, from: x, at: at), to: .f64), .f64, to: s, at: slot)
            if inC == 2 {
              k.store(k.convert(k.load(scalar, from: x, at: at + k.i64(1)), to: .f64), .f64, to: s, at: slot + k.i64(1))
            }
          }
        }
        var half = 1
        while half < length {
          let stride = length / (2 * half)
          k.forLoop(from: k.i64(0), to: k.i64(Int64(length)), step: Int64(2 * half), hints: serial) { start in
            k.forLoop(from: k.i64(0), to: k.i64(Int64(half)), hints: serial) { j in
              let tw = j * k.i64(Int64(stride))
              let (wr, wi) = (k.load(.f64, from: cosT, at: tw), k.load(.f64, from: sinT, at: tw) * sign)
              let a = (start + j) * k.i64(2)
              let b = a + k.i64(Int64(2 * half))
              let (ar, ai) = (k.load(.f64, from: s, at: a), k.load(.f64, from: s, at: a + k.i64(1)))
              let (br, bi) = (k.load(.f64, from: s, at: b), k.load(.f64, from: s, at: b + k.i64(1)))
              let (tr, ti) = (br * wr - bi * wi, br * wi + bi * wr)
              k.store(ar + tr, .f64, to: s, at: a)
              k.store(ai + ti, .f64, to: s, at: a + k.i64(1))
              k.store(ar - tr, .f64, to: s, at: b)
              k.store(ai - ti, .f64, to: s, at: b + k.i64(1))
            }
          }
          half *= 2
        }
        let outBase = o * k.i64(Int64(g.outputLength * inner)) + i
        k.forLoop(from: k.i64(0), to: k.i64(Int64(g.outputLength)), hints: serial) { bin in
          let out = (outBase + bin * k.i64(Int64(inner))) * k.i64(Int64(outC))
          for comp in 0..<outC {
            let v = k.load(.f64, from: s, at: bin * k.i64(2) + k.i64(Int64(comp))) * scale
            k.store(k.convert(v, to: scalar), scalar, to: y, at: out + k.i64(Int64(comp)))
          }
        }
      }
    }
  }
}
