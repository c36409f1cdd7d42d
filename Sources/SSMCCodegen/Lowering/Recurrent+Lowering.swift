import CLLVM
import SSMCIR

/// The opset-27 recurrent ops: CausalConvWithState and LinearAttention (general recurrences; a
/// LinearAttention that expresses a Mamba-1 scan is raised to ssmc.SelectiveScan before lowering).
let recurrentLowerings: [String: Lowering] = [
  "CausalConvWithState": lowerCausalConv,
  "LinearAttention": lowerLinearAttention,
  "ssmc.LinearScan": lowerLinearScan,
]

/// CausalConvWithState, per (batch, channel) row: the padded sequence is past_state (or zeros, k - 1 values)
/// followed by the input; y_t = bias + Σ_j w_j · padded_{t+j}, optionally y·sigmoid(y); present_state is the
/// last k - 1 values of the padded sequence. Outputs from t = k - 1 on read only the input, so that loop has
/// no selects and vectorizes; the first k - 1 outputs and the state pick each tap from past or input.
private let lowerCausalConv: Lowering = { ctx in
  for i in 0..<4 where ctx.hasOperand(i) && ctx.operandType(i).element != .f32 {
    throw ctx.error("supports f32 only, operand \(i) is \(ctx.operandType(i).element)")
  }
  let shape = ctx.operandShape(0)
  let (batch, channels, length) = (shape[0], shape[1], shape[2])
  let taps = ctx.operandShape(1)[2]
  let silu = try ["silu", "swish"].contains(ctx.op.string("activation") ?? "none")
  let (hasBias, hasPast) = (ctx.hasOperand(2), ctx.hasOperand(3))
  let k = ctx.k
  var captures = [ctx.operand(0), ctx.operand(1), ctx.results[0], ctx.results[1]]
  if hasBias { captures.append(ctx.operand(2)) }
  if hasPast { captures.append(ctx.operand(3)) }
  let carry = taps - 1
  ctx.forEachIndex([batch * channels], work: batch * channels * length * taps, captures: captures, innerHints: LoopHints(vectorize: false)) { row, c in
    let (x, w, y, present) = (c[0], c[1], c[2], c[3])
    let bias: IRValue? = hasBias ? c[4] : nil
    let past: IRValue? = hasPast ? c[hasBias ? 5 : 4] : nil
    let channel = row[0] % k.i64(Int64(channels))
    let xBase = row[0] * k.i64(Int64(length))
    let stateBase = row[0] * k.i64(Int64(carry))
    let weights = (0..<taps).map { j in k.load(.f32, from: w, at: channel * k.i64(Int64(taps)) + k.i64(Int64(j))) }
    let start = bias.map { k.load(.f32, from: $0, at: channel) } ?? k.f32(0)
    let zero = k.f32(0)
    /// padded[p] for a run-time p in [0, k - 1 + L): past (or 0) below k - 1, else the input.
    func padded(_ p: IRValue) -> IRValue {
      let fromInput = k.load(.f32, from: x, at: xBase + k.max(p - k.i64(Int64(carry)), k.i64(0)))
      let fromPast = past.map { k.load(.f32, from: $0, at: stateBase + k.min(p, k.i64(Int64(carry - 1)))) } ?? zero
      return k.select(k.compare(.lt, p, k.i64(Int64(carry))), fromPast, fromInput)
    }
    func finish(_ acc: IRValue) -> IRValue { silu ? acc * k.sigmoid(acc) : acc }
    let head = min(carry, length)
    if head > 0 {
      k.forLoop(from: k.i64(0), to: k.i64(Int64(head))) { t in
        var acc = start
        for j in 0..<taps { acc = k.mulAdd(weights[j], padded(t + k.i64(Int64(j))), acc) }
        k.store(finish(acc), .f32, to: y, at: xBase + t)
      }
    }
    if length > carry {
      k.forLoop(from: k.i64(Int64(carry)), to: k.i64(Int64(length)), hints: LoopHints(vectorize: true)) { t in
        var acc = start
        for j in 0..<taps { acc = k.mulAdd(weights[j], k.load(.f32, from: x, at: xBase + t + k.i64(Int64(j - carry))), acc) }
        k.store(finish(acc), .f32, to: y, at: xBase + t)
      }
    }
    if carry > 0 {
      k.forLoop(from: k.i64(0), to: k.i64(Int64(carry))) { i in
        k.store(padded(i + k.i64(Int64(length))), .f32, to: present, at: stateBase + i)
      }
    }
  }
}

