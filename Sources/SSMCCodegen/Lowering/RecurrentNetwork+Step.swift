import CLLVM
import SSMCIR

/// One direction's time loop and the LSTM, GRU and RNN cell updates (see RecurrentNetwork+Lowering.swift).
extension RecurrentNetworkLowering {
  private var k: KernelBuilder { ctx.k }
  fileprivate func c(_ v: Int) -> IRValue { k.i64(Int64(v)) }

  /// Runs direction `d` over every step; `p` are the pointers by slot (captured ones inside a parallel body).
  func emitDirection(_ d: IRValue, _ p: [RecurrentSlots.Slot: IRValue]) {
    let backward = g.directions == 2 ? k.compare(.eq, d, c(1)) : k.bool(g.reverse)
    let gruResetFirst = g.cell == .gru && !g.linearBeforeReset
    k.forLoop(from: c(0), to: c(length), hints: LoopHints(vectorize: false, unrollCount: 1)) { s in
      /// `body(b, t)` for each batch row still running at step s, t its time index.
      func eachActiveRow(_ body: (IRValue, IRValue) -> Void) {
        k.forLoop(from: c(0), to: c(batch), hints: LoopHints(vectorize: false, unrollCount: 1)) { b in
          let steps = sequenceLength(b, p)
          k.ifThen(k.compare(.lt, s, steps)) {
            // A backward direction starts at the row's own last step.
            body(b, k.select(backward, steps - c(1) - s, s))
          }
        }
      }
      let recurrentColumns = gruResetFirst ? 2 * hidden : columns
      if usesTiles { emitTileProduct(d: d, source: p[.state]!, first: 0, count: recurrentColumns, p) }
      switch g.cell {
      case .rnn, .lstm:
        eachActiveRow { b, t in
          if !usesTiles { emitRowProduct(d: d, b: b, source: p[.state]!, first: 0, count: recurrentColumns, p) }
          emitCell(d: d, t: t, b: b, p)
        }
      case .gru:
        eachActiveRow { b, t in
          if !usesTiles { emitRowProduct(d: d, b: b, source: p[.state]!, first: 0, count: recurrentColumns, p) }
          emitGRUGates(d: d, t: t, b: b, p)
        }
        if gruResetFirst {
          if usesTiles {
            emitTileProduct(d: d, source: p[.resetHidden]!, first: 2 * hidden, count: hidden, p)
          } else {
            eachActiveRow { b, _ in emitRowProduct(d: d, b: b, source: p[.resetHidden]!, first: 2 * hidden, count: hidden, p) }
          }
        }
        eachActiveRow { b, t in emitGRUCandidate(d: d, t: t, b: b, p) }
      }
    }
    emitFinalStates(d: d, p)
  }

  /// Steps batch row `b` runs: its sequence_lens entry clamped to [0, length], else the whole sequence.
  private func sequenceLength(_ b: IRValue, _ p: [RecurrentSlots.Slot: IRValue]) -> IRValue {
    guard let lengths = p[.lengths] else { return c(length) }
    let given = k.convert(k.load(.i32, from: lengths, at: b), to: .i64)
    return k.min(k.max(given, c(0)), c(length))
  }

  /// Element offset of batch row b's state (or r ⊙ h) vector in direction d.
  fileprivate func stateRow(_ d: IRValue, _ b: IRValue) -> IRValue { (d * c(batch) + b) * c(hidden) }
  /// Element offset of batch row b's gate columns in direction d.
  fileprivate func gatesRow(_ d: IRValue, _ b: IRValue) -> IRValue { (d * c(batch) + b) * c(columns) }

  /// Y_h and Y_c from the final states; a row with no steps gets zeros (as onnxruntime gives).
  private func emitFinalStates(d: IRValue, _ p: [RecurrentSlots.Slot: IRValue]) {
    let outputs: [(RecurrentSlots.Slot, RecurrentSlots.Slot)] = [(.yH, .state), (.yC, .cell)]
    for (out, source) in outputs {
      guard let target = p[out], let state = p[source] else { continue }
      k.forLoop(from: c(0), to: c(batch), hints: LoopHints(vectorize: false)) { b in
        let ran = k.compare(.gt, sequenceLength(b, p), c(0))
        let row = g.batchMajor ? (b * c(directions) + d) * c(hidden) : stateRow(d, b)
        k.forLoop(from: c(0), to: c(hidden), hints: LoopHints(vectorize: true)) { j in
          let v = k.load(element, from: state, at: stateRow(d, b) + j)
          k.store(k.select(ran, v, k.constant(0, v.type)), element, to: target, at: row + j)
        }
      }
    }
  }

