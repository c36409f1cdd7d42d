import CLLVM
import SSMCIR

/// Attention and RotaryEmbedding (opset 23 on).
let attentionLowerings: [String: Lowering] = [
  "Attention": { ctx in try lowerAttention(ctx) },
  "RotaryEmbedding": { ctx in try lowerRotaryEmbedding(ctx) },
]

/// Element strides of a (batch, heads, sequence) position in a Q/K/V-like tensor, whose head dim is
/// contiguous: packed (batch, sequence, heads·size) or 4-D (batch, heads, sequence, size).
private func headStrides(packed: Bool, heads: Int, sequence: Int, size: Int) -> [Int] {
  packed ? [sequence * heads * size, size, heads * size] : [heads * sequence * size, sequence * size, size]
}

/// Attention, one task per (batch, query head, query position): the score row against every key is built
/// in the workspace (Q·K with Q and K each scaled by √scale as the spec does, soft-capped, then the mask,
/// causal, window and padding bias), softmaxed in softmax_precision, and contracted with V into Y's row.
/// With a KV cache (or when present_key/present_value are asked for) past and new keys/values are first
/// concatenated into present_key/present_value (or workspace), which the rows then read.
private func lowerAttention(_ ctx: LoweringContext) throws {
  let op = ctx.op
  let g = try attentionGeometry(op)
  let element = ctx.operandType(0).element
  guard element == .f32 || element == .f64 else { throw ctx.error("supports f32 and f64 only, Q is \(element)") }
  let t: ScalarType = element == .f64 ? .f64 : .f32
  let s: ScalarType
  switch try op.optionalInt("softmax_precision") {
  case nil: s = t
  case 1?: s = .f32
  case 11?: s = .f64
  case let p?: throw ctx.error("softmax_precision \(p) (a 16-bit float) is not supported")
  }
  let mode = try op.int("qk_matmul_output_mode")
  let softcap = Double(try op.float("softcap"))
  let causal = try op.int("is_causal") != 0
  let (left, right) = (try op.int("left_window_size"), try op.int("right_window_size"))
  let (hasMask, hasPast, hasNonpad) = (ctx.hasOperand(3), ctx.hasOperand(4), ctx.hasOperand(6))
  let maskIsBool = hasMask && ctx.operandType(3).element == .bool
  let (batch, hq, hkv, sq, skv, past) = (g.batch, g.queryHeads, g.kvHeads, g.querySequence, g.kvSequence, g.pastSequence)
  let (d, dv, total) = (g.headSize, g.valueHeadSize, g.totalSequence)
  let group = hq / hkv
  let k = ctx.k
  func i64(_ v: Int) -> IRValue { k.i64(Int64(v)) }
  let resultCount = ctx.results.count
  guard batch * hq * sq > 0 else { return }

  // Present keys/values: past then new, (batch, kv heads, total, size), in the result or in the workspace.
  var keys = (buffer: ctx.operand(1), strides: headStrides(packed: g.packed, heads: hkv, sequence: skv, size: d))
  var values = (buffer: ctx.operand(2), strides: headStrides(packed: g.packed, heads: hkv, sequence: skv, size: dv))
  for (which, size) in [(1, d), (2, dv)] where hasPast || resultCount > which {
    let destination = resultCount > which ? ctx.results[which] : ctx.workspace(bytes: batch * hkv * total * size * t.byteSize)
    let source = which == 1 ? keys : values
    var captures = [source.buffer, destination]
    if hasPast { captures.append(ctx.operand(which + 3)) }
    ctx.forEachIndex([batch * hkv], work: batch * hkv * total * size, captures: captures, innerHints: LoopHints(vectorize: false)) { task, c in
      let bh = task[0]
      let (b, h) = (bh / i64(hkv), bh % i64(hkv))
      let outBase = bh * i64(total * size)
      if hasPast {
        k.forLoop(from: i64(0), to: i64(past * size), hints: LoopHints(vectorize: true)) { e in
          k.store(k.load(t, from: c[2], at: bh * i64(past * size) + e), t, to: c[1], at: outBase + e)
        }
      }
      k.forLoop(from: i64(0), to: i64(skv)) { position in
        let from = ctx.flatIndex([b, h, position], strides: source.strides)
        let to = outBase + (position + i64(past)) * i64(size)
        k.forLoop(from: i64(0), to: i64(size), hints: LoopHints(vectorize: true)) { e in
          k.store(k.load(t, from: c[0], at: from + e), t, to: c[1], at: to + e)
        }
      }
    }
    let strides = [hkv * total * size, total * size, size]
    if which == 1 { keys = (destination, strides) } else { values = (destination, strides) }
  }

  // Mask strides over (batch, q heads, q positions); its key dim is contiguous and may be shorter than
  // `total`: the keys past its end are masked (the spec pads it with False / -inf).
  var maskStrides = [0, 0, 0]
  var maskLength = total
  if hasMask {
    let shape = ctx.operandShape(3)
    maskLength = shape.last!
    let lead = Array(shape.dropLast())
    let padded = [Int](repeating: 1, count: 3 - lead.count) + lead
    let rowStrides = rowMajorStrides(padded).map { $0 * maskLength }
    maskStrides = zip(padded, rowStrides).map { $0 == 1 ? 0 : $1 }
  }
  let qStrides = headStrides(packed: g.packed, heads: hq, sequence: sq, size: d)
  let yStrides = headStrides(packed: g.packed, heads: hq, sequence: sq, size: dv)
  let scores = ctx.workspace(bytes: batch * hq * sq * total * s.byteSize)
  let probabilities = ctx.workspace(bytes: batch * hq * sq * total * t.byteSize)
  // The spec scales Q and K by √scale each, rounded to T1.
  let rootScale = t == .f32 ? Double(Float(g.scale.squareRoot())) : g.scale.squareRoot()
  var captures = [ctx.operand(0), keys.buffer, values.buffer, ctx.results[0], scores, probabilities]
  let maskSlot = captures.count
  if hasMask { captures.append(ctx.operand(3)) }
  let nonpadSlot = captures.count
  if hasNonpad { captures.append(ctx.operand(6)) }
  let qkSlot = captures.count
  if resultCount > 3 { captures.append(ctx.results[3]) }
  let work = batch * hq * sq * total * (d + dv + 4)
  ctx.forEachIndex([batch, hq, sq], work: work, captures: captures, innerHints: LoopHints(vectorize: false)) { index, c in
    let (b, h, i) = (index[0], index[1], index[2])
    let kvHead = h / i64(group)
    let qBase = ctx.flatIndex([b, h, i], strides: qStrides)
    let kBase = ctx.flatIndex([b, kvHead], strides: Array(keys.strides.prefix(2)))
    let vBase = ctx.flatIndex([b, kvHead], strides: Array(values.strides.prefix(2)))
    let row = ((b * i64(hq) + h) * i64(sq) + i) * i64(total)
    let maskBase = ctx.flatIndex([b, h, i], strides: maskStrides)
    let nonpad: IRValue? = hasNonpad ? k.load(.i64, from: c[nonpadSlot], at: b) : nil
    // The query's absolute position: keys before the block (past, or the external cache's valid keys).
    let offset = hasPast ? i64(past) : nonpad.map { $0 - i64(sq) } ?? i64(0)
    let position = i + offset
    let tType = k.type(t)
    let sType = k.type(s)
    let negativeInfinity = k.constant(-.infinity, sType)
    let carried = k.forLoop(from: i64(0), to: i64(total), carrying: [negativeInfinity, i64(0)]) { j, acc in
      let keyRow = kBase + j * i64(keys.strides[2])
      let dot = k.forLoop(from: i64(0), to: i64(d), carrying: [k.constant(0, tType)]) { e, sum in
        let qe = k.load(t, from: c[0], at: qBase + e) * rootScale
        let ke = k.load(t, from: c[1], at: keyRow + e) * rootScale
        return [k.mulAdd(qe, ke, sum[0])]
      }[0]
      let capped = softcap > 0 ? math(k, .tanh, dot / softcap) * softcap : dot
      var allowed = k.bool(true)
      if causal { allowed = k.and(allowed, k.compare(.le, j, position)) }
      if left >= 0 { allowed = k.and(allowed, k.compare(.le, position - j, i64(left))) }
      if right >= 0 { allowed = k.and(allowed, k.compare(.le, j - position, i64(right))) }
      if let nonpad { allowed = k.and(allowed, k.compare(.lt, j, nonpad)) }
      var biased = capped
      if hasMask {
        let at = maskBase + k.min(j, i64(maskLength - 1))
        let inside = maskLength < total ? k.compare(.lt, j, i64(maskLength)) : k.bool(true)
        if maskIsBool {
          allowed = k.and(allowed, k.and(inside, k.load(.i1, from: c[maskSlot], at: at)))
        } else {
          let bias = k.load(t, from: c[maskSlot], at: at)
          allowed = k.and(allowed, k.and(inside, k.compare(.ne, bias, k.constant(-.infinity, tType))))
          biased = capped + bias
        }
      }
      let score = k.select(allowed, biased, k.constant(-.infinity, tType))
      if resultCount > 3 && mode < 3 {
        k.store([dot, capped, score][mode], t, to: c[qkSlot], at: row + j)
      }
      let value = s == t ? score : k.convert(score, to: s)
      k.store(value, s, to: c[4], at: row + j)
      return [k.max(acc[0], value), acc[1] + k.select(allowed, i64(1), i64(0))]
    }
    // Softmax; a row with no allowed key (its whole bias is -inf) is all zeros, as the spec's guard.
    let maximum = k.select(k.compare(.eq, carried[0], negativeInfinity), k.constant(0, sType), carried[0])
    let sum = k.forLoop(from: i64(0), to: i64(total), carrying: [k.constant(0, sType)]) { j, acc in
      let e = math(k, .exp, k.load(s, from: c[4], at: row + j) - maximum)
      k.store(e, s, to: c[4], at: row + j)
      return [acc[0] + e]
    }[0]
    let divisor = k.select(k.compare(.eq, sum, k.constant(0, sType)), k.constant(1, sType), sum)
    let anyAllowed = k.compare(.gt, carried[1], i64(0))
    k.forLoop(from: i64(0), to: i64(total)) { j in
      let p = k.select(anyAllowed, k.load(s, from: c[4], at: row + j) / divisor, k.constant(0, sType))
      let pt = s == t ? p : k.convert(p, to: t)
      k.store(pt, t, to: c[5], at: row + j)
      if resultCount > 3 && mode == 3 { k.store(pt, t, to: c[qkSlot], at: row + j) }
    }
    // Y's row = Σ_j p_j · V_j (the probabilities in T1, as the spec casts them back before this product).
    let yBase = ctx.flatIndex([b, h, i], strides: yStrides)
    k.forLoop(from: i64(0), to: i64(dv), hints: LoopHints(vectorize: true)) { e in
      k.store(k.constant(0, tType), t, to: c[3], at: yBase + e)
    }
    k.forLoop(from: i64(0), to: i64(total)) { j in
      let p = k.load(t, from: c[5], at: row + j)
      let valueRow = vBase + j * i64(values.strides[2])
      k.forLoop(from: i64(0), to: i64(dv), hints: LoopHints(vectorize: true)) { e in
        let updated = k.mulAdd(p, k.load(t, from: c[2], at: valueRow + e), k.load(t, from: c[3], at: yBase + e))
        k.store(updated, t, to: c[3], at: yBase + e)
      }
    }
  }
}
