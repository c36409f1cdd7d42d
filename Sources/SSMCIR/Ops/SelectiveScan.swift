/// Mamba's selective state-space scan (`ai.ssmc` domain, version 1); formula in docs/ops/SelectiveScan.md.
///
/// u, delta, z: (batch, channels, length); A: (channels, state); B, C: (batch, groups, state, length) or
/// (batch, state, length) for one group; D, delta_bias: (channels). Groups divide channels; channel d reads
/// group d / (channels / groups). The result y has u's type.
/// u, delta, B, C and z carry the batch on axis 0.
let scanOps: [OpSchema] = [selectiveScan.with(samples: .leading([0, 1, 3, 4, 6]))]

let selectiveScan = OpSchema(
  "ssmc.SelectiveScan", domain: "ai.ssmc",
  operands: [
    .required("u"), .required("delta"), .required("A"), .required("B"), .required("C"),
    .optional("D"), .optional("z"), .optional("delta_bias"),
  ],
  attributes: [AttributeSpec("delta_softplus", .int, default: .int(0)), AttributeSpec("reverse", .int, default: .int(0))],
  inferTypes: { ctx throws(Diagnostic) in
    let u = try ctx.type(0, rank: 3)
    let (batch, channels, length) = (u.dims[0], u.dims[1], u.dims[2])
    func require(_ what: String, _ got: Dim, _ want: Dim) throws(Diagnostic) {
      guard got == want else { throw ctx.error("\(what) is \(got), expected \(want)") }
    }
    for flag in ["delta_softplus", "reverse"] {
      guard try (0...1).contains(ctx.int(flag)) else { throw ctx.error(.badAttribute, "\(flag) must be 0 or 1") }
    }
    let delta = try ctx.type(1, rank: 3)
    guard delta.dims == u.dims else { throw ctx.error("delta \(delta) must have u's shape \(u)") }
    let a = try ctx.type(2, rank: 2)
    try require("A's channel dim", a.dims[0], channels)
    let state = a.dims[1]
    for index in [3, 4] {
      let t = try ctx.type(index)
      let name = ctx.operandName(index)
      guard t.rank == 3 || t.rank == 4 else { throw ctx.error("\(name) must have rank 3 or 4, got \(t)") }
      try require("\(name)'s batch dim", t.dims[0], batch)
      try require("\(name)'s state dim", t.dims[t.rank - 2], state)
      try require("\(name)'s length dim", t.dims[t.rank - 1], length)
      if t.rank == 4, let g = t.dims[1].value, let d = channels.value, g == 0 || d % g != 0 {
        throw ctx.error("\(name) has \(g) groups, which must divide the \(d) channels")
      }
    }
    guard try ctx.type(3).dims.count == ctx.type(4).dims.count, try ctx.type(3).dims == ctx.type(4).dims else {
      throw ctx.error("B and C must have the same shape")
    }
    for index in [5, 7] where ctx.has(index) {
      let t = try ctx.type(index, rank: 1)
      try require("\(ctx.operandName(index))'s dim", t.dims[0], channels)
    }
    if ctx.has(6) {
      let z = try ctx.type(6)
      guard z.dims == u.dims else { throw ctx.error("z \(z) must have u's shape \(u)") }
    }
    for index in 0..<ctx.operandCount where ctx.has(index) {
      guard try ctx.type(index).element == .f32 else {
        throw ctx.error(.typeMismatch, "\(ctx.operandName(index)) must be f32")
      }
    }
    return [u]
  })
