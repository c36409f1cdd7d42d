import CLLVM
import SSMCIR

// The scans over extents given at run time (see RuntimeExtents+Lowering.swift). In SelectiveScan the batch
// and the sequence length L may be symbolic, the channels D, states N and groups G must be static (in Vim and
// VMamba they are model widths; only the token count and batch follow the input size). LinearScan (the ONNX
// Scan form of a recurrence) takes every extent at run time.
//
// SelectiveScan's kernel shape: one work item per (batch, channel), spread over the pool. Per item the N states live in a
// stack array and one loop walks the sequence, one position at a time, in the storage the layout flags
// describe (SelectiveScan+Layout.swift). The recurrence is the static kernel's, scalar per channel:
// h = 2^(Δ·A·log2 e) ⊙ h + Δ·u·B, y = ⟨C, h⟩ + D·u, with an fp32 state.

extension Lowerings {
  /// State-space scans (this file).
  static let runtimeSizedScan: Set<String> = ["ssmc.SelectiveScan", "ssmc.LinearScan"]
}

/// The static facts of a scan over run-time batch and length.
private struct RuntimeScanShape {
  var channels: Int
  var states: Int
  var groups: Int
  var layouts: [ScanSequenceLayout]
  var softplus: Bool
  var reverse: Bool
}

/// `ssmc.SelectiveScan` with a run-time batch and/or length; refuses symbolic channels, states or groups.
func lowerRuntimeSelectiveScan(_ ctx: LoweringContext) throws(CodegenError) {
  let layouts = ScanPlan.layouts(ctx.node)
  let stored = ctx.operandType(0).dims
  guard stored.count == 3 else { throw ctx.error("u must have rank 3, got \(ctx.operandType(0))") }
  // The logical (batch, channels, length) dims; operand and result types are the stored ones.
  let logical = layouts[0].transposed ? [stored[0], stored[2], stored[1]] : stored
  let bDims = ctx.operandType(3).dims
  let groupDim = bDims.count == 4 ? bDims[1] : .fixed(1)
  guard let channels = logical[1].value, let states = ctx.operandType(2).dims[1].value, let groups = groupDim.value else {
    throw ctx.error(
      "with run-time extents, the scan takes only the batch and length at run time; channels \(logical[1]), "
        + "states \(ctx.operandType(2).dims[1]) and groups \(groupDim) must be static (use --input-shape)")
  }
  guard groups > 0, channels % groups == 0 else {
    throw ctx.error("B/C have \(groups) groups, which must divide the \(channels) channels")
  }
  guard channels > 0, states > 0 else { return }  // no channel or no state: nothing to compute
  let op = ctx.op
  let shape = RuntimeScanShape(
    channels: channels, states: states, groups: groups, layouts: layouts,
    softplus: ((try? op.int("delta_softplus")) ?? 0) != 0, reverse: ((try? op.int("reverse")) ?? 0) != 0)

  // Captures: the five required pointers, the present optional ones, y, then the batch and length.
  var captures = (0..<5).map { ctx.operand($0) }
  var slot: [Int: Int] = [:]
  for index in 5...7 where ctx.hasOperand(index) {
    slot[index] = captures.count
    captures.append(ctx.operand(index))
  }
  let resultSlot = captures.count
  captures.append(ctx.results[0])
  let batch = ctx.extent(logical[0])
  captures.append(ctx.extent(logical[2]))
  let k = ctx.k
  k.parallelFor(count: batch * k.i64(Int64(channels)), pool: ctx.pool, captures: captures) { begin, end, c in
    let pointers = ScanPointers(
      u: c[0], delta: c[1], a: c[2], b: c[3], c: c[4], d: slot[5].map { c[$0] }, z: slot[6].map { c[$0] },
      deltaBias: slot[7].map { c[$0] }, y: c[resultSlot])
    let emitter = RuntimeScanEmitter(k: k, shape: shape, p: pointers, length: c[resultSlot + 1])
    k.forLoop(from: begin, to: end, hints: LoopHints(vectorize: false, unrollCount: 1)) { item in
      emitter.emitChannel(item)
    }
  }
}

/// Emits the scan of one (batch, channel) pair over the whole run-time length.
private struct RuntimeScanEmitter {
  let k: KernelBuilder
  let shape: RuntimeScanShape
  let p: ScanPointers
  let length: IRValue
  /// The channel's A row scaled by log2 e (for `scanExp2`), and its states.
  let aRow, states: IRValue

  init(k: KernelBuilder, shape: RuntimeScanShape, p: ScanPointers, length: IRValue) {
    self.k = k
    self.shape = shape
    self.p = p
    self.length = length
    aRow = k.stackFloats(shape.states, name: "scan.rt.a")
    states = k.stackFloats(shape.states, name: "scan.rt.h")
  }

  private func i64(_ value: Int) -> IRValue { k.i64(Int64(value)) }

  /// Flat index of logical (batch, channel, position) in sequence tensor `slot` (u, delta, z, y) as stored.
  private func index(_ slot: Int, batch: IRValue, channel: IRValue, position: IRValue) -> IRValue {
    let layout = shape.layouts[slot]
    let stored = layout.flipped ? length - i64(1) - position : position
    if layout.transposed { return (batch * length + stored) * i64(shape.channels) + channel }
    return (batch * i64(shape.channels) + channel) * length + stored
  }

