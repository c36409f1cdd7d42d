/// Normalizations: LayerNormalization, RMSNormalization, BatchNormalization (inference), InstanceNormalization,
/// GroupNormalization (opset 21: per-channel scale and bias), LpNormalization, MeanVarianceNormalization, LRN.
/// Y always has X's type.
let normalizationOps: [OpSchema] = [
  layerNorm.with(samples: normalizedTrailingAxes), rmsNorm.with(samples: normalizedTrailingAxes),
  batchNorm.with(samples: .leading()), instanceNorm.with(samples: .leading()), groupNorm.with(samples: .leading()),
  lpNorm.with(samples: .alongAttribute("axis")),
  meanVarianceNorm.with(samples: .along { ctx throws(Diagnostic) in try meanVarianceAxes(ctx.op, rank: ctx.rank(0)) }),
  lrn.with(samples: .leading()),
]

/// MeanVarianceNormalization: (X - E[X]) / (sqrt(E[X²] - E[X]²) + 1e-9), the expectations over `axes`
/// (default [0, 2, 3]: per channel of an NCHW tensor).
private let meanVarianceNorm = OpSchema(
  "MeanVarianceNormalization", operands: [.required("X")],
  attributes: [AttributeSpec("axes", .ints, default: .ints([0, 2, 3]))],
  inferTypes: { ctx throws(Diagnostic) in
    let x = try ctx.type(0)
    guard x.element.isFloat else { throw ctx.error(.typeMismatch, "MeanVarianceNormalization needs a float input, got \(x)") }
    _ = try meanVarianceAxes(ctx, rank: x.rank)
    return [x]
  })

/// MeanVarianceNormalization's axes, normalized to [0, rank).
public func meanVarianceAxes(_ ctx: OpContext, rank: Int) throws(Diagnostic) -> [Int] {
  try ctx.normalizedAxes(ctx.ints("axes") ?? [0, 2, 3], rank: rank)
}

/// LRN over channels: X / (bias + alpha / size * Σ X²)^beta, the sum over the channels from
/// c - floor((size - 1) / 2) to c + ceil((size - 1) / 2) that exist. X is (N, C, D...).
private let lrn = OpSchema(
  "LRN", operands: [.required("X")],
  attributes: [
    AttributeSpec("alpha", .float, default: .float(0.0001)), AttributeSpec("beta", .float, default: .float(0.75)),
    AttributeSpec("bias", .float, default: .float(1)), AttributeSpec("size", .int, required: true),
  ],
  inferTypes: { ctx throws(Diagnostic) in
    let x = try ctx.type(0)
    guard x.rank >= 2 else { throw ctx.error("LRN needs X of shape (N, C, D...), got \(x)") }
    guard x.element.isFloat else { throw ctx.error(.typeMismatch, "LRN needs a float input, got \(x)") }
    let size = try ctx.int("size")
    guard size >= 1 else { throw ctx.error(.badAttribute, "size must be positive, got \(size)") }
    return [x]
  })

/// LayerNorm and RMSNorm normalize every axis from `axis` on.
private let normalizedTrailingAxes = SampleRule.along { ctx throws(Diagnostic) in
  let rank = ctx.rank(0)
  return Array(try ctx.op.axis(ctx.op.int("axis"), rank: rank)..<rank)
}

private let epsilon = AttributeSpec("epsilon", .float, default: .float(1e-5))
private let stashType = AttributeSpec("stash_type", .int, default: .int(1))

/// LayerNormalization over X's dims [axis, rank): Scale and B broadcast to those dims; the optional Mean and
/// InvStdDev results have X's dims with the normalized ones set to 1, in the stash_type element type.
private let layerNorm = OpSchema(
  "LayerNormalization", operands: [.required("X"), .required("Scale"), .optional("B")], results: nil,
  attributes: [AttributeSpec("axis", .int, default: .int(-1)), epsilon, stashType],
  inferTypes: { ctx throws(Diagnostic) in
    let x = try ctx.type(0)
    try ctx.requireSameElement([1, 2], as: 0)
    let axis = try normalizedAxis(ctx, rank: x.rank, scales: [1, 2])
    guard (1...3).contains(ctx.resultCount) else { throw ctx.error("LayerNormalization has 1 to 3 results, got \(ctx.resultCount)") }
    let stat = TensorType(try stashElement(ctx, allowed: [.f32, .bf16]), Array(x.dims[..<axis]) + Array(repeating: .fixed(1), count: x.rank - axis))
    return [x] + Array(repeating: stat, count: ctx.resultCount - 1)
  })

/// RMSNormalization (opset 23): X / sqrt(mean(X² over [axis, rank)) + epsilon) * scale; Y has scale's
/// element type, which may differ from X's.
private let rmsNorm = OpSchema(
  "RMSNormalization", operands: [.required("X"), .required("scale")],
  attributes: [AttributeSpec("axis", .int, default: .int(-1)), epsilon, stashType],
  inferTypes: { ctx throws(Diagnostic) in
    let x = try ctx.type(0)
    _ = try normalizedAxis(ctx, rank: x.rank, scales: [1])
    _ = try stashElement(ctx)
    return [x.with(element: try ctx.type(1).element)]
  })

