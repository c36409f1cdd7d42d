import CLLVM
import SSMCIR

/// Normalizations. Statistics are computed per row in f32 with two passes (a mean, then the sums of
/// deviations from it and of their squares, which also correct the mean), each with vector partial sums:
/// no cancellation of E[x²] - E[x]², and accurate when the mean is far larger than the spread. The output
/// pass is a contiguous loop LLVM vectorizes.
let normalizationLowerings: [String: Lowering] = [
  "LayerNormalization": { ctx in try lowerLayerNorm(ctx, rms: false) },
  "RMSNormalization": { ctx in try lowerLayerNorm(ctx, rms: true) },
  "BatchNormalization": lowerBatchNorm,
  "InstanceNormalization": { ctx in try lowerGroupedNorm(ctx, instance: true) },
  "GroupNormalization": { ctx in try lowerGroupedNorm(ctx, instance: false) },
]

extension LoweringContext {
  fileprivate func requireF32(_ operands: [Int]) throws {
    for i in operands where hasOperand(i) && operandType(i).element != .f32 {
      throw error("supports f32 only, operand \(i) is \(operandType(i).element)")
    }
  }

  fileprivate var epsilon: Double { get throws { Double(try op.float("epsilon")) } }

  /// Statistics of `count` contiguous f32 values from `start`: a first mean `m`, the correction `delta`
  /// (the mean of x - m, so the mean is m + delta) and 1/sqrt(variance + epsilon). Normalize as
  /// (x - m) - delta: x - m is exact for x near m, so a mean far larger than the spread keeps its accuracy.
  /// With `rms`, m = delta = 0 and the variance is the mean square.
  fileprivate func rowStatistics(
    _ base: IRValue, start: IRValue, count: Int, epsilon: Double, rms: Bool
  ) -> (m: IRValue, delta: IRValue, inverse: IRValue) {
    let zero = k.constant(0, k.llvm.f32)
    let scale = 1.0 / Double(Swift.max(count, 1))
    let lanes = count < vectorLanes ? Swift.max(2, count.nextPowerOfTwo) : vectorLanes
    var m = zero
    if !rms {
      m = k.reduceContiguous(.f32, lanes: lanes, base: base, start: start, count: count, identity: zero, map: { $0 }, combine: { $0 + $1 }) * scale
    }
    let centre = k.splat(m, lanes: lanes)
    let zeros = k.constant(0, k.type(.f32, lanes: lanes))
    let sums = k.forVectors(count: count, lanes: lanes, carrying: [zeros, zeros]) { off, mask, acc in
      var d = k.loadVector(.f32, lanes: lanes, from: base, at: start + off, mask: mask) - centre
      if let mask { d = k.select(mask, d, zeros) }
      return [acc[0] + d, acc[1] + d * d]
    }
    let delta = rms ? zero : k.horizontal(sums[0]) { $0 + $1 } * scale
    let variance = k.horizontal(sums[1]) { $0 + $1 } * scale - delta * delta
    return (m, delta, 1.0 / k.sqrt(variance + epsilon))
  }
}

/// LayerNormalization / RMSNormalization over dims [axis, rank); Scale and B broadcast to those dims.
private func lowerLayerNorm(_ ctx: LoweringContext, rms: Bool) throws {
  try ctx.requireF32([0, 1, 2])
  // The dims before the axis may be given at run time (`forEachIndex(outer:)`); the normalized ones are static.
  let inputDims = ctx.operandType(0).dims
  let axis = try normalizedAxis(ctx)
  let epsilon = try ctx.epsilon
  let rowDims = Array(inputDims[..<axis])
  let rows = Dim.product(rowDims)?.constantValue ?? 1 << 20
  let normalized = try ctx.staticExtents(inputDims[axis...], what: "the normalized dims")
  let inner = normalized.reduce(1, *)
  let hasBias = !rms && ctx.hasOperand(2)
  // Strides of X, scale and bias over the normalized dims, merged where all are contiguous.
  var strides = [rowMajorStrides(normalized), broadcastStrides(of: ctx.operandShape(1), to: normalized)]
  if hasBias { strides.append(broadcastStrides(of: ctx.operandShape(2), to: normalized)) }
  let (dims, loopStrides) = coalesce(normalized, strides)
  let statResults = ctx.results.count - 1
  for r in 1..<ctx.results.count where ctx.resultType(r).element != .f32 {
    throw ctx.error("supports stash_type f32 statistics only")
  }
  var captures = [ctx.operand(0), ctx.operand(1)] + (hasBias ? [ctx.operand(2)] : []) + [ctx.results[0]]
  captures += ctx.results.dropFirst()
  let k = ctx.k
  ctx.forEachIndex(outer: rowDims, [], work: rows * inner, captures: captures, innerHints: LoopHints(vectorize: false)) { row, c in
    let (x, scale) = (c[0], c[1])
    let bias: IRValue? = hasBias ? c[2] : nil
    let y = c[hasBias ? 3 : 2]
    let base = row[0] * k.i64(Int64(inner))
    let (m, delta, inverse) = ctx.rowStatistics(x, start: base, count: inner, epsilon: epsilon, rms: rms)
    func level(_ d: Int, _ offsets: [IRValue]) {
      if d == dims.count {
        var v = rms ? k.load(.f32, from: x, at: base + offsets[0]) : k.load(.f32, from: x, at: base + offsets[0]) - m - delta
        v = v * inverse * k.load(.f32, from: scale, at: offsets[1])
        if let bias { v = v + k.load(.f32, from: bias, at: offsets[2]) }
        k.store(v, .f32, to: y, at: base + offsets[0])
        return
      }
      let hints = LoopHints(vectorize: d == dims.count - 1)
      k.forLoop(from: k.i64(0), to: k.i64(Int64(dims[d])), hints: hints) { i in
        level(d + 1, offsets.indices.map { offsets[$0] + i * k.i64(Int64(loopStrides[$0][d])) })
      }
    }
    level(0, loopStrides.map { _ in k.i64(0) })
    let statistics = c.suffix(statResults)
    if let meanResult = statistics.first { k.store(m + delta, .f32, to: meanResult, at: row[0]) }
    if statistics.count > 1 { k.store(inverse, .f32, to: statistics[statistics.startIndex + 1], at: row[0]) }
  }
}

