/// Pools: AveragePool, MaxPool, LpPool over explicit windows, and the global pools over all spatial dims.
let poolingOps: [OpSchema] = [
  pool("AveragePool", extra: [AttributeSpec("count_include_pad", .int, default: .int(0))]),
  pool("MaxPool", extra: [AttributeSpec("storage_order", .int, default: .int(0))]),
  pool("LpPool", extra: [AttributeSpec("p", .int, default: .int(2))]),
  globalPool("GlobalAveragePool"), globalPool("GlobalMaxPool"),
  globalPool("GlobalLpPool", extra: [AttributeSpec("p", .int, default: .int(2))]),
]

/// A windowed pool: X (N, C, D1...Dn) -> Y (N, C, O1...On); kernel_shape is required. MaxPool may also
/// return Indices (i64, Y's shape): where each maximum was found, as a flat index into X.
private func pool(_ name: String, extra: [AttributeSpec]) -> OpSchema {
  OpSchema(
    name, operands: [.required("X")], results: name == "MaxPool" ? nil : 1,
    attributes: [
      AttributeSpec("auto_pad", .string, default: .string("NOTSET")), AttributeSpec("ceil_mode", .int, default: .int(0)),
      AttributeSpec("dilations", .ints), AttributeSpec("kernel_shape", .ints, required: true), AttributeSpec("pads", .ints),
      AttributeSpec("strides", .ints),
    ] + extra,
    inferTypes: { ctx throws(Diagnostic) in
      let x = try ctx.type(0)
      let maxResults = name == "MaxPool" ? 2 : 1
      guard (1...maxResults).contains(ctx.resultCount) else {
        throw ctx.error("\(name) has \(maxResults == 1 ? "one result" : "one or two results (Y, Indices)"), not \(ctx.resultCount)")
      }
      let y = x.with(dims: Array(x.dims[..<2]) + (try poolWindows(ctx)).map(\.output))
      return ctx.resultCount == 2 ? [y, y.with(element: .i64)] : [y]
    })
}

/// The windows of a pool node, after checking its attributes.
public func poolWindows(_ ctx: OpContext) throws(Diagnostic) -> [WindowAxis] {
  let x = try ctx.type(0)
  guard x.rank >= 3 else { throw ctx.error("\(ctx.schema.name) needs X of shape (N, C, spatial...), got \(x)") }
  let allowed: [ElementType] = ctx.schema.name == "MaxPool" ? [.f32, .f64, .f16, .bf16, .i8, .u8] : [.f32, .f64, .f16, .bf16]
  guard allowed.contains(x.element) else { throw ctx.error(.typeMismatch, "\(ctx.schema.name) does not take \(x.element)") }
  for flag in ["ceil_mode", "count_include_pad", "storage_order"] where ctx.schema.attributeSpec(flag) != nil {
    _ = try ctx.flag(flag)
  }
  if ctx.schema.name == "LpPool", try ctx.int("p") < 1 { throw ctx.error(.badAttribute, "p must be positive") }
  let kernel = try ctx.kernelShape(weights: nil, spatial: x.rank - 2)
  return try ctx.forwardWindows(input: Array(x.dims[2...]), kernel: kernel, ceilMode: ctx.flag("ceil_mode"))
}

/// A global pool: X (N, C, D...) -> Y (N, C, 1...).
private func globalPool(_ name: String, extra: [AttributeSpec] = []) -> OpSchema {
  OpSchema(
    name, operands: [.required("X")], attributes: extra,
    inferTypes: { ctx throws(Diagnostic) in
      let x = try ctx.type(0)
      guard x.rank >= 3 else { throw ctx.error("\(name) needs X of shape (N, C, spatial...), got \(x)") }
      guard x.element.isFloat else { throw ctx.error(.typeMismatch, "\(name) needs a float input, got \(x)") }
      if name == "GlobalLpPool", try ctx.int("p") < 1 { throw ctx.error(.badAttribute, "p must be positive") }
      return [x.with(dims: Array(x.dims[..<2]) + Array(repeating: .fixed(1), count: x.rank - 2))]
    })
}
