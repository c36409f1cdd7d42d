import SSMCIR

/// Raises a LinearAttention (opset 27) that is Mamba-1's selective scan to ssmc.SelectiveScan.
///
/// With H heads, one head per channel (d = head, D = H), the key dim as the state (N = d_k) and d_v = 1,
/// the "gated" rule S_t = exp(g_t) ⊙ S_{t−1} + k_t ⊗ v_t, o_t = scale · q_tᵀ S_t is, per (batch, channel),
///
///     h_l = exp(g_l) ⊙ h_{l−1} + k_l · v_l,   y_l = scale · ⟨q_l, h_l⟩,
///
/// the selective scan with (in coordinates (b, d, l, n), decay and key unpacked from (B, T, H·d_k)):
///
///     decay = Δ · A        Δ(b, l, d) the step, A(d, n) the state matrix: a per-(channel, state) decay needs the
///                          per-key-dim decay shape (B, T, H·d_k); a per-head decay (B, T, H) can only express an
///                          A constant over n (it is raised too, A broadcast over n)
///     key · value = Δ · u · B   in any split between the two (B(b, l, n) per group, u(b, l, d) the input)
///     query = C            (scale ≠ 1 multiplies the output)
///
/// The rewrite needs q_num_heads = kv_num_heads, d_v = 1, no past_state (or a zero one) and an unused
/// present_state; decay and key·value must factor as above (checked exactly through the views that built
/// them, see `Term` and `ScanFactors`). Anything else stays a LinearAttention with its general lowering.
public struct RaiseLinearAttention: Pass {
  public let name = "raise-linear-attention"
  public init() {}

  public func run(on graph: inout Graph) throws(Diagnostics) -> Bool {
    var changed = false
    var index = 0
    while index < graph.nodes.count {
      if graph.nodes[index].op == "LinearAttention", let inserted = raise(&graph, at: index) {
        changed = true
        index += inserted
      }
      index += 1
    }
    return changed
  }

  private func raise(_ graph: inout Graph, at index: Int) -> Int? {
    let node = graph.nodes[index]
    guard let geometry = try? linearAttentionGeometry(graph.context(for: node)), geometry.rule == "gated",
      geometry.queryHeads == geometry.kvHeads, geometry.valueDim == 1,
      let batch = geometry.batch.value, let length = geometry.length.value,
      graph.useCounts()[node.results[1], default: 0] == 0
    else { return nil }
    if node.operands.count > 3, let past = node.operands[3] {
      guard let data = graph.constants[past], (0..<data.count).allSatisfy({ data.element(at: $0) == 0 }) else { return nil }
    }
    let (heads, state) = (geometry.kvHeads, geometry.keyDim)
    let terms = TermBuilder(graph)
    /// A (B, T, H·w) operand's term in (b, d, l, n) coordinates (w = N, or 1 broadcast over n).
    func scanCoordinates(_ operand: Int, width: Int) -> Term? {
      guard let v = node.operands[operand] else { return nil }
      return terms.term(v)?.mapLeaves {
        $0.reshaped([batch, length, heads, width])?.transposed([0, 2, 1, 3])?.broadcast(to: [batch, heads, length, state])
      }
    }
    let decayWidth = geometry.decayPerKeyDim ? state : 1
    guard let decay = scanCoordinates(4, width: decayWidth), let key = scanCoordinates(1, width: state),
      let value = scanCoordinates(2, width: 1), let query = scanCoordinates(0, width: state),
      let c = Layout.identity(node.operands[0]!, shape: [batch, length, heads * state]).reshaped([batch, length, heads, state])?
        .transposed([0, 2, 1, 3])
    else { return nil }
    // C: the query's own view when it is one (keeps B/C groups small), else the query itself, one group per head.
    let readout = query.factors.count == 1 ? query.factors[0].leaf ?? c : c
    let pieces = ScanFactors(dims: [batch, heads, length, state], decay: decay.factors, input: key.factors + value.factors, readout: readout)
    var sink = NodeSink()
    var g = graph
    let name = node.name.isEmpty ? "linear_attention" : node.name
    guard var y = pieces.emit(&g, &sink, name: name) else { return nil }
    if geometry.scale != 1 {
      let scale = g.addConstant(name: g.freshName(name + "_scale"), TensorData(floats: [geometry.scale], shape: []))
      guard let scaled = sink.add1(&g, "Mul", [y, scale], name: name + "_scaled") else { return nil }
      y = scaled
    }
    // y (B, D, L) back to the packed output (B, T, H·1).
    guard let t = sink.add1(&g, "Transpose", [y], ["perm": .ints([0, 2, 1])], name: name + "_tokens"),
      let out = sink.reshape(&g, t, to: [batch, length, heads], name: name + "_out")
    else { return nil }
    g.splice(sink.nodes, before: index, replacing: [node.results[0]: out])
    graph = g
    return sink.nodes.count
  }
}
