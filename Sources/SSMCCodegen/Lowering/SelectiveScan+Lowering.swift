import CLLVM
import SSMCIR

/// Mamba's selective scan (`ssmc.SelectiveScan`), exactly `selective_scan_fn` with an fp32 state.
///
/// Kernel shape: one vector lane per channel. A work item is (batch, channel block of `lanes` channels
/// inside one group); items are spread over the pool. Per item the N states of every channel stay in
/// vector registers (a stack array when N > 16) while one loop walks the sequence in chunks of `lanes`
/// positions: each chunk transposes u, delta and z into per-position vectors (SelectiveScan+Tiles.swift;
/// transposed or reversed storage in SelectiveScan+Layout.swift),
/// applies delta_bias, softplus and the z gate to whole vectors, runs the recurrence position by position
/// with B and C broadcast from their (group, state, position) rows, and transposes y back. (B, D, L, N)
/// never exists in memory; the recurrence is h = 2^(Δ·A·log2 e) ⊙ h + Δ·u·B, y = ⟨C, h⟩ + D·u.
let scanLowerings: [String: Lowering] = ["ssmc.SelectiveScan": lowerSelectiveScan]

/// The static facts one scan kernel is specialized for.
struct ScanPlan {
  var batch: Int
  var channels: Int
  var length: Int
  var states: Int
  var groups: Int
  var lanes: Int
  var hasD: Bool
  var hasZ: Bool
  var hasDeltaBias: Bool
  var softplus: Bool
  var reverse: Bool
  /// 2^x through AVX-512's vscalefps (16-lane vectors on x86 with AVX-512F).
  var scalefExp = false
  /// Storage of u, delta, z and y (SelectiveScan+Layout.swift).
  var layouts: [ScanSequenceLayout] = Array(repeating: ScanSequenceLayout(), count: 4)

  var channelsPerGroup: Int { channels / groups }
  /// Channel blocks never straddle groups, so B and C are one broadcast per block and state.
  var blocksPerGroup: Int { (channelsPerGroup + lanes - 1) / lanes }
  var workItems: Int { batch * groups * blocksPerGroup }
  var chunks: Int { (length + lanes - 1) / lanes }
  /// Up to this many states live as loop-carried registers (with AVX-512, 16 states plus temporaries
  /// still fit the 32 vector registers once A is read from its stack tile); more go to a stack array.
  static let maxRegisterStates = 16
  var statesInRegisters: Bool { states <= Self.maxRegisterStates }
}

private func lowerSelectiveScan(_ ctx: LoweringContext) throws(CodegenError) {
  if ctx.hasRuntimeExtents { return try lowerRuntimeSelectiveScan(ctx) }
  let layouts = ScanPlan.layouts(ctx.node)
  let stored = ctx.operandShape(0)
  // The logical (batch, channels, length) shape; operand and result types are the stored ones.
  let uShape = layouts[0].transposed ? [stored[0], stored[2], stored[1]] : stored
  let bShape = ctx.operandShape(3)
  let op = ctx.op
  let lanes = ctx.vectorLanes
  guard lanes > 0, lanes & (lanes - 1) == 0 else {
    throw ctx.error("the scan kernel needs a power-of-two vector width, the target has \(lanes) f32 lanes")
  }
  let plan = ScanPlan(
    batch: uShape[0], channels: uShape[1], length: uShape[2], states: ctx.operandShape(2)[1],
    groups: bShape.count == 4 ? bShape[1] : 1, lanes: lanes,
    hasD: ctx.hasOperand(5), hasZ: ctx.hasOperand(6), hasDeltaBias: ctx.hasOperand(7),
    softplus: ((try? op.int("delta_softplus")) ?? 0) != 0, reverse: ((try? op.int("reverse")) ?? 0) != 0,
    scalefExp: ctx.x86AVX512 && lanes == 16, layouts: layouts)
  guard plan.groups > 0, plan.channels % plan.groups == 0 else {
    throw ctx.error("B/C have \(plan.groups) groups, which must divide the \(plan.channels) channels")
  }
  guard plan.workItems > 0, plan.length > 0 else { return }  // an empty output: nothing to compute

  let (captures, unpack) = ScanPointers.captures(ctx)
  let k = ctx.k
  k.parallelFor(count: k.i64(Int64(plan.workItems)), pool: ctx.pool, captures: captures) { begin, end, captured in
    let pointers = unpack(captured)
    let emitter = ScanEmitter(k: k, plan: plan, p: pointers)
    k.forLoop(from: begin, to: end, hints: LoopHints(vectorize: false, unrollCount: 1)) { item in
      emitter.emitBlock(item)
    }
  }
}