  /// gates[d, b, first..<first+count] = source[d, b, :]·Rᵀ for every batch row at once, by the blocked
  /// matmul tiles reading the transposed R in place (one row per k through the row table), so each R row is
  /// loaded once per step for all rows.
  private func emitTileProduct(d: IRValue, source: IRValue, first: Int, count: Int, _ p: [RecurrentSlots.Slot: IRValue]) {
    let problem = MatMulProblem(
      batch: [], m: batch, n: count, k: hidden, aBatchStrides: [], aM: hidden, aK: 1, bBatchStrides: [], bK: 0, bN: 0,
      cLayout: (batch: [], m: columns))
    let weights = k.elementAddress(p[.transposed]!, type: k.type(element), index: d * c(hidden * transposedStride) + c(first))
    let a = k.elementAddress(source, type: k.type(element), index: stateRow(d, c(0)))
    let out = k.elementAddress(p[.gates]!, type: k.type(element), index: gatesRow(d, c(0)) + c(first))
    GemmKernel(ctx: ctx, problem: problem).emitTiles(a: a, b: weights, access: .rowTable(p[.rowTable]!), c: out, epilogue: nil)
  }

  /// The same product for one batch row, as loops (f64, and gate blocks narrower than a vector).
  private func emitRowProduct(
    d: IRValue, b: IRValue, source: IRValue, first: Int, count: Int, _ p: [RecurrentSlots.Slot: IRValue]
  ) {
    let zero = k.constant(0, k.type(element))
    let (rt, gates) = (p[.transposed]!, p[.gates]!)
    let (hRow, out) = (stateRow(d, b), gatesRow(d, b) + c(first))
    k.forLoop(from: c(0), to: c(count), hints: LoopHints(vectorize: true)) { n in k.store(zero, element, to: gates, at: out + n) }
    k.forLoop(from: c(0), to: c(hidden), hints: LoopHints(vectorize: false, unrollCount: 1)) { j in
      let hj = k.load(element, from: source, at: hRow + j)
      let rRow = (d * c(hidden) + j) * c(transposedStride) + c(first)
      k.forLoop(from: c(0), to: c(count), hints: LoopHints(vectorize: true)) { n in
        let old = k.load(element, from: gates, at: out + n)
        k.store(k.mulAdd(hj, k.load(element, from: rt, at: rRow + n), old), element, to: gates, at: out + n)
      }
    }
  }

  /// Helpers of one batch row's cell update at time t in direction d.
  private struct Row {
    let layer: RecurrentNetworkLowering
    let d, t, b: IRValue
    let p: [RecurrentSlots.Slot: IRValue]
    var k: KernelBuilder { layer.ctx.k }
    var hRow: IRValue { layer.stateRow(d, b) }
    var gates: IRValue { layer.gatesRow(d, b) }
    var projection: IRValue {
      let l = layer
      let xRow = l.g.batchMajor ? b * l.c(l.length) + t : t * l.c(l.batch) + b
      return (d * l.c(l.length * l.batch) + xRow) * l.c(l.columns)
    }

    func load(_ slot: RecurrentSlots.Slot, _ at: IRValue) -> IRValue { k.load(layer.element, from: p[slot]!, at: at) }
    func store(_ value: IRValue, _ slot: RecurrentSlots.Slot, _ at: IRValue) { k.store(value, layer.element, to: p[slot]!, at: at) }

    /// Projection + recurrent product of gate block `gate` at hidden index j.
    func pre(_ gate: Int, _ j: IRValue) -> IRValue {
      load(.projection, projection + layer.c(gate * layer.hidden) + j) + load(.gates, gates + layer.c(gate * layer.hidden) + j)
    }

    /// Activation `index` of the direction's list, on a clipped pre-activation (LSTM's h(C_t) reads the
    /// cell state unclipped, as onnxruntime). Picks by d at run time only when the directions differ.
    func activate(_ index: Int, _ input: IRValue) -> IRValue {
      let l = layer
      let x = l.g.cell == .lstm && index == 2 ? input : l.clipped(input)
      let acts = l.g.activations
      guard acts.count == 2, acts[0][index] != acts[1][index] else { return l.activation(acts[0][index], x) }
      return k.select(k.compare(.eq, d, l.c(0)), l.activation(acts[0][index], x), l.activation(acts[1][index], x))
    }

    /// Stores the new hidden value at j into the state and Y.
    func finish(_ j: IRValue, _ h: IRValue) {
      let l = layer
      store(h, .state, hRow + j)
      guard p[.y] != nil else { return }
      let yRow = l.g.batchMajor
        ? (b * l.c(l.length) + t) * l.c(l.directions) + d : (t * l.c(l.directions) + d) * l.c(l.batch) + b
      store(h, .y, yRow * l.c(l.hidden) + j)
    }
  }

