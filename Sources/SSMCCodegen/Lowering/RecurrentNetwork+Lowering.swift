import CLLVM
import SSMCIR

/// The ONNX recurrent layers LSTM, GRU and RNN.
///
/// The input projection X·Wᵀ (+ the biases that are not scaled by a gate) of every time step and direction
/// is one matrix product up front, through the matmul kernels, into the node's workspace. Then each
/// direction walks its time steps: per step the recurrent product h·Rᵀ of all batch rows (f32: the blocked
/// matmul tiles, reading R transposed once to k-major rows in place; f64: loops per row), then each running
/// row's cell update. A batch row past its sequence length stops: its Y rows stay zero. Directions run in
/// parallel unless the per-step product is large enough to be split across the pool itself.
let recurrentNetworkLowerings: [String: Lowering] = [
  "LSTM": { ctx in try RecurrentNetworkLowering(ctx).emit() },
  "GRU": { ctx in try RecurrentNetworkLowering(ctx).emit() },
  "RNN": { ctx in try RecurrentNetworkLowering(ctx).emit() },
]

/// The static sizes and workspace of one recurrent layer node.
struct RecurrentNetworkLowering {
  let ctx: LoweringContext
  let g: RecurrentGeometry
  let element: ScalarType
  /// Sequence length, batch, input size, hidden size, directions, gate columns (gates x hidden).
  let length, batch, input, hidden, directions, columns: Int
  /// Elements between rows of the transposed R: the gate columns padded to whole vectors, and off a
  /// multiple of 1 KB so rows the tiles read in turn do not map to the same L1 sets.
  let transposedStride: Int
  /// Whether the per-step product runs on the blocked f32 matmul tiles (else loops per batch row).
  let usesTiles: Bool

  init(_ ctx: LoweringContext) throws {
    self.ctx = ctx
    g = try recurrentGeometry(ctx.op)
    element = try ctx.scalar(ctx.operandType(0).element)
    guard element == .f32 || element == .f64 else { throw ctx.error("supports f32 and f64, got \(element)") }
    let x = ctx.operandShape(0)
    (length, batch) = g.batchMajor ? (x[1], x[0]) : (x[0], x[1])
    input = x[2]
    hidden = g.hiddenSize
    directions = g.directions
    columns = g.gates * hidden
    let padded = (columns + 15) / 16 * 16
    transposedStride = padded % 256 == 0 ? padded + 16 : padded
    usesTiles = element == .f32 && columns >= ctx.vectorLanes && batch * columns * hidden >= 4096
  }

  /// Operand indices of the optional inputs.
  static let biasOperand = 3, lengthsOperand = 4, initialH = 5, initialC = 6, peepholes = 7

  func emit() throws {
    let k = ctx.k
    guard length > 0, batch > 0 else {
      // Nothing runs: Y is empty or has no rows; the final states are zero (as for a zero-length sequence).
      for r in 1..<max(ctx.results.count, 1) { zero(ctx.results[r], count: directions * batch * hidden) }
      return
    }
    let bytes = element.byteSize
    let projection = ctx.workspace(bytes: directions * length * batch * columns * bytes)
    let transposed = ctx.workspace(bytes: directions * hidden * transposedStride * bytes)
    let stateBytes = directions * batch * hidden * bytes
    let state = ctx.workspace(bytes: stateBytes)
    let cell = g.cell == .lstm ? ctx.workspace(bytes: stateBytes) : nil
    let gates = ctx.workspace(bytes: directions * batch * columns * bytes)
    // r ⊙ h rows: zeroed, since the tiles also multiply the rows of finished batch entries.
    let resetHidden = g.cell == .gru && !g.linearBeforeReset ? ctx.workspace(bytes: stateBytes) : nil

    try emitProjection(into: projection)
    emitTransposedR(into: transposed)
    emitInitialState(ctx.hasOperand(Self.initialH) ? ctx.operand(Self.initialH) : nil, into: state)
    if let cell { emitInitialState(ctx.hasOperand(Self.initialC) ? ctx.operand(Self.initialC) : nil, into: cell) }
    if ctx.hasOperand(Self.lengthsOperand) { zero(ctx.results[0], count: length * directions * batch * hidden) }
    if let resetHidden { zero(resetHidden, count: directions * batch * hidden) }

    var slots = RecurrentSlots()
    slots.add(.projection, projection)
    slots.add(.transposed, transposed)
    slots.add(.state, state)
    slots.add(.gates, gates)
    if let cell { slots.add(.cell, cell) }
    if let resetHidden { slots.add(.resetHidden, resetHidden) }
    for (r, slot) in [RecurrentSlots.Slot.y, .yH, .yC].enumerated() where r < ctx.results.count { slots.add(slot, ctx.results[r]) }
    if ctx.hasOperand(Self.lengthsOperand) { slots.add(.lengths, ctx.operand(Self.lengthsOperand)) }
    if ctx.hasOperand(Self.biasOperand) { slots.add(.bias, ctx.operand(Self.biasOperand)) }
    if g.cell == .lstm && ctx.hasOperand(Self.peepholes) { slots.add(.peepholes, ctx.operand(Self.peepholes)) }
    if usesTiles {
      let table = (0..<hidden).map { Int64($0 * transposedStride) }
      slots.add(.rowTable, ctx.addConstantGlobal(name: "rnn.rows", int64s: table))
    }
    let stepWork = usesTiles ? 2 * batch * columns * hidden / 64 : 0
    if stepWork >= LoweringContext.parallelThreshold {
      // The tiles split each step's product across the pool; the directions then run one after the other.
      k.forLoop(from: k.i64(0), to: k.i64(Int64(directions)), hints: LoopHints(vectorize: false, unrollCount: 1)) { d in
        emitDirection(d, slots.bind(slots.values))
      }
      return
    }
    // Directions are independent; each gets a thread (the captures are then noalias, which the inner
    // loops need to vectorize without run-time overlap checks).
    k.parallelFor(count: k.i64(Int64(directions)), pool: ctx.pool, captures: slots.values) { begin, end, captured in
      let p = slots.bind(captured)
      k.forLoop(from: begin, to: end, hints: LoopHints(vectorize: false, unrollCount: 1)) { d in
        emitDirection(d, p)
      }
    }
  }