/// The data pointers the kernel reads and writes (absent optional operands are nil).
struct ScanPointers {
  let u, delta, a, b, c: IRValue
  let d, z, deltaBias: IRValue?
  let y: IRValue

  /// The node's pointers as parallel-loop captures in a fixed order (u, delta, A, B, C, the present optional
  /// operands, y), and how to read them back from the captured values.
  static func captures(_ ctx: LoweringContext) -> (values: [IRValue], unpack: ([IRValue]) -> ScanPointers) {
    var values = (0..<5).map { ctx.operand($0) }
    var slot: [Int: Int] = [:]
    for index in 5...7 where ctx.hasOperand(index) {
      slot[index] = values.count
      values.append(ctx.operand(index))
    }
    let resultSlot = values.count
    values.append(ctx.results[0])
    return (values, { c in
      ScanPointers(
        u: c[0], delta: c[1], a: c[2], b: c[3], c: c[4], d: slot[5].map { c[$0] }, z: slot[6].map { c[$0] },
        deltaBias: slot[7].map { c[$0] }, y: c[resultSlot])
    })
  }
}

/// Emits one work item: a block of channels of one batch element, over the whole sequence.
struct ScanEmitter {
  let k: KernelBuilder
  let plan: ScanPlan
  let p: ScanPointers
  /// Per-function stack tiles: A (scaled by log2 e) as one vector per state, the transposed inputs, y.
  let aTile, uTile, deltaTile, yTile: IRValue
  let gateTile, stateTile: IRValue?

  init(k: KernelBuilder, plan: ScanPlan, p: ScanPointers) {
    self.k = k
    self.plan = plan
    self.p = p
    let square = plan.lanes * plan.lanes
    aTile = k.stackFloats(max(plan.states, 1) * plan.lanes, name: "scan.a")
    uTile = k.stackFloats(square, name: "scan.u")
    deltaTile = k.stackFloats(square, name: "scan.delta")
    yTile = k.stackFloats(square, name: "scan.y")
    gateTile = plan.hasZ ? k.stackFloats(square, name: "scan.gate") : nil
    stateTile = plan.statesInRegisters ? nil : k.stackFloats(plan.states * plan.lanes, name: "scan.h")
  }

  private var lanes: Int { plan.lanes }
  private func i64(_ value: Int) -> IRValue { k.i64(Int64(value)) }
  private func vector(_ base: IRValue, _ index: IRValue) -> IRValue { k.loadVector(.f32, lanes: lanes, from: base, at: index) }
  private var zeroVector: IRValue { k.constant(0, k.type(.f32, lanes: lanes)) }

