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

/// Attention as products: S = Q·Kᵀ for every head at once (the GEMM machinery of Linalg+Lowering.swift,
/// a grouped KV head read by each query head of its group through a zero batch stride), then one pass per
/// (batch, head, query) row scaling, soft-capping and biasing it (mask, causal, window, padding) and
/// taking its softmax in softmax_precision, then Y = P·V written through Y's strides. With a KV cache (or
/// when present_key/present_value are asked for) past and new keys/values are first concatenated into
/// present_key/present_value (or the workspace), which the products then read.
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
    let strides = [hkv * total * size, total * size, size]
    if hasPast {
      ctx.stridedCopy(
        [batch, hkv, past, size], scalar: t, from: ctx.operand(which + 3), strides: rowMajorStrides([batch, hkv, past, size]),
        to: destination, strides: strides + [1])
    }
    ctx.stridedCopy(
      [batch, hkv, skv, size], scalar: t, from: source.buffer, strides: source.strides + [1], to: destination,
      destOffset: past * size, strides: strides + [1])
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
  let rows = batch * hq * sq
  // Scores in T1 (the products, then the probabilities), and in softmax_precision when that differs.
  let scores = ctx.workspace(bytes: rows * total * t.byteSize)
  let softmaxScores = s == t ? scores : ctx.workspace(bytes: rows * total * s.byteSize)

  // Q·Kᵀ for every (batch, KV head, head of its group): the group index has a K stride of 0.
  let scoresProblem = MatMulProblem(
    batch: [batch, hkv, group], m: sq, n: total, k: d,
    aBatchStrides: [qStrides[0], group * qStrides[1], qStrides[1]], aM: qStrides[2], aK: 1,
    bBatchStrides: [keys.strides[0], keys.strides[1], 0], bK: 1, bN: keys.strides[2])
  try emitMatMul(ctx, scoresProblem, a: ctx.operand(0), b: keys.buffer, bConstant: nil, c: scores)

  // The spec scales Q and K by √scale each (rounded to T1); the product is scaled once here instead.
  let rootScale = t == .f32 ? Double(Float(g.scale.squareRoot())) : g.scale.squareRoot()
  let productScale = t == .f32 ? Double(Float(rootScale) * Float(rootScale)) : rootScale * rootScale
  // Captured pointers are noalias: the softmax buffer is captured apart only when it is another buffer.
  var captures = s == t ? [scores] : [scores, softmaxScores]
  let softmaxSlot = captures.count - 1
  let maskSlot = captures.count
  if hasMask { captures.append(ctx.operand(3)) }
  let nonpadSlot = captures.count
  if hasNonpad { captures.append(ctx.operand(6)) }
  let qkSlot = captures.count
  if resultCount > 3 { captures.append(ctx.results[3]) }
  // One flat index over the rows: the pool splits the outermost loop, and the batch is often 1. f32 rows
  // go a vector of keys at a time (tails masked); f64 or mixed precision (libm's exp) one key at a time.
  let lanes = s == .f32 && t == .f32 ? ctx.vectorLanes : 1
  ctx.forEachIndex([rows], work: rows * total * 8, captures: captures, innerHints: LoopHints(vectorize: false)) { index, c in
    let (bh, i) = (index[0] / i64(sq), index[0] % i64(sq))
    let (b, h) = (bh / i64(hq), bh % i64(hq))
    let row = index[0] * i64(total)
    let maskBase = ctx.flatIndex([b, h, i], strides: maskStrides)
    let nonpad: IRValue? = hasNonpad ? k.load(.i64, from: c[nonpadSlot], at: b) : nil
    // The query's absolute position: keys before the block (past, or the external cache's valid keys).
    let offset = hasPast ? i64(past) : nonpad.map { $0 - i64(sq) } ?? i64(0)
    func splat(_ x: IRValue) -> IRValue { lanes > 1 ? k.splat(x, lanes: lanes) : x }
    func constant(_ value: Double, _ scalar: ScalarType) -> IRValue { k.constant(value, k.type(scalar, lanes: lanes)) }
    let position = splat(i + offset)
    let everywhere = splat(k.bool(true))
    let carried = k.forVectors(count: total, lanes: lanes, carrying: [constant(-.infinity, s), constant(0, s)]) { j, tail, acc in
      let key = lanes > 1 ? splat(j) + k.laneIndices(lanes: lanes) : j
      let dot = k.loadVector(t, lanes: lanes, from: c[0], at: row + j, mask: tail) * productScale
      let capped = softcap > 0 ? math(k, .tanh, dot / softcap) * softcap : dot
      var allowed = tail ?? everywhere
      if causal { allowed = k.and(allowed, k.compare(.le, key, position)) }
      if left >= 0 { allowed = k.and(allowed, k.compare(.le, position - key, splat(i64(left)))) }
      if right >= 0 { allowed = k.and(allowed, k.compare(.le, key - position, splat(i64(right)))) }
      if let nonpad { allowed = k.and(allowed, k.compare(.lt, key, splat(nonpad))) }
      var biased = capped
      if hasMask {
        // Keys past the mask's end are masked; their lanes are not read.
        let inside = maskLength < total ? k.compare(.lt, key, splat(i64(maskLength))) : everywhere
        let readable = tail.map { k.and($0, inside) } ?? inside
        let at = lanes > 1 ? maskBase + j : maskBase + k.min(j, i64(maskLength - 1))
        let loadMask: IRValue? = lanes > 1 && (tail != nil || maskLength < total) ? readable : nil
        if maskIsBool {
          allowed = k.and(allowed, k.and(inside, k.loadVector(.i1, lanes: lanes, from: c[maskSlot], at: at, mask: loadMask)))
        } else {
          let bias = k.loadVector(t, lanes: lanes, from: c[maskSlot], at: at, mask: loadMask)
          allowed = k.and(allowed, k.and(inside, k.compare(.ne, bias, constant(-.infinity, t))))
          biased = capped + bias
        }
      }
      let score = k.select(allowed, biased, constant(-.infinity, t))
      if resultCount > 3 && mode < 3 {
        k.storeVector([dot, capped, score][mode], t, to: c[qkSlot], at: row + j, mask: tail)
      }
      let value = s == t ? score : k.convert(score, to: s)
      k.storeVector(value, s, to: c[softmaxSlot], at: row + j, mask: tail)
      return [k.max(acc[0], value), acc[1] + k.select(allowed, constant(1, s), constant(0, s))]
    }
    let rowMaximum = lanes > 1 ? k.horizontal(carried[0]) { k.max($0, $1) } : carried[0]
    let allowedCount = lanes > 1 ? k.horizontal(carried[1]) { $0 + $1 } : carried[1]
    // Softmax; a row with no allowed key (its whole bias is -inf) is all zeros, as the spec's guard.
    let sType = k.type(s)
    let isEmpty = k.compare(.eq, rowMaximum, k.constant(-.infinity, sType))
    let maximum = splat(k.select(isEmpty, k.constant(0, sType), rowMaximum))
    let partial = k.forVectors(count: total, lanes: lanes, carrying: [constant(0, s)]) { j, tail, acc in
      let e = math(k, .exp, k.loadVector(s, lanes: lanes, from: c[softmaxSlot], at: row + j, mask: tail) - maximum)
      k.storeVector(e, s, to: c[softmaxSlot], at: row + j, mask: tail)
      return [acc[0] + (tail.map { k.select($0, e, constant(0, s)) } ?? e)]
    }[0]
    let sum = lanes > 1 ? k.horizontal(partial) { $0 + $1 } : partial
    let divisor = splat(k.select(k.compare(.eq, sum, k.constant(0, sType)), k.constant(1, sType), sum))
    let anyAllowed = k.compare(.gt, allowedCount, k.constant(0, sType))
    // The probabilities go back to T1 (as the spec casts them before the product with V).
    k.forVectors(count: total, lanes: lanes) { j, tail, _ in
      let e = k.loadVector(s, lanes: lanes, from: c[softmaxSlot], at: row + j, mask: tail)
      let p = k.select(anyAllowed, e / divisor, constant(0, s))
      let pt = s == t ? p : k.convert(p, to: t)
      k.storeVector(pt, t, to: c[0], at: row + j, mask: tail)
      if resultCount > 3 && mode == 3 { k.storeVector(pt, t, to: c[qkSlot], at: row + j, mask: tail) }
      return []
    }
  }

  // Y = P·V per (batch, KV head, head of its group), written through Y's (packed or 4-D) strides.
  var outputProblem = MatMulProblem(
    batch: [batch, hkv, group], m: sq, n: dv, k: total,
    aBatchStrides: [hq * sq * total, group * sq * total, sq * total], aM: total, aK: 1,
    bBatchStrides: [values.strides[0], values.strides[1], 0], bK: values.strides[2], bN: 1)
  outputProblem.cLayout = ([yStrides[0], group * yStrides[1], yStrides[1]], yStrides[2])
  try emitMatMul(ctx, outputProblem, a: scores, b: values.buffer, bConstant: nil, c: ctx.results[0])
}