  func emitChannel(_ item: IRValue) {
    let channels = i64(shape.channels)
    let (batch, channel) = (item / channels, item % channels)
    let group = channel / i64(shape.channels / shape.groups)
    let n = shape.states
    k.forLoop(from: i64(0), to: i64(n)) { s in
      k.store(k.load(.f32, from: p.a, at: channel * i64(n) + s) * 1.4426950408889634, .f32, to: aRow, at: s)
      k.store(k.f32(0), .f32, to: states, at: s)
    }
    let skip = p.d.map { k.load(.f32, from: $0, at: channel) }
    let bias = p.deltaBias.map { k.load(.f32, from: $0, at: channel) }
    // B and C are (batch, groups, N, L) (rank 3 is G = 1): state s of position l is at bcBase + s·L + l.
    let bcBase = (batch * i64(shape.groups) + group) * i64(n) * length
    let (first, last, step): (IRValue, IRValue, Int64) = shape.reverse ? (length - i64(1), i64(-1), -1) : (i64(0), length, 1)
    k.forLoop(from: first, to: last, step: step, hints: LoopHints(vectorize: false, unrollCount: 1)) { l in
      let u = k.load(.f32, from: p.u, at: index(0, batch: batch, channel: channel, position: l))
      var delta = k.load(.f32, from: p.delta, at: index(1, batch: batch, channel: channel, position: l))
      if let bias { delta = delta + bias }
      if shape.softplus { delta = k.softplus(delta) }
      let deltaU = delta * u
      let sum = k.forLoop(from: i64(0), to: i64(n), carrying: [k.f32(0)]) { s, acc in
        let at = bcBase + s * length + l
        let decay = k.scanExp2(delta * k.load(.f32, from: aRow, at: s))
        let h = k.mulAdd(decay, k.load(.f32, from: states, at: s), deltaU * k.load(.f32, from: p.b, at: at))
        k.store(h, .f32, to: states, at: s)
        return [k.mulAdd(h, k.load(.f32, from: p.c, at: at), acc[0])]
      }
      var y = sum[0]
      if let skip { y = k.mulAdd(skip, u, y) }
      if let z = p.z {
        let gate = k.load(.f32, from: z, at: index(2, batch: batch, channel: channel, position: l))
        y = y * (gate * k.sigmoid(gate))
      }
      k.store(y, .f32, to: p.y, at: index(3, batch: batch, channel: channel, position: l))
    }
  }
}

/// `ssmc.LinearScan` (h = a_l ⊙ h + b_l along `axis`) over run-time extents, as the static lowering splits
/// it: the state is outer × inner at the scan axis, each outer index is a task whose inner loop is
/// contiguous in a, b and the state; the all-states result puts l at `output_axis`.
func lowerRuntimeLinearScan(_ ctx: LoweringContext) throws {
  let a = ctx.operandType(1).dims
  let axis = try ctx.op.axis(ctx.op.int("axis"), rank: a.count)
  let outAxis = try ctx.op.axis(ctx.op.int("output_axis"), rank: a.count, what: "output_axis")
  let state = ctx.operandType(0).dims
  let k = ctx.k
  func product(_ dims: ArraySlice<Dim>) -> IRValue { dims.reduce(k.i64(1)) { $0 * ctx.extent($1) } }
  let outer = product(state[..<axis])
  let sizes = [ctx.extent(a[axis]), product(state[axis...]), product(state[outAxis...])]
  let captures = [ctx.operand(0), ctx.operand(1), ctx.operand(2), ctx.results[0], ctx.results[1]] + sizes
  let scanAxisStays = outAxis == axis
  k.parallelFor(count: outer, pool: ctx.pool, captures: captures) { begin, end, c in
    let (initial, a, b, h, all) = (c[0], c[1], c[2], c[3], c[4])
    let (length, inner, outInner) = (c[5], c[6], c[7])
    k.forLoop(from: begin, to: end, hints: LoopHints(vectorize: false)) { o in
      let stateBase = o * inner
      k.forLoop(from: k.i64(0), to: inner, hints: LoopHints(vectorize: true)) { i in
        k.store(k.load(.f32, from: initial, at: stateBase + i), .f32, to: h, at: stateBase + i)
      }
      k.forLoop(from: k.i64(0), to: length, hints: LoopHints(vectorize: false)) { l in
        let base = (o * length + l) * inner
        k.forLoop(from: k.i64(0), to: inner, hints: LoopHints(vectorize: true)) { i in
          let next = k.mulAdd(k.load(.f32, from: a, at: base + i), k.load(.f32, from: h, at: stateBase + i), k.load(.f32, from: b, at: base + i))
          k.store(next, .f32, to: h, at: stateBase + i)
          // The all-states result puts l at output_axis: split the state index there.
          var at = base + i
          if !scanAxisStays {
            let s = stateBase + i
            at = (s / outInner * length + l) * outInner + s % outInner
          }
          k.store(next, .f32, to: all, at: at)
        }
      }
    }
  }
}
