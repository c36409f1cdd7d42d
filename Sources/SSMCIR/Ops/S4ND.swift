/// ConvNeXt-S4ND's 2-D S4ND layer carrying its raw SSM parameters (`ai.ssmc` domain, version 1); inputs,
/// attributes and formula in docs/ops/S4ND2D.md. The kernels depend on the input resolution, so the op has
/// no lowering of its own: the `expand-s4nd` pass computes them for the compiled shape and rewrites the
/// node into depthwise convolutions.
let s4ndOps: [OpSchema] = [s4nd2D.with(samples: .leading())]

/// Operand order: X, then per axis a = 0 (height), 1 (width) the six parameters below, then D.
public enum S4ND2DOperands {
  /// The op's IR name.
  public static let opName = "ssmc.S4ND2D"
  /// Names of the six per-axis parameters, in operand order.
  public static let axisParameters = ["log_dt", "A_real", "A_imag", "B", "P", "C"]
  /// Index of axis `axis`'s parameter `k` (0 ..< 6, in `axisParameters` order).
  public static func index(axis: Int, _ k: Int) -> Int { 1 + 6 * axis + k }
  /// Index of D.
  public static let d = 13
}

let s4nd2D = OpSchema(
  S4ND2DOperands.opName, domain: "ai.ssmc",
  operands: [.required("X")]
    + (0..<2).flatMap { a in S4ND2DOperands.axisParameters.map { OperandSpec.required("\($0)_\(a)") } }
    + [.required("D")],
  attributes: [
    AttributeSpec("l_kernel", .ints, required: true), AttributeSpec("l_max", .ints, required: true),
    AttributeSpec("out_channels", .int, default: .int(0)), AttributeSpec("bidirectional", .int, default: .int(1)),
    AttributeSpec("d_state", .int),
  ],
  inferTypes: { ctx throws(Diagnostic) in
    let x = try ctx.type(0, rank: 4)
    let (batch, channels, l0, l1) = (x.dims[0], x.dims[1], x.dims[2], x.dims[3])
    func require(_ index: Int, _ want: [Dim]) throws(Diagnostic) {
      let t = try ctx.type(index)
      guard t.dims == want else { throw ctx.error("\(ctx.operandName(index)) is \(t), expected shape [\(want.map(\.description).joined(separator: ","))]") }
    }
    guard let lKernel = try ctx.ints("l_kernel"), lKernel.count == 2, lKernel.allSatisfy({ $0 >= 0 && $0 < 1 << 20 }) else {
      throw ctx.error(.badAttribute, "l_kernel must be 2 ints in 0..<2^20 (one per spatial axis)")
    }
    guard let lMax = try ctx.ints("l_max"), lMax.count == 2, lMax.allSatisfy({ $0 >= 1 && $0 < 1 << 20 }) else {
      throw ctx.error(.badAttribute, "l_max must be 2 ints in 1..<2^20 (one per spatial axis)")
    }
    guard try ctx.int("bidirectional") == 1 else {
      throw ctx.error(.badAttribute, "bidirectional must be 1 (only bidirectional S4ND layers are supported)")
    }
    let outChannels = try ctx.int("out_channels")
    guard outChannels >= 0 && outChannels < 1 << 20 else { throw ctx.error(.badAttribute, "out_channels must be >= 0") }
    let kernelChannels = Dim.fixed(outChannels == 0 ? 2 : 2 * outChannels)
    // N' (state pairs) is read from A_real_0 and must agree everywhere, and with d_state when given.
    let aReal = try ctx.type(S4ND2DOperands.index(axis: 0, 1), rank: 2)
    let pairs = aReal.dims[1]
    if let dState = try ctx.optionalInt("d_state"), let n = pairs.value, dState != 2 * n {
      throw ctx.error(.badAttribute, "d_state \(dState) must be twice the \(n) state pairs of A_real")
    }
    let one = Dim.fixed(1)
    for a in 0..<2 {
      let i = { (k: Int) in S4ND2DOperands.index(axis: a, k) }
      try require(i(0), [channels, one])
      try require(i(1), [one, pairs])
      try require(i(2), [one, pairs])
      try require(i(3), [one, one, pairs, .fixed(2)])
      try require(i(4), [one, one, pairs, .fixed(2)])
      try require(i(5), [kernelChannels, channels, pairs, .fixed(2)])
    }
    try require(S4ND2DOperands.d, [one, channels])
    for index in 0..<ctx.operandCount {
      guard try ctx.type(index).element == .f32 else {
        throw ctx.error(.typeMismatch, "\(ctx.operandName(index)) must be f32")
      }
    }
    return [x.with(dims: [batch, outChannels == 0 ? channels : .fixed(outChannels), l0, l1])]
  })
