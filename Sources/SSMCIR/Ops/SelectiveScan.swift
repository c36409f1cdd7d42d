/// Mamba's selective state-space scan (`ai.ssmc` domain, version 1); formula in docs/ops/SelectiveScan.md.
///
/// u, delta, z: (batch, channels, length); A: (channels, state); B, C: (batch, groups, state, length) or
/// (batch, state, length) for one group; D, delta_bias: (channels). Groups divide channels; channel d reads
/// group d / (channels / groups). The result y has u's logical type.
///
/// Internal layout attributes (set by the `absorb-scan-layouts` pass, not part of the ONNX op): the sequence
/// tensors u, delta, z and y, in that order, may be stored transposed, (batch, length, channels), per
/// `layout_transposed`, and with the length axis reversed (logical position l stored at length−1−l) per
/// `layout_flipped`. Operand and result types are the stored ones.
/// u, delta, B, C and z carry the batch on axis 0 in every layout.
let scanOps: [OpSchema] = [selectiveScan.with(samples: .leading([0, 1, 3, 4, 6]))]

/// The sequence tensors the layout attributes describe, in their order there: (operand index or nil for y, name).
public let selectiveScanSequenceTensors: [(operand: Int?, name: String)] = [(0, "u"), (1, "delta"), (6, "z"), (nil, "y")]

let selectiveScan = OpSchema(
  "ssmc.SelectiveScan", domain: "ai.ssmc",
  operands: [
    .required("u"), .required("delta"), .required("A"), .required("B"), .required("C"),
    .optional("D"), .optional("z"), .optional("delta_bias"),
  ],
  attributes: [
    AttributeSpec("delta_softplus", .int, default: .int(0)), AttributeSpec("reverse", .int, default: .int(0)),
    AttributeSpec("layout_transposed", .ints, default: .ints([0, 0, 0, 0])),
    AttributeSpec("layout_flipped", .ints, default: .ints([0, 0, 0, 0])),
  ],
  inferTypes: { ctx throws(Diagnostic) in
    for flag in ["delta_softplus", "reverse"] {
      guard try (0...1).contains(ctx.int(flag)) else { throw ctx.error(.badAttribute, "\(flag) must be 0 or 1") }
    }
    var transposed: [Bool] = []
    for name in ["layout_transposed", "layout_flipped"] {
      let flags = try ctx.ints(name) ?? [0, 0, 0, 0]
      guard flags.count == 4, flags.allSatisfy({ $0 == 0 || $0 == 1 }) else {
        throw ctx.error(.badAttribute, "\(name) must be 4 flags (0 or 1) for u, delta, z, y; got \(flags)")
      }
      if name == "layout_transposed" { transposed = flags.map { $0 == 1 } }
      if !ctx.has(6), flags[2] != 0 { throw ctx.error(.badAttribute, "\(name) sets a flag for z, which is absent") }
    }
    /// The logical (batch, channels, length) dims of a stored sequence tensor.
    func logical(_ t: TensorType, _ slot: Int) -> [Dim] { transposed[slot] ? [t.dims[0], t.dims[2], t.dims[1]] : t.dims }
    let u = try ctx.type(0, rank: 3)
    let dims = logical(u, 0)
    let (batch, channels, length) = (dims[0], dims[1], dims[2])
    func require(_ what: String, _ got: Dim, _ want: Dim) throws(Diagnostic) {
      guard got == want else { throw ctx.error("\(what) is \(got), expected \(want)") }
    }
    func describe(_ slot: Int) -> String { transposed[slot] ? "(batch, length, channels)" : "(batch, channels, length)" }
    let delta = try ctx.type(1, rank: 3)
    guard logical(delta, 1) == dims else {
      throw ctx.error("delta \(delta), stored \(describe(1)), must have u's logical shape \(dims) (batch, channels, length)")
    }
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
      let z = try ctx.type(6, rank: 3)
      guard logical(z, 2) == dims else {
        throw ctx.error("z \(z), stored \(describe(2)), must have u's logical shape \(dims) (batch, channels, length)")
      }
    }
    for index in 0..<ctx.operandCount where ctx.has(index) {
      guard try ctx.type(index).element == .f32 else {
        throw ctx.error(.typeMismatch, "\(ctx.operandName(index)) must be f32")
      }
    }
    return [TensorType(u.element, transposed[3] ? [batch, length, channels] : dims)]
  })