  func emitBlock(_ item: IRValue) {
    let perBatch = i64(plan.groups * plan.blocksPerGroup)
    let batch = item / perBatch
    let group = (item % perBatch) / i64(plan.blocksPerGroup)
    let blockInGroup = item % i64(plan.blocksPerGroup)
    let groupOffset = blockInGroup * i64(lanes)
    let firstChannel = group * i64(plan.channelsPerGroup) + groupOffset
    let validChannels = k.min(i64(lanes), i64(plan.channelsPerGroup) - groupOffset)
    let channelMask = k.prefixMask(count: validChannels, lanes: lanes)

    fillATile(firstChannel: firstChannel, validChannels: validChannels)
    let dVector = p.d.map { k.loadVector(.f32, lanes: lanes, from: $0, at: firstChannel, mask: channelMask) }
    let biasVector = p.deltaBias.map { k.loadVector(.f32, lanes: lanes, from: $0, at: firstChannel, mask: channelMask) }
    let tile = ScanTile(
      k: k, lanes: lanes, rowBase: (batch * i64(plan.channels) + firstChannel) * i64(plan.length),
      rowStride: plan.length, validChannels: validChannels)
    func sequence(_ slot: Int, _ base: IRValue) -> ScanSequence {
      ScanSequence(
        k: k, plan: plan, layout: plan.layouts[slot], base: base, tile: tile, batch: batch, firstChannel: firstChannel,
        channelMask: channelMask)
    }
    let inputs = (u: sequence(0, p.u), delta: sequence(1, p.delta), z: p.z.map { sequence(2, $0) })
    let output = sequence(3, p.y)
    let bcBase = (batch * i64(plan.groups) + group) * i64(plan.states * plan.length)

    var initial: [IRValue] = []
    if let stateTile {
      k.forLoop(from: i64(0), to: i64(plan.states), hints: LoopHints(vectorize: false)) { n in
        k.storeVector(zeroVector, .f32, to: stateTile, at: n * i64(lanes))
      }
    } else {
      initial = Array(repeating: zeroVector, count: plan.states)
    }
    let (first, last, direction) = plan.reverse ? (plan.chunks - 1, -1, Int64(-1)) : (0, plan.chunks, Int64(1))
    k.forLoop(from: i64(first), to: i64(last), step: direction, hints: LoopHints(vectorize: false, unrollCount: 1), carrying: initial) {
      chunk, states in
      let start = chunk * i64(lanes)
      let count = k.min(i64(lanes), i64(plan.length) - start)
      let positions = k.prefixMask(count: count, lanes: lanes)
      loadInputs(inputs, start: start, count: count, positions: positions, bias: biasVector)
      let (from, to) = plan.reverse ? (count - 1, i64(-1)) : (i64(0), count)
      let next = k.forLoop(from: from, to: to, step: direction, hints: LoopHints(vectorize: false, unrollCount: 1), carrying: states) {
        t, h in
        step(t, position: start + t, states: h, bcBase: bcBase, dVector: dVector)
      }
      output.storeColumns(start: start, count: count, positions: positions) { slot in vector(yTile, slot * i64(lanes)) }
      return next
    }
  }

  /// A's rows for the block's channels as one vector per state, scaled by log2(e) for `scanExp2`; lanes of
  /// channels past the block's end are 0 (their decay is 1 and their input term 0, so they stay finite).
  private func fillATile(firstChannel: IRValue, validChannels: IRValue) {
    let noVectorize = LoopHints(vectorize: false)
    k.forLoop(from: i64(0), to: i64(plan.states), hints: noVectorize) { n in
      k.storeVector(zeroVector, .f32, to: aTile, at: n * i64(lanes))
    }
    k.forLoop(from: i64(0), to: validChannels, hints: noVectorize) { c in
      k.forLoop(from: i64(0), to: i64(plan.states)) { n in
        let a = k.load(.f32, from: p.a, at: (firstChannel + c) * i64(plan.states) + n)
        k.store(a * 1.4426950408889634, .f32, to: aTile, at: n * i64(lanes) + c)
      }
    }
  }

  /// Transposes a chunk of u, delta (+ delta_bias, softplus) and z (as the gate z·sigmoid(z)) into tiles.
  private func loadInputs(
    _ inputs: (u: ScanSequence, delta: ScanSequence, z: ScanSequence?), start: IRValue, count: IRValue, positions: IRValue,
    bias: IRValue?
  ) {
    inputs.u.loadColumns(start: start, count: count, positions: positions) { slot, column in
      k.storeVector(column, .f32, to: uTile, at: slot * i64(lanes))
    }
    inputs.delta.loadColumns(start: start, count: count, positions: positions) { slot, column in
      var delta = bias.map { column + $0 } ?? column
      if plan.softplus { delta = k.softplus(delta) }
      k.storeVector(delta, .f32, to: deltaTile, at: slot * i64(lanes))
    }
    if let z = inputs.z, let gateTile {
      z.loadColumns(start: start, count: count, positions: positions) { slot, column in
        k.storeVector(column * k.sigmoid(column), .f32, to: gateTile, at: slot * i64(lanes))
      }
    }
  }