/// LinearAttention, one task per (batch, KV head): the state S (d_k × d_v) lives in present_state, starts as
/// past_state (or zeros), and per token t is decayed row-wise by exp(g_t), updated with k_t ⊗ v_t (or, for
/// the delta rules, k_t ⊗ β_t(v_t − Sᵀk_t)), then read by each query head of the group: o = scale · qᵀS.
private let lowerLinearAttention: Lowering = { ctx in
  for i in 0..<6 where ctx.hasOperand(i) && ctx.operandType(i).element != .f32 {
    throw ctx.error("supports f32 only, operand \(i) is \(ctx.operandType(i).element)")
  }
  let g = try linearAttentionGeometry(ctx.op)
  guard let batch = g.batch.value, let length = g.length.value else { throw ctx.error("needs static batch and length") }
  let (hq, hkv, dk, dv) = (g.queryHeads, g.kvHeads, g.keyDim, g.valueDim)
  let group = hq / hkv
  let k = ctx.k
  let names = [0, 1, 2, 3, 4, 5].filter { ctx.hasOperand($0) }
  let captures = names.map { ctx.operand($0) } + [ctx.results[0], ctx.results[1]]
  func slot(_ operand: Int, _ c: [IRValue]) -> IRValue? { names.firstIndex(of: operand).map { c[$0] } }
  let work = batch * hkv * length * dk * dv * (group + 2)
  ctx.forEachIndex([batch * hkv], work: work, captures: captures, innerHints: LoopHints(vectorize: false)) { task, c in
    let (q, key, value) = (c[0], c[1], c[2])
    let (past, decay, beta) = (slot(3, c), slot(4, c), slot(5, c))
    let (out, state) = (c[names.count], c[names.count + 1])
    let b = task[0] / k.i64(Int64(hkv))
    let h = task[0] % k.i64(Int64(hkv))
    let stateBase = task[0] * k.i64(Int64(dk * dv))
    func i64(_ v: Int) -> IRValue { k.i64(Int64(v)) }
    k.forLoop(from: i64(0), to: i64(dk * dv), hints: LoopHints(vectorize: true)) { i in
      k.store(past.map { k.load(.f32, from: $0, at: stateBase + i) } ?? k.f32(0), .f32, to: state, at: stateBase + i)
    }
    k.forLoop(from: i64(0), to: i64(length)) { t in
      let token = b * i64(length) + t
      let keyBase = token * i64(hkv * dk) + h * i64(dk)
      let valueBase = token * i64(hkv * dv) + h * i64(dv)
      if let decay {
        let decayBase = g.decayPerKeyDim ? keyBase : token * i64(hkv) + h
        let headFactor = g.decayPerKeyDim ? nil : k.exp(k.load(.f32, from: decay, at: decayBase))
        k.forLoop(from: i64(0), to: i64(dk)) { d in
          let factor = headFactor ?? k.exp(k.load(.f32, from: decay, at: decayBase + d))
          let rowBase = stateBase + d * i64(dv)
          k.forLoop(from: i64(0), to: i64(dv), hints: LoopHints(vectorize: true)) { m in
            k.store(k.load(.f32, from: state, at: rowBase + m) * factor, .f32, to: state, at: rowBase + m)
          }
        }
      }
      if let beta {
        let rate = k.load(.f32, from: beta, at: g.betaPerHead ? token * i64(hkv) + h : token)
        k.forLoop(from: i64(0), to: i64(dv)) { m in
          let retrieved = k.forLoop(from: i64(0), to: i64(dk), carrying: [k.f32(0)]) { d, acc in
            [k.mulAdd(k.load(.f32, from: state, at: stateBase + d * i64(dv) + m), k.load(.f32, from: key, at: keyBase + d), acc[0])]
          }[0]
          let update = rate * (k.load(.f32, from: value, at: valueBase + m) - retrieved)
          k.forLoop(from: i64(0), to: i64(dk)) { d in
            let at = stateBase + d * i64(dv) + m
            k.store(k.mulAdd(k.load(.f32, from: key, at: keyBase + d), update, k.load(.f32, from: state, at: at)), .f32, to: state, at: at)
          }
        }
      } else {
        k.forLoop(from: i64(0), to: i64(dk)) { d in
          let kd = k.load(.f32, from: key, at: keyBase + d)
          let rowBase = stateBase + d * i64(dv)
          k.forLoop(from: i64(0), to: i64(dv), hints: LoopHints(vectorize: true)) { m in
            let at = rowBase + m
            k.store(k.mulAdd(kd, k.load(.f32, from: value, at: valueBase + m), k.load(.f32, from: state, at: at)), .f32, to: state, at: at)
          }
        }
      }
      // Read: every query head j of this KV head's group; output row (b, t, j) is contiguous over d_v.
      k.forLoop(from: i64(0), to: i64(group)) { j in
        let head = h * i64(group) + j
        let queryBase = token * i64(hq * dk) + head * i64(dk)
        let outBase = token * i64(hq * dv) + head * i64(dv)
        k.forLoop(from: i64(0), to: i64(dv), hints: LoopHints(vectorize: true)) { m in
          k.store(k.f32(0), .f32, to: out, at: outBase + m)
        }
        k.forLoop(from: i64(0), to: i64(dk)) { d in
          let qd = k.load(.f32, from: q, at: queryBase + d) * Double(g.scale)
          let rowBase = stateBase + d * i64(dv)
          k.forLoop(from: i64(0), to: i64(dv), hints: LoopHints(vectorize: true)) { m in
            let at = outBase + m
            k.store(k.mulAdd(qd, k.load(.f32, from: state, at: rowBase + m), k.load(.f32, from: out, at: at)), .f32, to: out, at: at)
          }
        }
      }
    }
  }
}

