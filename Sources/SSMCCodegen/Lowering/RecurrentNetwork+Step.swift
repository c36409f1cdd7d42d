import CLLVM
import SSMCIR

/// One direction's time loop and the LSTM, GRU and RNN cell updates (see RecurrentNetwork+Lowering.swift).
extension RecurrentNetworkLowering {
  private var k: KernelBuilder { ctx.k }
  private func c(_ v: Int) -> IRValue { k.i64(Int64(v)) }

  /// Runs direction `d` over every step; `p` are the captured pointers by slot.
  func emitDirection(_ d: IRValue, _ p: [RecurrentSlots.Slot: IRValue]) {
    let backward = g.directions == 2 ? k.compare(.eq, d, c(1)) : k.bool(g.reverse)
    k.forLoop(from: c(0), to: c(length), hints: LoopHints(vectorize: false, unrollCount: 1)) { s in
      k.forLoop(from: c(0), to: c(batch), hints: LoopHints(vectorize: false, unrollCount: 1)) { b in
        let steps = sequenceLength(b, p)
        k.ifThen(k.compare(.lt, s, steps)) {
          // A backward direction starts at the row's own last step.
          let t = k.select(backward, steps - c(1) - s, s)
          emitStep(d: d, t: t, b: b, p)
        }
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

  private func stateRow(_ d: IRValue, _ b: IRValue) -> IRValue { (d * c(batch) + b) * c(hidden) }

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

  /// gates[0..<count] = h·Rᵀ over gate columns [first, first + count) of direction d, with `h` at `hRow`
  /// of `source`.
  private func emitRecurrentProduct(
    d: IRValue, source: IRValue, hRow: IRValue, first: Int, count: Int, gates: IRValue, gatesRow: IRValue,
    _ p: [RecurrentSlots.Slot: IRValue]
  ) {
    let zero = k.constant(0, k.type(element))
    let rt = p[.transposed]!
    k.forLoop(from: c(0), to: c(count), hints: LoopHints(vectorize: true)) { n in k.store(zero, element, to: gates, at: gatesRow + n) }
    k.forLoop(from: c(0), to: c(hidden), hints: LoopHints(vectorize: false, unrollCount: 1)) { j in
      let hj = k.load(element, from: source, at: hRow + j)
      let rRow = (d * c(hidden) + j) * c(columns) + c(first)
      k.forLoop(from: c(0), to: c(count), hints: LoopHints(vectorize: true)) { n in
        let old = k.load(element, from: gates, at: gatesRow + n)
        k.store(k.mulAdd(hj, k.load(element, from: rt, at: rRow + n), old), element, to: gates, at: gatesRow + n)
      }
    }
  }

  /// One cell update of batch row b at time t in direction d.
  private func emitStep(d: IRValue, t: IRValue, b: IRValue, _ p: [RecurrentSlots.Slot: IRValue]) {
    let (state, gates) = (p[.state]!, p[.gates]!)
    let hRow = stateRow(d, b)
    let gatesRow = d * c(columns)
    let xRow = g.batchMajor ? b * c(length) + t : t * c(batch) + b
    let projectionRow = (d * c(length * batch) + xRow) * c(columns)
    let recurrentColumns = g.cell == .gru && !g.linearBeforeReset ? 2 * hidden : columns
    emitRecurrentProduct(d: d, source: state, hRow: hRow, first: 0, count: recurrentColumns, gates: gates, gatesRow: gatesRow, p)
    let yRow: IRValue? = p[.y].map { _ in
      (g.batchMajor ? (b * c(length) + t) * c(directions) + d : (t * c(directions) + d) * c(batch) + b) * c(hidden)
    }
    func pre(_ gate: Int, _ j: IRValue) -> IRValue {
      k.load(element, from: p[.projection]!, at: projectionRow + c(gate * hidden) + j)
        + k.load(element, from: gates, at: gatesRow + c(gate * hidden) + j)
    }
    let acts = g.activations
    // Clip bounds the gates' pre-activations; LSTM's h(C_t) reads the cell state unclipped (as onnxruntime).
    func activate(_ index: Int, _ input: IRValue) -> IRValue {
      let x = g.cell == .lstm && index == 2 ? input : clipped(input)
      // The two directions may use different functions: pick by d at run time only when they differ.
      guard acts.count == 2, acts[0][index] != acts[1][index] else { return activation(acts[0][index], x) }
      return k.select(k.compare(.eq, d, c(0)), activation(acts[0][index], x), activation(acts[1][index], x))
    }
    func finish(_ j: IRValue, _ h: IRValue) {
      k.store(h, element, to: state, at: hRow + j)
      if let y = p[.y], let yRow { k.store(h, element, to: y, at: yRow + j) }
    }
    let lanes = LoopHints(vectorize: true)
    switch g.cell {
    case .rnn:
      k.forLoop(from: c(0), to: c(hidden), hints: lanes) { j in finish(j, activate(0, pre(0, j))) }
    case .lstm:
      let cell = p[.cell]!
      let peep = p[.peepholes]
      func peephole(_ which: Int, _ j: IRValue, _ cValue: IRValue) -> IRValue {
        guard let peep else { return k.constant(0, cValue.type) }
        return k.load(element, from: peep, at: d * c(3 * hidden) + c(which * hidden) + j) * cValue
      }
      k.forLoop(from: c(0), to: c(hidden), hints: lanes) { j in
        let previous = k.load(element, from: cell, at: hRow + j)
        // Gate blocks i, o, f, c; peepholes P = [Pi, Po, Pf].
        let i = activate(0, pre(0, j) + peephole(0, j, previous))
        let f = g.inputForget ? 1.0 - i : activate(0, pre(2, j) + peephole(2, j, previous))
        let candidate = activate(1, pre(3, j))
        let next = f * previous + i * candidate
        let o = activate(0, pre(1, j) + peephole(1, j, next))
        k.store(next, element, to: cell, at: hRow + j)
        finish(j, o * activate(2, next))
      }
    case .gru:
      emitGRU(d: d, hRow: hRow, gatesRow: gatesRow, projectionRow: projectionRow, p, activate: activate, finish: finish)
    }
  }

  /// GRU: z and r from the first two gate blocks, then the candidate from the third, with the reset gate
  /// applied after (linear_before_reset) or before the recurrent product, which then runs here on r ⊙ h.
  private func emitGRU(
    d: IRValue, hRow: IRValue, gatesRow: IRValue, projectionRow: IRValue, _ p: [RecurrentSlots.Slot: IRValue],
    activate: (Int, IRValue) -> IRValue, finish: (IRValue, IRValue) -> Void
  ) {
    let (state, gates, projection) = (p[.state]!, p[.gates]!, p[.projection]!)
    let lanes = LoopHints(vectorize: true)
    func load(_ base: IRValue, _ at: IRValue) -> IRValue { k.load(element, from: base, at: at) }
    // Gate values z and r replace their pre-activations in `gates`.
    k.forLoop(from: c(0), to: c(2 * hidden), hints: lanes) { n in
      let x = load(projection, projectionRow + n) + load(gates, gatesRow + n)
      k.store(activate(0, x), element, to: gates, at: gatesRow + n)
    }
    if let reset = p[.resetHidden] {
      let resetRow = d * c(hidden)
      k.forLoop(from: c(0), to: c(hidden), hints: lanes) { j in
        k.store(load(gates, gatesRow + c(hidden) + j) * load(state, hRow + j), element, to: reset, at: resetRow + j)
      }
      emitRecurrentProduct(
        d: d, source: reset, hRow: resetRow, first: 2 * hidden, count: hidden, gates: gates, gatesRow: gatesRow + c(2 * hidden), p)
    }
    let bias = p[.bias]
    k.forLoop(from: c(0), to: c(hidden), hints: lanes) { j in
      let (z, r) = (load(gates, gatesRow + j), load(gates, gatesRow + c(hidden) + j))
      let product = load(gates, gatesRow + c(2 * hidden) + j)
      let x = load(projection, projectionRow + c(2 * hidden) + j)
      let candidateInput: IRValue
      if g.linearBeforeReset {
        let rbh = bias.map { load($0, d * c(2 * columns) + c(columns + 2 * hidden) + j) } ?? k.constant(0, z.type)
        candidateInput = x + r * (product + rbh)
      } else {
        candidateInput = x + product
      }
      let candidate = activate(1, candidateInput)
      finish(j, (1.0 - z) * candidate + z * load(state, hRow + j))
    }
  }

  private func clipped(_ x: IRValue) -> IRValue {
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