  private func zero(_ pointer: IRValue, count: Int) { ctx.fill(pointer, count: count, scalar: element) }

  /// projection[d, row, n] = Σ_i X[row, i] W[d, n, i] + bias[d, n], rows in X's order (t·batch + b, or
  /// b·length + t when batch-major). The bias is Wb + Rb except GRU's Rbh under linear_before_reset, which
  /// the reset gate scales.
  private func emitProjection(into projection: IRValue) throws {
    let k = ctx.k
    let problem = MatMulProblem(
      batch: [directions], m: length * batch, n: columns, k: input, aBatchStrides: [0], aM: input, aK: 1,
      bBatchStrides: [columns * input], bK: 1, bN: input)
    var epilogue: GemmEpilogue? = nil
    if ctx.hasOperand(Self.biasOperand) {
      let bias = ctx.workspace(bytes: directions * columns * element.byteSize)
      let b = ctx.operand(Self.biasOperand)
      let recurrentColumns = g.cell == .gru && g.linearBeforeReset ? 2 * hidden : columns
      let (columns, directions, element) = (columns, directions, element)
      k.forLoop(from: k.i64(0), to: k.i64(Int64(directions * columns)), hints: LoopHints(vectorize: true)) { i in
        let d = i / k.i64(Int64(columns))
        let n = i - d * k.i64(Int64(columns))
        let w = k.load(element, from: b, at: d * k.i64(Int64(2 * columns)) + n)
        let r = k.load(element, from: b, at: d * k.i64(Int64(2 * columns)) + k.i64(Int64(columns)) + n)
        let sum = w + k.select(k.compare(.lt, n, k.i64(Int64(recurrentColumns))), r, k.constant(0, r.type))
        k.store(sum, element, to: bias, at: i)
      }
      epilogue = GemmEpilogue(extras: [bias]) { k, acc, batchIndex, _, column, mask, extras in
        let at = batchIndex[0] * k.i64(Int64(columns)) + column
        let add = acc.isVector
          ? k.loadVector(element, lanes: acc.lanes, from: extras[0], at: at, mask: mask) : k.load(element, from: extras[0], at: at)
        return acc + add
      }
    }
    try emitMatMul(
      ctx, problem, a: ctx.operand(0), b: ctx.operand(1), bConstant: ctx.constant(1), c: projection, epilogue: epilogue)
  }

  /// transposed[d, j, n] = R[d, n, j] (rows transposedStride apart): row j holds every gate column's
  /// weight for h_j.
  private func emitTransposedR(into transposed: IRValue) {
    ctx.stridedCopy(
      [directions, hidden, columns], scalar: element, from: ctx.operand(2), strides: [columns * hidden, 1, hidden],
      to: transposed, strides: [hidden * transposedStride, transposedStride, 1])
  }

  /// state[d, b, :] from initial_h or initial_c ([D, B, H], or [B, D, H] batch-major), else zeros.
  private func emitInitialState(_ initial: IRValue?, into state: IRValue) {
    guard let initial else { return zero(state, count: directions * batch * hidden) }
    let source = g.batchMajor ? [hidden, directions * hidden, 1] : [batch * hidden, hidden, 1]
    ctx.stridedCopy(
      [directions, batch, hidden], scalar: element, from: initial, strides: source, to: state,
      strides: rowMajorStrides([directions, batch, hidden]))
  }
}

/// The pointers a direction's loop uses, passed as parallelFor captures in a fixed order.
struct RecurrentSlots {
  enum Slot: CaseIterable {
    case projection, transposed, rowTable, state, cell, gates, resetHidden, y, yH, yC, lengths, bias, peepholes
  }
  private(set) var order: [Slot] = []
  private(set) var values: [IRValue] = []

  mutating func add(_ slot: Slot, _ value: IRValue) {
    order.append(slot)
    values.append(value)
  }

  /// The captured values by slot, inside the parallel body.
  func bind(_ captured: [IRValue]) -> [Slot: IRValue] {
    Dictionary(uniqueKeysWithValues: zip(order, captured))
  }
}
