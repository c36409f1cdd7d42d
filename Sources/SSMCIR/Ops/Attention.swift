/// Transformer attention ops of opset 23 on: Attention (scaled dot-product attention with grouped KV heads,
/// masks, a KV cache and soft-capping; the IR takes opset 25's form, whose window attributes default to
/// "unbounded" for older nodes) and RotaryEmbedding.
let attentionOps: [OpSchema] = [attention.with(samples: attentionSamples), rotaryEmbedding.with(samples: rotarySamples)]

/// Samples along axis 0 of Q, K, V, the cache and nonpad_kv_seqlen (and of a 4-D attn_mask); each sample
/// attends only within itself. A mask of lower rank has no batch axis and is shared.
private let attentionSamples = leadingWhereBatched { ctx in ctx.rank(3) == 4 ? [0, 1, 2, 3, 4, 5, 6] : [0, 1, 2, 4, 5, 6] }

/// Samples along axis 0 of X and position_ids; the caches are shared, or per sample too when they are
/// indexed by (batch, position) because position_ids is absent.
private let rotarySamples = leadingWhereBatched { ctx in ctx.op.has(3) ? [0, 3] : [0, 1, 2] }

/// Samples along axis 0 of the operands `batchable` allows to vary per sample, and of every result when
/// any of them does (else the results are the same for every sample).
private func leadingWhereBatched(_ batchable: @escaping @Sendable (SampleContext) -> Set<Int>) -> SampleRule {
  SampleRule { ctx throws(Diagnostic) in
    try ctx.requireOnlyBatched(batchable(ctx))
    let axes = ctx.operandAxes.compactMap { $0 }
    guard !axes.isEmpty else { return Array(repeating: nil, count: ctx.resultCount) }
    guard axes.allSatisfy({ $0 == 0 }) else { throw ctx.mixes("an operand indexes samples along an axis other than 0") }
    return Array(repeating: 0, count: ctx.resultCount)
  }
}

/// The static geometry of an Attention node, shared by the shape rule and the lowering. Q, K and V are
/// seen as (batch, heads, sequence, head size) whether given 4-D or packed 3-D (batch, sequence, heads·size).
public struct AttentionGeometry: Sendable {
  public var batch: Int, queryHeads: Int, kvHeads: Int
  public var querySequence: Int, kvSequence: Int, pastSequence: Int
  public var headSize: Int, valueHeadSize: Int
  /// True for 3-D Q, K, V (and Y).
  public var packed: Bool
  /// The key positions attended over: past plus new keys.
  public var totalSequence: Int { pastSequence + kvSequence }
  /// The effective score scale (1/√head_size, in double, when the attribute is absent).
  public var scale: Double
}

