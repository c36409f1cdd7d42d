import CLLVM
import SSMCIR

/// RotaryEmbedding, one task per (batch, position): the cos/sin row is the cache row position_ids picks
/// (clamped into the cache, as an out-of-range id has no meaning and must not read outside it) or the
/// (batch, position) row of caches given per position; each head's first rotary_embedding_dim values are
/// rotated as pairs (x[k], x[k + half]), or (x[2k], x[2k + 1]) when interleaved, and the rest copied.
func lowerRotaryEmbedding(_ ctx: LoweringContext) throws {
  let g = try rotaryGeometry(ctx.op)
  let element = ctx.operandType(0).element
  guard element == .f32 || element == .f64 else { throw ctx.error("supports f32 and f64 only, input is \(element)") }
  let t: ScalarType = element == .f64 ? .f64 : .f32
  let interleaved = try ctx.op.int("interleaved") != 0
  let (heads, sequence, size, half) = (g.heads, g.sequence, g.headSize, g.rotaryDim / 2)
  let hasPositions = ctx.hasOperand(3)
  let cacheRows = hasPositions ? ctx.operandShape(1)[0] : g.batch * sequence
  guard cacheRows > 0 || g.batch * sequence == 0 else { throw ctx.error("cos_cache has no rows") }
  // Element strides of (batch, head, position) in X and Y; the head dim is contiguous.
  let strides = g.packed ? [sequence * heads * size, size, heads * size] : [heads * sequence * size, sequence * size, size]
  let k = ctx.k
  func i64(_ v: Int) -> IRValue { k.i64(Int64(v)) }
  var captures = [ctx.operand(0), ctx.operand(1), ctx.operand(2), ctx.results[0]]
  if hasPositions { captures.append(ctx.operand(3)) }
  // One flat index over (batch, position): the pool splits the outermost loop, and the batch is often 1.
  ctx.forEachIndex([g.batch * sequence], work: g.batch * sequence * heads * size, captures: captures, innerHints: LoopHints(vectorize: false)) { index, c in
    let flat = index[0]
    let (b, p) = (flat / i64(sequence), flat % i64(sequence))
    let cacheRow: IRValue
    if hasPositions {
      let id = k.load(.i64, from: c[4], at: flat)
      cacheRow = k.min(k.max(id, i64(0)), i64(cacheRows - 1))
    } else {
      cacheRow = flat
    }
    let cacheBase = cacheRow * i64(half)
    k.forLoop(from: i64(0), to: i64(heads)) { h in
      let base = ctx.flatIndex([b, h, p], strides: strides)
      k.forLoop(from: i64(0), to: i64(half), hints: LoopHints(vectorize: !interleaved)) { e in
        let cos = k.load(t, from: c[1], at: cacheBase + e)
        let sin = k.load(t, from: c[2], at: cacheBase + e)
        let (first, second) = interleaved ? (base + e * i64(2), base + e * i64(2) + i64(1)) : (base + e, base + e + i64(half))
        let (x1, x2) = (k.load(t, from: c[0], at: first), k.load(t, from: c[0], at: second))
        k.store(cos * x1 - sin * x2, t, to: c[3], at: first)
        k.store(sin * x1 + cos * x2, t, to: c[3], at: second)
      }
      if g.rotaryDim < size {
        k.forLoop(from: i64(g.rotaryDim), to: i64(size), hints: LoopHints(vectorize: true)) { e in
          k.store(k.load(t, from: c[0], at: base + e), t, to: c[3], at: base + e)
        }
      }
    }
  }
}