  /// One position of the recurrence for the block; returns the next register states (none when the
  /// states live in the stack tile) and leaves y in its tile.
  private func step(_ t: IRValue, position: IRValue, states h: [IRValue], bcBase: IRValue, dVector: IRValue?) -> [IRValue] {
    let column = t * i64(lanes)
    let u = vector(uTile, column)
    let delta = vector(deltaTile, column)
    let deltaU = delta * u
    let block = ScanBlock(lanes: lanes, states: plan.states, aTile: aTile, stateTile: stateTile, scalefExp: plan.scalefExp)
    var (y, next) = k.scanStateUpdate(
      block, delta: delta, deltaU: deltaU, states: h, plus: dVector.map { $0 * u } ?? zeroVector, b: p.b, c: p.c
    ) { base, n in
      k.splat(k.load(.f32, from: base, at: bcBase + n * i64(plan.length) + position), lanes: lanes)
    }
    if let gateTile { y = y * vector(gateTile, column) }
    k.storeVector(y, .f32, to: yTile, at: column)
    return next
  }
}

/// The channel block of a selective scan as its recurrence step sees it: one channel per lane, A's rows per
/// state (scaled by log2(e)) in `aTile`, and the states in registers or, with `stateTile`, on the stack.
struct ScanBlock {
  var lanes: Int
  var states: Int
  var aTile: IRValue
  var stateTile: IRValue?
  var scalefExp: Bool
}

extension KernelBuilder {
  /// One position of the recurrence for a block: every state n decays by exp(delta · A[n]) and takes
  /// delta·u·B[n]. Returns `plus` + ⟨C, h⟩ and the next register states (none when the states live in the
  /// stack tile, which it updates). `broadcast(base, n)` splats state n's entry of B or C at the position.
  /// The static and the run-time scan kernels share it.
  func scanStateUpdate(
    _ block: ScanBlock, delta: IRValue, deltaU: IRValue, states h: [IRValue], plus initial: IRValue, b: IRValue,
    c: IRValue, broadcast: (IRValue, IRValue) -> IRValue
  ) -> (sum: IRValue, next: [IRValue]) {
    let lanes = Int64(block.lanes)
    func update(_ n: IRValue, _ state: IRValue) -> (state: IRValue, c: IRValue) {
      let scaled = delta * loadVector(.f32, lanes: block.lanes, from: block.aTile, at: n * i64(lanes))
      let decay = block.scalefExp ? scanExp2AVX512(scaled) : scanExp2(scaled)
      return (mulAdd(decay, state, deltaU * broadcast(b, n)), broadcast(c, n))
    }
    if let stateTile = block.stateTile {
      let sum = forLoop(from: i64(0), to: i64(Int64(block.states)), hints: LoopHints(vectorize: false, unrollCount: 4), carrying: [initial]) {
        n, acc in
        let (state, cn) = update(n, loadVector(.f32, lanes: block.lanes, from: stateTile, at: n * i64(lanes)))
        storeVector(state, .f32, to: stateTile, at: n * i64(lanes))
        return [mulAdd(state, cn, acc[0])]
      }
      return (sum[0], [])
    }
    // Up to four partial sums of ⟨C, h⟩ keep the accumulation off the critical path.
    var next: [IRValue] = []
    var partial: [IRValue] = []
    for n in 0..<block.states {
      let (state, cn) = update(i64(Int64(n)), h[n])
      next.append(state)
      if partial.count < 4 { partial.append(state * cn) } else { partial[n % 4] = mulAdd(state, cn, partial[n % 4]) }
    }
    var y = initial
    for value in partial { y = y + value }
    return (y, next)
  }
}