/// Reads and checks an Attention node's operands and attributes.
public func attentionGeometry(_ ctx: OpContext) throws(Diagnostic) -> AttentionGeometry {
  let (q, k, v) = (try ctx.type(0), try ctx.type(1), try ctx.type(2))
  try ctx.requireSameElement([1, 2, 4, 5], as: 0)
  guard q.element.isFloat else { throw ctx.error(.typeMismatch, "Attention needs float Q, K, V, got \(q)") }
  guard q.rank == 3 || q.rank == 4, k.rank == q.rank, v.rank == q.rank else {
    throw ctx.error("Q, K and V must all be 3-D or all 4-D, got \(q), \(k), \(v)")
  }
  guard let qs = q.staticShape, let ks = k.staticShape, let vs = v.staticShape else {
    throw ctx.error(.unknownShape, "Attention needs static Q, K, V shapes, got \(q), \(k), \(v)")
  }
  var g = AttentionGeometry(
    batch: qs[0], queryHeads: 0, kvHeads: 0, querySequence: 0, kvSequence: 0, pastSequence: 0, headSize: 0,
    valueHeadSize: 0, packed: q.rank == 3, scale: 0)
  if g.packed {
    guard let hq = try ctx.optionalInt("q_num_heads"), let hkv = try ctx.optionalInt("kv_num_heads") else {
      throw ctx.error(.badAttribute, "3-D Q, K, V need the q_num_heads and kv_num_heads attributes")
    }
    guard hq > 0, hkv > 0, qs[2] % hq == 0, ks[2] % hkv == 0, vs[2] % hkv == 0 else {
      throw ctx.error(.badAttribute, "Q \(q), K \(k), V \(v) do not split into \(hq) query and \(hkv) KV heads")
    }
    (g.queryHeads, g.kvHeads) = (hq, hkv)
    (g.querySequence, g.kvSequence) = (qs[1], ks[1])
    (g.headSize, g.valueHeadSize) = (qs[2] / hq, vs[2] / hkv)
    guard ks[2] / hkv == g.headSize else { throw ctx.error("K's head size \(ks[2] / hkv) differs from Q's \(g.headSize)") }
    guard vs[1] == ks[1] else { throw ctx.error("K \(k) and V \(v) differ in sequence length") }
  } else {
    (g.queryHeads, g.kvHeads) = (qs[1], ks[1])
    (g.querySequence, g.kvSequence) = (qs[2], ks[2])
    (g.headSize, g.valueHeadSize) = (qs[3], vs[3])
    guard ks[3] == qs[3] else { throw ctx.error("K \(k) and Q \(q) differ in head size") }
    guard vs[1] == ks[1], vs[2] == ks[2] else { throw ctx.error("K \(k) and V \(v) differ in heads or sequence length") }
  }
  guard ks[0] == g.batch, vs[0] == g.batch else { throw ctx.error("Q \(q), K \(k), V \(v) differ in batch") }
  guard g.kvHeads > 0, g.queryHeads % g.kvHeads == 0 else {
    throw ctx.error("the \(g.queryHeads) query heads are not a multiple of the \(g.kvHeads) KV heads")
  }
  guard ctx.has(4) == ctx.has(5) else { throw ctx.error(.badOperand, "past_key and past_value must be given together") }
  if ctx.has(4) {
    let (pk, pv) = (try ctx.type(4), try ctx.type(5))
    guard let pks = pk.staticShape, let pvs = pv.staticShape, pks.count == 4, pvs.count == 4,
      pks[0] == g.batch, pks[1] == g.kvHeads, pks[3] == g.headSize,
      pvs[0] == g.batch, pvs[1] == g.kvHeads, pvs[2] == pks[2], pvs[3] == g.valueHeadSize
    else {
      throw ctx.error("past_key \(pk) / past_value \(pv) must be (\(g.batch), \(g.kvHeads), P, \(g.headSize) / \(g.valueHeadSize))")
    }
    g.pastSequence = pks[2]
  }
  if ctx.has(6) {
    guard !ctx.has(4) else { throw ctx.error(.badOperand, "nonpad_kv_seqlen cannot be combined with past_key/past_value") }
    let n = try ctx.type(6)
    guard n.element == .i64, n.staticShape == [g.batch] else { throw ctx.error("nonpad_kv_seqlen \(n) must be int64 (\(g.batch))") }
  }
  if ctx.has(3) {
    let m = try ctx.type(3)
    guard m.element == .bool || m.element == q.element else {
      throw ctx.error(.typeMismatch, "attn_mask must be bool or Q's element type \(q.element), got \(m)")
    }
    guard let ms = m.staticShape, (1...4).contains(ms.count), ms.last! <= g.totalSequence else {
      throw ctx.error("attn_mask \(m) must have rank 1 to 4 and at most \(g.totalSequence) key positions")
    }
    let target = [g.batch, g.queryHeads, g.querySequence]
    for (d, extent) in ms.dropLast().reversed().enumerated() {
      let want = target[target.count - 1 - d]
      guard extent == 1 || extent == want else { throw ctx.error("attn_mask \(m) does not broadcast to (\(g.batch), \(g.queryHeads), \(g.querySequence), \(g.totalSequence))") }
    }
  }
  let mode = try ctx.int("qk_matmul_output_mode")
  guard (0...3).contains(mode) else { throw ctx.error(.badAttribute, "qk_matmul_output_mode must be 0 to 3, got \(mode)") }
  for name in ["left_window_size", "right_window_size"] where try ctx.int(name) < -1 {
    throw ctx.error(.badAttribute, "\(name) must be -1 or nonnegative, got \(try ctx.int(name))")
  }
  if let precision = try ctx.optionalInt("softmax_precision"), ![1, 10, 11, 16].contains(precision) {
    throw ctx.error(.badAttribute, "softmax_precision must be 1, 10, 11 or 16, got \(precision)")
  }
  if let s = ctx.attribute("scale") {
    guard case .float(let value) = s else { throw ctx.error(.badAttribute, "scale must be a float") }
    g.scale = Double(value)
  } else {
    g.scale = 1 / Double(g.headSize).squareRoot()
  }
  return g
}

