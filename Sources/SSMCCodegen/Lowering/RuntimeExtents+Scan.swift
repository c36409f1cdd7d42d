import CLLVM
import SSMCIR

// The scans over extents given at run time (see RuntimeExtents+Lowering.swift). In SelectiveScan the batch
// and the sequence length L may be symbolic, the channels D, states N and groups G must be static (in Vim and
// VMamba they are model widths; only the token count and batch follow the input size). LinearScan (the ONNX
// Scan form of a recurrence) takes every extent at run time.
//
// SelectiveScan's kernel shape: as the static kernel, one vector lane per channel and a work item per (batch,
// block of `lanes` channels inside one group), items spread over the pool; the N states stay in registers
// (a stack array when N > 16) while one loop walks the run-time length position by position. Without the
// static kernel's square tiles (their chunking needs a static length), a position's channel vector is one
// masked load or store in the transposed layout and a masked gather or scatter (lane stride L) otherwise.
// The recurrence: h = 2^(Δ·A·log2 e) ⊙ h + Δ·u·B, y = ⟨C, h⟩ + D·u, with an fp32 state.

extension Lowerings {
  /// State-space scans (this file).
  static let runtimeSizedScan: Set<String> = ["ssmc.SelectiveScan", "ssmc.LinearScan"]
}

/// The static facts of a scan over run-time batch and length.
private struct RuntimeScanShape {
  var channels: Int
  var states: Int
  var groups: Int
  var lanes: Int
  var layouts: [ScanSequenceLayout]
  var softplus: Bool
  var reverse: Bool
  var scalefExp: Bool

  var channelsPerGroup: Int { channels / groups }
  /// Channel blocks never straddle groups, so B and C are one broadcast per block and state.
  var blocksPerGroup: Int { (channelsPerGroup + lanes - 1) / lanes }
  var statesInRegisters: Bool { states <= ScanPlan.maxRegisterStates }
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
  let lanes = ctx.vectorLanes
  guard lanes > 0 else { throw ctx.error("the scan kernel needs vector registers, the target has \(lanes) f32 lanes") }
  guard channels > 0 else { return }  // no channel: an empty output
  let op = ctx.op
  let shape = RuntimeScanShape(
    channels: channels, states: states, groups: groups, lanes: lanes, layouts: layouts,
    softplus: ((try? op.int("delta_softplus")) ?? 0) != 0, reverse: ((try? op.int("reverse")) ?? 0) != 0,
    scalefExp: ctx.x86AVX512 && lanes == 16)

  // Captures: the scan's pointers, then the length.
  let (pointerCaptures, unpack) = ScanPointers.captures(ctx)
  let k = ctx.k
  let items = ctx.extent(logical[0]) * k.i64(Int64(groups * shape.blocksPerGroup))
  k.parallelFor(count: items, pool: ctx.pool, captures: pointerCaptures + [ctx.extent(logical[2])]) { begin, end, c in
    let pointers = unpack(Array(c.dropLast()))
    let emitter = RuntimeScanEmitter(k: k, shape: shape, p: pointers, length: c[c.count - 1])
    k.forLoop(from: begin, to: end, hints: LoopHints(vectorize: false, unrollCount: 1)) { item in
      emitter.emitBlock(item)
    }
  }
}

/// Emits one work item: a block of channels of one batch element, over the whole run-time length.
private struct RuntimeScanEmitter {
  let k: KernelBuilder
  let shape: RuntimeScanShape
  let p: ScanPointers
  let length: IRValue
  /// A (scaled by log2 e, for `scanExp2`) as one vector per state, and the states when not in registers.
  let aTile: IRValue
  let stateTile: IRValue?

  init(k: KernelBuilder, shape: RuntimeScanShape, p: ScanPointers, length: IRValue) {
    self.k = k
    self.shape = shape
    self.p = p
    self.length = length
    aTile = k.stackFloats(max(shape.states, 1) * shape.lanes, name: "scan.rt.a")
    stateTile = shape.statesInRegisters ? nil : k.stackFloats(shape.states * shape.lanes, name: "scan.rt.h")
  }

  private var lanes: Int { shape.lanes }
  private func i64(_ value: Int) -> IRValue { k.i64(Int64(value)) }
  private func vector(_ base: IRValue, _ index: IRValue) -> IRValue { k.loadVector(.f32, lanes: lanes, from: base, at: index) }
  private var zeroVector: IRValue { k.constant(0, k.type(.f32, lanes: lanes)) }

  /// Where a block's channel vector at a logical position is stored in sequence tensor `slot` (u, delta,
  /// z, y): the first lane's flat index, and whether lanes are contiguous (else L apart).
  private func location(_ slot: Int, batch: IRValue, firstChannel: IRValue, position: IRValue) -> (index: IRValue, contiguous: Bool) {
    let layout = shape.layouts[slot]
    let stored = layout.flipped ? length - i64(1) - position : position
    if layout.transposed { return ((batch * length + stored) * i64(shape.channels) + firstChannel, true) }
    return ((batch * i64(shape.channels) + firstChannel) * length + stored, false)
  }

  /// Lane addresses L apart from `index`, without `inbounds`: masked-off lanes may point past the tensor.
  private func laneAddresses(_ base: IRValue, _ index: IRValue) -> IRValue {
    var offsets = [Optional((k.splat(index, lanes: lanes) + k.laneIndices(lanes: lanes) * k.splat(length, lanes: lanes)).ref)]
    return IRValue(LLVMBuildGEP2(k.builder, k.type(.f32), base.ref, &offsets, 1, "")!, k)
  }