/// BatchNormalization (inference): per channel y = x * a + b with a = scale / sqrt(var + eps), b = B - mean * a.
private let lowerBatchNorm: Lowering = { ctx in
  try ctx.requireF32([0, 1, 2, 3, 4])
  if ctx.hasRuntimeExtents { return try lowerRuntimeBatchNorm(ctx) }
  let shape = ctx.operandShape(0)
  let (n, channels) = (shape[0], shape[1])
  let spatial = shape[2...].reduce(1, *)
  let epsilon = try ctx.epsilon
  let k = ctx.k
  let captures = (0..<5).map { ctx.operand($0) } + [ctx.results[0]]
  ctx.forEachIndex([n, channels], work: n * channels * spatial, captures: captures, innerHints: LoopHints(vectorize: false)) { i, c in
    let ch = i[1]
    let a = k.load(.f32, from: c[1], at: ch) / k.sqrt(k.load(.f32, from: c[4], at: ch) + epsilon)
    let b = k.load(.f32, from: c[2], at: ch) - k.load(.f32, from: c[3], at: ch) * a
    let base = (i[0] * k.i64(Int64(channels)) + ch) * k.i64(Int64(spatial))
    k.forLoop(from: k.i64(0), to: k.i64(Int64(spatial)), hints: LoopHints(vectorize: true)) { s in
      k.store(k.mulAdd(k.load(.f32, from: c[0], at: base + s), a, b), .f32, to: c[5], at: base + s)
    }
  }
}

/// BatchNormalization over run-time batch and spatial extents (the channels are static, as the parameters').
private func lowerRuntimeBatchNorm(_ ctx: LoweringContext) throws {
  let dims = ctx.operandType(0).dims
  let channels = try ctx.staticExtents(dims[1...1], what: "the channels")[0]
  let epsilon = try ctx.epsilon
  let k = ctx.k
  let spatial = ctx.extentProduct(dims[2...])
  let captures = (0..<5).map { ctx.operand($0) } + [ctx.results[0], spatial]
  ctx.forEachIndex(extents: [ctx.extent(dims[0]), k.i64(Int64(channels))], captures: captures) { i, c in
    let ch = i[1]
    let a = k.load(.f32, from: c[1], at: ch) / k.sqrt(k.load(.f32, from: c[4], at: ch) + epsilon)
    let b = k.load(.f32, from: c[2], at: ch) - k.load(.f32, from: c[3], at: ch) * a
    let base = (i[0] * k.i64(Int64(channels)) + ch) * c[6]
    k.forLoop(from: k.i64(0), to: c[6]) { s in
      k.store(k.mulAdd(k.load(.f32, from: c[0], at: base + s), a, b), .f32, to: c[5], at: base + s)
    }
  }
}

/// InstanceNormalization (one group per channel) and GroupNormalization: statistics over each group's
/// channels and spatial dims, then per-channel scale and bias.
private func lowerGroupedNorm(_ ctx: LoweringContext, instance: Bool) throws {
  try ctx.requireF32([0, 1, 2])
  let shape = ctx.operandShape(0)
  let (n, channels) = (shape[0], shape[1])
  let spatial = shape[2...].reduce(1, *)
  let groups = instance ? channels : try ctx.op.int("num_groups")
  guard groups > 0, channels % groups == 0 else { throw ctx.error("\(channels) channels do not split into \(groups) groups") }
  let perGroup = channels / groups
  let epsilon = try ctx.epsilon
  let k = ctx.k
  let captures = [ctx.operand(0), ctx.operand(1), ctx.operand(2), ctx.results[0]]
  ctx.forEachIndex([n, groups], work: n * channels * spatial, captures: captures, innerHints: LoopHints(vectorize: false)) { i, c in
    let groupStart = (i[0] * k.i64(Int64(groups)) + i[1]) * k.i64(Int64(perGroup * spatial))
    let (m, delta, inverse) = ctx.rowStatistics(c[0], start: groupStart, count: perGroup * spatial, epsilon: epsilon, rms: false)
    k.forLoop(from: k.i64(0), to: k.i64(Int64(perGroup)), hints: LoopHints(vectorize: false)) { j in
      let ch = i[1] * k.i64(Int64(perGroup)) + j
      let a = inverse * k.load(.f32, from: c[1], at: ch)
      let b = k.load(.f32, from: c[2], at: ch)
      let base = groupStart + j * k.i64(Int64(spatial))
      k.forLoop(from: k.i64(0), to: k.i64(Int64(spatial)), hints: LoopHints(vectorize: true)) { s in
        let centred = k.load(.f32, from: c[0], at: base + s) - m - delta
        k.store(k.mulAdd(centred, a, b), .f32, to: c[3], at: base + s)
      }
    }
  }
}