/// Checks X is float and each scale operand broadcasts to X's dims [axis, rank); returns the axis.
private func normalizedAxis(_ ctx: OpContext, rank: Int, scales: [Int]) throws(Diagnostic) -> Int {
  let x = try ctx.type(0)
  guard x.element.isFloat else { throw ctx.error(.typeMismatch, "\(ctx.schema.name) needs a float X, got \(x)") }
  let axis = try ctx.normalizedAxes([ctx.int("axis")], rank: rank, what: "axis")[0]
  let normalized = Array(x.dims[axis...])
  for i in scales where ctx.has(i) {
    let s = try ctx.type(i)
    guard s.element.isFloat else { throw ctx.error(.typeMismatch, "\(ctx.operandName(i)) must be float, got \(s)") }
    guard s.rank <= normalized.count, Broadcast.shape([normalized, s.dims]) == normalized else {
      throw ctx.error("\(ctx.operandName(i)) \(s) does not broadcast to the normalized dims \(normalized) of X \(x)")
    }
  }
  return axis
}

private func stashElement(_ ctx: OpContext, allowed: [ElementType] = [.f32, .f64, .f16, .bf16]) throws(Diagnostic) -> ElementType {
  let code = try ctx.int("stash_type")
  guard let t = ElementType(code: code), allowed.contains(t) else {
    throw ctx.error(.badAttribute, "stash_type \(code) is not one of \(allowed)")
  }
  return t
}

/// X (N, C, D...) with per-channel operands of shape (C): checks them and returns X. Only BatchNormalization
/// lets them have another float type than X.
private func perChannel(_ ctx: OpContext, _ operands: [Int], sameElement: Bool = true) throws(Diagnostic) -> TensorType {
  let x = try ctx.type(0)
  guard x.element.isFloat else { throw ctx.error(.typeMismatch, "\(ctx.schema.name) needs a float input, got \(x)") }
  guard x.rank >= 2 else { throw ctx.error("\(ctx.schema.name) needs X of shape (N, C, ...), got \(x)") }
  if sameElement { try ctx.requireSameElement(operands, as: 0) }
  for i in operands {
    let t = try ctx.type(i)
    guard t.element.isFloat, t.rank == 1, unifyDims(t.dims[0], x.dims[1]) != nil else {
      throw ctx.error("\(ctx.operandName(i)) must be a float vector of X's \(x.dims[1]) channels, got \(t)")
    }
  }
  return x
}

/// BatchNormalization in inference form: Y = (X - mean) / sqrt(var + epsilon) * scale + B, per channel.
/// Training mode (and its running statistics outputs) is rejected.
private let batchNorm = OpSchema(
  "BatchNormalization",
  operands: [.required("X"), .required("scale"), .required("B"), .required("input_mean"), .required("input_var")],
  results: nil,
  attributes: [epsilon, AttributeSpec("momentum", .float, default: .float(0.9)), AttributeSpec("training_mode", .int, default: .int(0))],
  inferTypes: { ctx throws(Diagnostic) in
    guard try !ctx.flag("training_mode"), ctx.resultCount == 1 else {
      throw ctx.error(.unsupportedFeature, "BatchNormalization is supported in inference form only (training_mode = 0, one result)")
    }
    return [try perChannel(ctx, [1, 2, 3, 4], sameElement: false)]
  })

/// InstanceNormalization: per (n, c) over the spatial dims, then per-channel scale and B.
private let instanceNorm = OpSchema(
  "InstanceNormalization", operands: [.required("input"), .required("scale"), .required("B")], attributes: [epsilon],
  inferTypes: { ctx throws(Diagnostic) in [try perChannel(ctx, [1, 2])] })

/// GroupNormalization (opset 21): channels split into num_groups groups, each normalized with its spatial
/// dims; scale and bias are per channel (C).
private let groupNorm = OpSchema(
  "GroupNormalization", operands: [.required("X"), .required("scale"), .required("bias")],
  attributes: [epsilon, AttributeSpec("num_groups", .int, required: true), stashType],
  inferTypes: { ctx throws(Diagnostic) in
    let x = try perChannel(ctx, [1, 2])
    let groups = try ctx.int("num_groups")
    guard groups >= 1 else { throw ctx.error(.badAttribute, "num_groups must be positive, got \(groups)") }
    if let c = x.dims[1].value, c % groups != 0 { throw ctx.error("\(c) channels do not split into \(groups) groups") }
    _ = try stashElement(ctx)
    return [x]
  })

/// LpNormalization: X / ||X||_p along `axis`, p in {1, 2}.
private let lpNorm = OpSchema(
  "LpNormalization", operands: [.required("input")],
  attributes: [AttributeSpec("axis", .int, default: .int(-1)), AttributeSpec("p", .int, default: .int(2))],
  inferTypes: { ctx throws(Diagnostic) in
    let x = try ctx.type(0)
    guard x.element.isFloat else { throw ctx.error(.typeMismatch, "LpNormalization needs a float input, got \(x)") }
    _ = try ctx.normalizedAxes([ctx.int("axis")], rank: x.rank, what: "axis")
    let p = try ctx.int("p")
    guard p == 1 || p == 2 else { throw ctx.error(.badAttribute, "p must be 1 or 2, got \(p)") }
    return [x]
  })
