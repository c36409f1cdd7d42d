/// The opset-27 recurrent-model ops: CausalConvWithState (Mamba's conv1d step) and LinearAttention (the
/// linear / gated / delta recurrences over a (d_k, d_v) state per head). Both have two results: the output
/// and the state a following call would continue from.
/// The batch is axis 0 of the sequence inputs and of the carried states (LinearScan is internal and never
/// sees a run-time batch: raising happens after the batch is fixed).
let recurrentOps: [OpSchema] = [
  causalConvWithState.with(samples: .leading([0, 3])), linearAttention.with(samples: .leading([0, 1, 2, 3, 4, 5])), linearScan,
]

/// CausalConvWithState: input (batch, channels, L), weight (channels, 1, k), optional bias (channels),
/// optional past_state (batch, channels, k - 1) -> output (batch, channels, L), present_state (batch, channels, k - 1).
let causalConvWithState = OpSchema(
  "CausalConvWithState",
  operands: [.required("input"), .required("weight"), .optional("bias"), .optional("past_state")], results: 2,
  attributes: [AttributeSpec("activation", .string, default: .string("none"))],
  inferTypes: { ctx throws(Diagnostic) in
    let x = try ctx.type(0, rank: 3)
    let w = try ctx.type(1, rank: 3)
    try ctx.requireSameElement([1, 2, 3], as: 0)
    guard x.element.isFloat else { throw ctx.error(.typeMismatch, "CausalConvWithState needs float operands, got \(x)") }
    let activation = try ctx.string("activation") ?? "none"
    guard ["none", "silu", "swish"].contains(activation) else {
      throw ctx.error(.badAttribute, "activation must be 'none', 'silu' or 'swish', got '\(activation)'")
    }
    guard unifyDims(w.dims[0], x.dims[1]) != nil, w.dims[1] == .fixed(1) else {
      throw ctx.error("weight \(w) must be (channels, 1, k) with X's \(x.dims[1]) channels")
    }
    guard let k = w.dims[2].value else { throw ctx.error(.unknownShape, "the kernel size of weight \(w) must be static") }
    guard k >= 1 else { throw ctx.error("the kernel size must be at least 1, got \(k)") }
    if ctx.has(2) {
      let b = try ctx.type(2, rank: 1)
      guard unifyDims(b.dims[0], x.dims[1]) != nil else { throw ctx.error("bias \(b) must have \(x.dims[1]) channels") }
    }
    let state = x.with(dims: [x.dims[0], x.dims[1], .fixed(k - 1)])
    if ctx.has(3) {
      let p = try ctx.type(3, rank: 3)
      guard unifyDims(p.dims[0], x.dims[0]) != nil, unifyDims(p.dims[1], x.dims[1]) != nil, p.dims[2] == .fixed(k - 1) else {
        throw ctx.error("past_state \(p) must be \(state)")
      }
    }
    return [x, state]
  })

/// The static head geometry of a LinearAttention node, shared by the shape rule and the lowering.
public struct LinearAttentionGeometry: Sendable {
  public var batch: Dim, length: Dim
  public var queryHeads: Int, kvHeads: Int, keyDim: Int, valueDim: Int
  /// "linear", "gated", "delta" or "gated_delta".
  public var rule: String
  /// True when decay has one value per key dim (B, T, H_kv·d_k), false for one per head (B, T, H_kv).
  public var decayPerKeyDim: Bool
  /// True when beta is (B, T, H_kv), false for (B, T, 1).
  public var betaPerHead: Bool
  /// The effective output scale (1/√d_k when the attribute is 0).
  public var scale: Float
  public var gated: Bool { rule == "gated" || rule == "gated_delta" }
  public var deltaRule: Bool { rule == "delta" || rule == "gated_delta" }
}