  /// RNN and LSTM cell updates of batch row b at time t.
  private func emitCell(d: IRValue, t: IRValue, b: IRValue, _ p: [RecurrentSlots.Slot: IRValue]) {
    let row = Row(layer: self, d: d, t: t, b: b, p: p)
    let lanes = LoopHints(vectorize: true)
    if g.cell == .rnn {
      k.forLoop(from: c(0), to: c(hidden), hints: lanes) { j in row.finish(j, row.activate(0, row.pre(0, j))) }
      return
    }
    func peephole(_ which: Int, _ j: IRValue, _ cValue: IRValue) -> IRValue {
      guard p[.peepholes] != nil else { return k.constant(0, cValue.type) }
      return row.load(.peepholes, d * c(3 * hidden) + c(which * hidden) + j) * cValue
    }
    k.forLoop(from: c(0), to: c(hidden), hints: lanes) { j in
      let previous = row.load(.cell, row.hRow + j)
      // Gate blocks i, o, f, c; peepholes P = [Pi, Po, Pf].
      let i = row.activate(0, row.pre(0, j) + peephole(0, j, previous))
      let f = g.inputForget ? 1.0 - i : row.activate(0, row.pre(2, j) + peephole(2, j, previous))
      let next = f * previous + i * row.activate(1, row.pre(3, j))
      let o = row.activate(0, row.pre(1, j) + peephole(1, j, next))
      row.store(next, .cell, row.hRow + j)
      row.finish(j, o * row.activate(2, next))
    }
  }

  /// GRU's update and reset gates z, r (replacing their pre-activations in the gate row), and r ⊙ h when
  /// the reset comes before the recurrent product of the candidate.
  private func emitGRUGates(d: IRValue, t: IRValue, b: IRValue, _ p: [RecurrentSlots.Slot: IRValue]) {
    let row = Row(layer: self, d: d, t: t, b: b, p: p)
    k.forLoop(from: c(0), to: c(2 * hidden), hints: LoopHints(vectorize: true)) { n in
      row.store(row.activate(0, row.pre(0, n)), .gates, row.gates + n)
    }
    guard p[.resetHidden] != nil else { return }
    k.forLoop(from: c(0), to: c(hidden), hints: LoopHints(vectorize: true)) { j in
      row.store(row.load(.gates, row.gates + c(hidden) + j) * row.load(.state, row.hRow + j), .resetHidden, row.hRow + j)
    }
  }

  /// GRU's candidate and new hidden state: h̃ = g(x·Wh + (r ⊙ h)·Rh + Rbh + Wbh), or with
  /// linear_before_reset g(x·Wh + r ⊙ (h·Rh + Rbh) + Wbh); h = (1 − z) h̃ + z h.
  private func emitGRUCandidate(d: IRValue, t: IRValue, b: IRValue, _ p: [RecurrentSlots.Slot: IRValue]) {
    let row = Row(layer: self, d: d, t: t, b: b, p: p)
    k.forLoop(from: c(0), to: c(hidden), hints: LoopHints(vectorize: true)) { j in
      let (z, r) = (row.load(.gates, row.gates + j), row.load(.gates, row.gates + c(hidden) + j))
      let product = row.load(.gates, row.gates + c(2 * hidden) + j)
      let x = row.load(.projection, row.projection + c(2 * hidden) + j)
      let input: IRValue
      if g.linearBeforeReset {
        let rbh = p[.bias] != nil ? row.load(.bias, d * c(2 * columns) + c(columns + 2 * hidden) + j) : k.constant(0, z.type)
        input = x + r * (product + rbh)
      } else {
        input = x + product
      }
      row.finish(j, (1.0 - z) * row.activate(1, input) + z * row.load(.state, row.hRow + j))
    }
  }

  fileprivate func clipped(_ x: IRValue) -> IRValue {
    guard let clip = g.clip else { return x }
    return k.min(k.max(x, k.constant(-Double(clip), x.type)), k.constant(Double(clip), x.type))
  }

  /// One of the activation functions ONNX allows in recurrent layers.
  func activation(_ a: RecurrentActivation, _ x: IRValue) -> IRValue {
    let zero = k.constant(0, x.type)
    let (alpha, beta) = (Double(a.alpha), Double(a.beta))
    switch a.kind {
    case .relu: return k.select(k.compare(.gt, x, zero), x, zero)
    case .tanh: return math(k, .tanh, x)
    case .sigmoid: return math(k, .sigmoid, x)
    case .affine: return x * alpha + beta
    case .leakyrelu: return k.select(k.compare(.ge, x, zero), x, x * alpha)
    case .thresholdedrelu: return k.select(k.compare(.gt, x, k.constant(alpha, x.type)), x, zero)
    case .scaledtanh: return math(k, .tanh, x * beta) * alpha
    case .hardsigmoid: return k.max(zero, k.min(k.constant(1, x.type), x * alpha + beta))
    case .elu: return k.select(k.compare(.ge, x, zero), x, (math(k, .exp, x) - 1.0) * alpha)
    case .softsign: return x / (1.0 + k.abs(x))
    case .softplus: return math(k, .softplus, x)
    }
  }
}
