import CLLVM
import SSMCIR

/// Signal family: the window and mel sources fold at compile time (their lowering copies the folded
/// constant, for when folding did not run); Det runs LU with partial pivoting in the kernel.
let signalLowerings: [String: Lowering] = [
  "HannWindow": writeFolded, "HammingWindow": writeFolded, "BlackmanWindow": writeFolded,
  "MelWeightMatrix": writeFolded, "Det": lowerDet, "DFT": lowerDFT, "STFT": lowerSTFT,
]

/// Det: each matrix is copied to f64 scratch and reduced by Gaussian elimination with partial pivoting;
/// the determinant is the product of the pivots, negated per row swap. A zero pivot column gives 0 (its
/// elimination factors are set to 0 so no inf/NaN arises from the division).
private let lowerDet: Lowering = { ctx in
  let shape = ctx.operandShape(0)
  let m = shape[shape.count - 1]
  let batch = shape.dropLast(2).reduce(1, *)
  let scalar = try ctx.scalar(ctx.operandType(0).element)
  guard scalar == .f32 || scalar == .f64 else { throw ctx.error("Det needs f32 or f64 input") }
  guard batch > 0 else { return }
  let k = ctx.k
  let (x, y) = (ctx.operand(0), ctx.results[0])
  let w = ctx.workspace(bytes: max(m * m, 1) * 8)
  let mv = k.i64(Int64(m))
  func at(_ r: IRValue, _ c: IRValue) -> IRValue { r * mv + c }
  let serial = LoopHints(vectorize: false)
  k.forLoop(from: k.i64(0), to: k.i64(Int64(batch)), hints: serial) { b in
    let base = b * k.i64(Int64(m * m))
    k.forLoop(from: k.i64(0), to: k.i64(Int64(m * m))) { i in
      k.store(k.convert(k.load(scalar, from: x, at: base + i), to: .f64), .f64, to: w, at: i)
    }
    let det = k.forLoop(from: k.i64(0), to: mv, hints: serial, carrying: [k.f64(1)]) { c, acc in
      // The pivot row: the largest magnitude in column c at or below the diagonal.
      let best = k.forLoop(from: c + k.i64(1), to: mv, hints: serial, carrying: [c, k.abs(k.load(.f64, from: w, at: at(c, c)))]) { r, s in
        let v = k.abs(k.load(.f64, from: w, at: at(r, c)))
        let better = k.compare(.gt, v, s[1])
        return [k.select(better, r, s[0]), k.select(better, v, s[1])]
      }
      let p = best[0]
      k.forLoop(from: c, to: mv, hints: serial) { j in
        let a = k.load(.f64, from: w, at: at(c, j))
        k.store(k.load(.f64, from: w, at: at(p, j)), .f64, to: w, at: at(c, j))
        k.store(a, .f64, to: w, at: at(p, j))
      }
      let pivot = k.load(.f64, from: w, at: at(c, c))
      let inverse = k.select(k.compare(.eq, pivot, 0), k.f64(0), 1.0 / pivot)
      k.forLoop(from: c + k.i64(1), to: mv, hints: serial) { r in
        let f = k.load(.f64, from: w, at: at(r, c)) * inverse
        k.forLoop(from: c + k.i64(1), to: mv) { j in
          k.store(k.load(.f64, from: w, at: at(r, j)) - f * k.load(.f64, from: w, at: at(c, j)), .f64, to: w, at: at(r, j))
        }
      }
      let sign = k.select(k.compare(.eq, p, c), k.f64(1), k.f64(-1))
      return [acc[0] * pivot * sign]
    }[0]
    k.store(k.convert(det, to: scalar), scalar, to: y, at: b)
  }
}