/// Reads and checks a LinearAttention node's operands and attributes.
public func linearAttentionGeometry(_ ctx: OpContext) throws(Diagnostic) -> LinearAttentionGeometry {
  let (q, k, v) = (try ctx.type(0, rank: 3), try ctx.type(1, rank: 3), try ctx.type(2, rank: 3))
  try ctx.requireSameElement([1, 2, 4, 5], as: 0)
  guard q.element.isFloat else { throw ctx.error(.typeMismatch, "LinearAttention needs float operands, got \(q)") }
  let rule = try ctx.string("update_rule") ?? "gated_delta"
  guard ["linear", "gated", "delta", "gated_delta"].contains(rule) else {
    throw ctx.error(.badAttribute, "update_rule must be linear, gated, delta or gated_delta, got '\(rule)'")
  }
  let (hq, hkv) = (try ctx.int("q_num_heads"), try ctx.int("kv_num_heads"))
  guard hq > 0, hkv > 0, hq % hkv == 0 else {
    throw ctx.error(.badAttribute, "q_num_heads (\(hq)) must be a positive multiple of kv_num_heads (\(hkv))")
  }
  for (t, name) in [(k, "key"), (v, "value")] {
    guard unifyDims(t.dims[0], q.dims[0]) != nil, unifyDims(t.dims[1], q.dims[1]) != nil else {
      throw ctx.error("\(name) \(t) must share query's batch and length \(q)")
    }
  }
  guard let qLast = q.dims[2].value, let kLast = k.dims[2].value, let vLast = v.dims[2].value else {
    throw ctx.error(.unknownShape, "the packed head dims of query, key and value must be static")
  }
  guard qLast % hq == 0, vLast % hkv == 0 else {
    throw ctx.error("query's \(qLast) and value's \(vLast) do not split into \(hq) and \(hkv) heads")
  }
  let (dk, dv) = (qLast / hq, vLast / hkv)
  guard kLast == hkv * dk else { throw ctx.error("key's last dim is \(kLast), expected kv_num_heads·d_k = \(hkv * dk)") }
  var g = LinearAttentionGeometry(
    batch: q.dims[0], length: q.dims[1], queryHeads: hq, kvHeads: hkv, keyDim: dk, valueDim: dv, rule: rule,
    decayPerKeyDim: true, betaPerHead: true, scale: 0)
  let s = try ctx.float("scale")
  g.scale = s == 0 ? 1 / Float(dk).squareRoot() : s
  if ctx.has(3) {
    let p = try ctx.type(3, rank: 4)
    guard unifyDims(p.dims[0], q.dims[0]) != nil, Array(p.dims[1...]) == [.fixed(hkv), .fixed(dk), .fixed(dv)] else {
      throw ctx.error("past_state \(p) must be (B, \(hkv), \(dk), \(dv))")
    }
  }
  guard ctx.has(4) == g.gated else {
    throw ctx.error(.badOperand, g.gated ? "update_rule '\(rule)' requires decay" : "update_rule '\(rule)' forbids decay")
  }
  guard ctx.has(5) == g.deltaRule else {
    throw ctx.error(.badOperand, g.deltaRule ? "update_rule '\(rule)' requires beta" : "update_rule '\(rule)' forbids beta")
  }
  if ctx.has(4) {
    let d = try ctx.type(4, rank: 3)
    guard unifyDims(d.dims[0], q.dims[0]) != nil, unifyDims(d.dims[1], q.dims[1]) != nil,
      d.dims[2] == .fixed(hkv * dk) || d.dims[2] == .fixed(hkv)
    else { throw ctx.error("decay \(d) must be (B, T, \(hkv * dk)) or (B, T, \(hkv))") }
    g.decayPerKeyDim = d.dims[2] == .fixed(hkv * dk) && !(dk == 1)
  }
  if ctx.has(5) {
    let b = try ctx.type(5, rank: 3)
    guard unifyDims(b.dims[0], q.dims[0]) != nil, unifyDims(b.dims[1], q.dims[1]) != nil,
      b.dims[2] == .fixed(hkv) || b.dims[2] == .fixed(1)
    else { throw ctx.error("beta \(b) must be (B, T, \(hkv)) or (B, T, 1)") }
    g.betaPerHead = b.dims[2] == .fixed(hkv) && hkv != 1
  }
  return g
}

/// LinearAttention: query (B, T, H_q·d_k), key (B, T, H_kv·d_k), value (B, T, H_kv·d_v), optional past_state
/// (B, H_kv, d_k, d_v), decay, beta -> output (B, T, H_q·d_v), present_state (B, H_kv, d_k, d_v).
let linearAttention = OpSchema(
  "LinearAttention",
  operands: [
    .required("query"), .required("key"), .required("value"), .optional("past_state"), .optional("decay"),
    .optional("beta"),
  ],
  results: 2,
  attributes: [
    AttributeSpec("chunk_size", .int, default: .int(64)), AttributeSpec("kv_num_heads", .int, required: true),
    AttributeSpec("q_num_heads", .int, required: true), AttributeSpec("scale", .float, default: .float(0)),
    AttributeSpec("update_rule", .string, default: .string("gated_delta")),
  ],
  inferTypes: { ctx throws(Diagnostic) in
    let g = try linearAttentionGeometry(ctx)
    let q = try ctx.type(0)
    let stateElement = ctx.has(3) ? try ctx.type(3).element : q.element
    return [
      q.with(dims: [g.batch, g.length, .fixed(g.queryHeads * g.valueDim)]),
      TensorType(stateElement, [g.batch, .fixed(g.kvHeads), .fixed(g.keyDim), .fixed(g.valueDim)]),
    ]
  })

/// ssmc.LinearScan: the first-order linear recurrence h_l = a_l ⊙ h_{l−1} + b_l along axis `axis` of a and b,
/// from h_{−1} = initial. Results: the last state (initial's shape) and every state, with the scan axis at
/// `output_axis`. The frontend imports an ONNX `Scan` whose body is this recurrence as this op, and
/// raise-selective-scan turns it into ssmc.SelectiveScan when its operands have Mamba-1's structure.
let linearScan = OpSchema(
  "ssmc.LinearScan", domain: "ai.ssmc.internal",
  operands: [.required("initial"), .required("a"), .required("b")], results: 2,
  attributes: [AttributeSpec("axis", .int, default: .int(0)), AttributeSpec("output_axis", .int, default: .int(0))],
  inferTypes: { ctx throws(Diagnostic) in
    let (h, a, b) = (try ctx.type(0), try ctx.type(1), try ctx.type(2))
    try ctx.requireSameElement([1, 2], as: 0)
    guard h.element == .f32 else { throw ctx.error(.typeMismatch, "LinearScan needs f32 operands, got \(h)") }
    guard a.dims == b.dims else { throw ctx.error("a \(a) and b \(b) must have the same shape") }
    let axis = try ctx.axis(ctx.int("axis"), rank: a.rank)
    var state = a.dims
    let length = state.remove(at: axis)
    guard state == h.dims else { throw ctx.error("a \(a) without axis \(axis) must be the state's shape \(h)") }
    let out = try ctx.axis(ctx.int("output_axis"), rank: a.rank, what: "output_axis")
    var all = h.dims
    all.insert(length, at: out)
    return [h, h.with(dims: all)]
  })