/// ssmc.LinearScan: h = a_l ⊙ h + b_l for l = 0..<L, with the running state kept in the final-state result.
/// The state splits at the scan axis into outer × inner; each outer index is an independent task whose
/// inner loop is contiguous in a, b and the state (and in the all-states result when the scan axis stays).
private let lowerLinearScan: Lowering = { ctx in
  if ctx.hasRuntimeExtents { return try lowerRuntimeLinearScan(ctx) }
  let shape = ctx.operandShape(1)
  let axis = try ctx.op.axis(ctx.op.int("axis"), rank: shape.count)
  let outAxis = try ctx.op.axis(ctx.op.int("output_axis"), rank: shape.count, what: "output_axis")
  let length = shape[axis]
  let state = ctx.operandShape(0)
  let outer = state[..<axis].reduce(1, *)
  let inner = state[axis...].reduce(1, *)
  let outInner = state[outAxis...].reduce(1, *)
  let k = ctx.k
  let captures = [ctx.operand(0), ctx.operand(1), ctx.operand(2), ctx.results[0], ctx.results[1]]
  ctx.forEachIndex([outer], work: outer * length * inner, captures: captures, innerHints: LoopHints(vectorize: false)) { o, c in
    let (initial, a, b, h, all) = (c[0], c[1], c[2], c[3], c[4])
    let stateBase = o[0] * k.i64(Int64(inner))
    k.forLoop(from: k.i64(0), to: k.i64(Int64(inner)), hints: LoopHints(vectorize: true)) { i in
      k.store(k.load(.f32, from: initial, at: stateBase + i), .f32, to: h, at: stateBase + i)
    }
    k.forLoop(from: k.i64(0), to: k.i64(Int64(length))) { l in
      let base = (o[0] * k.i64(Int64(length)) + l) * k.i64(Int64(inner))
      k.forLoop(from: k.i64(0), to: k.i64(Int64(inner)), hints: LoopHints(vectorize: true)) { i in
        let next = k.mulAdd(k.load(.f32, from: a, at: base + i), k.load(.f32, from: h, at: stateBase + i), k.load(.f32, from: b, at: base + i))
        k.store(next, .f32, to: h, at: stateBase + i)
        // The all-states result puts l at output_axis: split the state index there.
        let at: IRValue
        if outAxis == axis {
          at = base + i
        } else {
          let s = stateBase + i
          let (o2, i2) = (s / k.i64(Int64(outInner)), s % k.i64(Int64(outInner)))
          at = (o2 * k.i64(Int64(length)) + l) * k.i64(Int64(outInner)) + i2
        }
        k.store(next, .f32, to: all, at: at)
      }
    }
  }
}