  private func load(_ slot: Int, _ base: IRValue, batch: IRValue, firstChannel: IRValue, position: IRValue, mask: IRValue) -> IRValue {
    let (index, contiguous) = location(slot, batch: batch, firstChannel: firstChannel, position: position)
    if contiguous { return k.loadVector(.f32, lanes: lanes, from: base, at: index, mask: mask) }
    let pointers = k.llvm.vector(k.llvm.ptr, lanes: lanes)
    return k.intrinsic(
      "llvm.masked.gather", overloads: [zeroVector.type, pointers], [laneAddresses(base, index), k.i32(4), mask, zeroVector])
  }

  private func store(_ value: IRValue, batch: IRValue, firstChannel: IRValue, position: IRValue, mask: IRValue) {
    let (index, contiguous) = location(3, batch: batch, firstChannel: firstChannel, position: position)
    if contiguous { return k.storeVector(value, .f32, to: p.y, at: index, mask: mask) }
    let pointers = k.llvm.vector(k.llvm.ptr, lanes: lanes)
    _ = k.intrinsic("llvm.masked.scatter", overloads: [value.type, pointers], [value, laneAddresses(p.y, index), k.i32(4), mask])
  }

  func emitBlock(_ item: IRValue) {
    let perBatch = i64(shape.groups * shape.blocksPerGroup)
    let batch = item / perBatch
    let group = (item % perBatch) / i64(shape.blocksPerGroup)
    let groupOffset = (item % i64(shape.blocksPerGroup)) * i64(lanes)
    let firstChannel = group * i64(shape.channelsPerGroup) + groupOffset
    let validChannels = k.min(i64(lanes), i64(shape.channelsPerGroup) - groupOffset)
    let mask = k.prefixMask(count: validChannels, lanes: lanes)
    let n = shape.states
    // A's rows as one vector per state; lanes past the block's end stay 0 (decay 1, input term 0: finite).
    k.forLoop(from: i64(0), to: i64(n), hints: LoopHints(vectorize: false)) { s in
      k.storeVector(zeroVector, .f32, to: aTile, at: s * i64(lanes))
    }
    k.forLoop(from: i64(0), to: validChannels, hints: LoopHints(vectorize: false)) { c in
      k.forLoop(from: i64(0), to: i64(n)) { s in
        let a = k.load(.f32, from: p.a, at: (firstChannel + c) * i64(n) + s)
        k.store(a * 1.4426950408889634, .f32, to: aTile, at: s * i64(lanes) + c)
      }
    }
    let skip = p.d.map { k.loadVector(.f32, lanes: lanes, from: $0, at: firstChannel, mask: mask) }
    let bias = p.deltaBias.map { k.loadVector(.f32, lanes: lanes, from: $0, at: firstChannel, mask: mask) }
    // B and C are (batch, groups, N, L) (rank 3 is G = 1): state s of position l is at bcBase + s·L + l.
    let bcBase = (batch * i64(shape.groups) + group) * i64(n) * length
    var initial: [IRValue] = []
    if let stateTile {
      k.forLoop(from: i64(0), to: i64(n), hints: LoopHints(vectorize: false)) { s in
        k.storeVector(zeroVector, .f32, to: stateTile, at: s * i64(lanes))
      }
    } else {
      initial = Array(repeating: zeroVector, count: n)
    }
    let (first, last, step): (IRValue, IRValue, Int64) = shape.reverse ? (length - i64(1), i64(-1), -1) : (i64(0), length, 1)
    k.forLoop(from: first, to: last, step: step, hints: LoopHints(vectorize: false, unrollCount: 1), carrying: initial) { l, h in
      let u = load(0, p.u, batch: batch, firstChannel: firstChannel, position: l, mask: mask)
      var delta = load(1, p.delta, batch: batch, firstChannel: firstChannel, position: l, mask: mask)
      if let bias { delta = delta + bias }
      if shape.softplus { delta = k.softplus(delta) }
      let (sum, next) = recurrence(delta: delta, deltaU: delta * u, states: h, bc: bcBase + l)
      var y = skip.map { k.mulAdd($0, u, sum) } ?? sum
      if let z = p.z {
        let gate = load(2, z, batch: batch, firstChannel: firstChannel, position: l, mask: mask)
        y = y * (gate * k.sigmoid(gate))
      }
      store(y, batch: batch, firstChannel: firstChannel, position: l, mask: mask)
      return next
    }
  }

  /// One position's state update; returns ⟨C, h⟩ and the next register states (none with the stack tile).
  /// `bc` is the flat index of state 0 of the position in B and C.
  private func recurrence(delta: IRValue, deltaU: IRValue, states h: [IRValue], bc: IRValue) -> (IRValue, [IRValue]) {
    let block = ScanBlock(lanes: lanes, states: shape.states, aTile: aTile, stateTile: stateTile, scalefExp: shape.scalefExp)
    return k.scanStateUpdate(block, delta: delta, deltaU: deltaU, states: h, plus: zeroVector, b: p.b, c: p.c) { base, s in
      k.splat(k.load(.f32, from: base, at: bc + s * length), lanes: lanes)
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
  let outer = ctx.extentProduct(state[..<axis])
  let sizes = [ctx.extent(a[axis]), ctx.extentProduct(state[axis...]), ctx.extentProduct(state[outAxis...])]
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