/// Attention: Q, K, V, optional attn_mask, past_key, past_value, nonpad_kv_seqlen -> Y, optional present_key,
/// present_value (past and new keys/values concatenated, 4-D), qk_matmul_output (batch, q heads, q seq, keys).
let attention = OpSchema(
  "Attention",
  operands: [
    .required("Q"), .required("K"), .required("V"), .optional("attn_mask"), .optional("past_key"),
    .optional("past_value"), .optional("nonpad_kv_seqlen"),
  ],
  results: nil,
  attributes: [
    AttributeSpec("is_causal", .int, default: .int(0)), AttributeSpec("kv_num_heads", .int),
    AttributeSpec("q_num_heads", .int), AttributeSpec("qk_matmul_output_mode", .int, default: .int(0)),
    AttributeSpec("scale", .float), AttributeSpec("softcap", .float, default: .float(0)),
    AttributeSpec("softmax_precision", .int), AttributeSpec("left_window_size", .int, default: .int(-1)),
    AttributeSpec("right_window_size", .int, default: .int(-1)),
  ],
  inferTypes: { ctx throws(Diagnostic) in
    let g = try attentionGeometry(ctx)
    guard (1...4).contains(ctx.resultCount) else { throw ctx.error(.badOperand, "Attention has 1 to 4 results, got \(ctx.resultCount)") }
    let element = try ctx.type(0).element
    let y = g.packed
      ? [g.batch, g.querySequence, g.queryHeads * g.valueHeadSize]
      : [g.batch, g.queryHeads, g.querySequence, g.valueHeadSize]
    let all = [
      TensorType(element, shape: y),
      TensorType(element, shape: [g.batch, g.kvHeads, g.totalSequence, g.headSize]),
      TensorType(element, shape: [g.batch, g.kvHeads, g.totalSequence, g.valueHeadSize]),
      TensorType(element, shape: [g.batch, g.queryHeads, g.querySequence, g.totalSequence]),
    ]
    return Array(all.prefix(ctx.resultCount))
  })

/// RotaryEmbedding: input (batch, heads, seq, head size) or (batch, seq, heads·size) with num_heads;
/// cos_cache/sin_cache (max position, rotary dim / 2) indexed by position_ids (batch, seq), or
/// (batch, seq, rotary dim / 2) as they are when position_ids is absent.
let rotaryEmbedding = OpSchema(
  "RotaryEmbedding",
  operands: [.required("X"), .required("cos_cache"), .required("sin_cache"), .optional("position_ids")],
  attributes: [
    AttributeSpec("interleaved", .int, default: .int(0)), AttributeSpec("num_heads", .int),
    AttributeSpec("rotary_embedding_dim", .int, default: .int(0)),
  ],
  inferTypes: { ctx throws(Diagnostic) in
    _ = try rotaryGeometry(ctx)
    return [try ctx.type(0)]
  })

/// The static geometry of a RotaryEmbedding node.
public struct RotaryGeometry: Sendable {
  public var batch: Int, heads: Int, sequence: Int, headSize: Int
  /// Leading dims rotated (even, at most headSize).
  public var rotaryDim: Int
  /// True for 3-D input (batch, seq, heads·size).
  public var packed: Bool
}

/// Reads and checks a RotaryEmbedding node's operands and attributes.
public func rotaryGeometry(_ ctx: OpContext) throws(Diagnostic) -> RotaryGeometry {
  let x = try ctx.type(0)
  try ctx.requireSameElement([1, 2], as: 0)
  guard x.element.isFloat else { throw ctx.error(.typeMismatch, "RotaryEmbedding needs a float input, got \(x)") }
  guard let xs = x.staticShape, xs.count == 3 || xs.count == 4 else {
    throw ctx.error("input \(x) must be static, 3-D or 4-D")
  }
  var g = RotaryGeometry(batch: xs[0], heads: 0, sequence: 0, headSize: 0, rotaryDim: 0, packed: xs.count == 3)
  if g.packed {
    guard let heads = try ctx.optionalInt("num_heads"), heads > 0, xs[2] % heads == 0 else {
      throw ctx.error(.badAttribute, "3-D input \(x) needs a num_heads attribute dividing its last dim")
    }
    (g.heads, g.sequence, g.headSize) = (heads, xs[1], xs[2] / heads)
  } else {
    (g.heads, g.sequence, g.headSize) = (xs[1], xs[2], xs[3])
  }
  let r = try ctx.int("rotary_embedding_dim")
  g.rotaryDim = r == 0 ? g.headSize : r
  guard g.rotaryDim > 0, g.rotaryDim % 2 == 0, g.rotaryDim <= g.headSize else {
    throw ctx.error(.badAttribute, "rotary_embedding_dim \(g.rotaryDim) must be even, positive and at most the head size \(g.headSize)")
  }
  let half = g.rotaryDim / 2
  for i in [1, 2] {
    let c = try ctx.type(i)
    let want = ctx.has(3) ? nil : [g.batch, g.sequence, half]
    guard let cs = c.staticShape, cs.last == half, want == nil ? cs.count == 2 : cs == want! else {
      let form = ctx.has(3) ? "(max position, \(half))" : "(\(g.batch), \(g.sequence), \(half))"
      throw ctx.error("\(ctx.operandName(i)) \(c) must be \(form)")
    }
  }
  if ctx.has(3) {
    let p = try ctx.type(3)
    guard p.element == .i64, p.staticShape == [g.batch, g.sequence] else {
      throw ctx.error("position_ids \(p) must be int64 (\(g.batch), \(g.sequence))")
    }
  }
  return g
}
