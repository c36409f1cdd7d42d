/// Convolutions (Conv, ConvTranspose; 1-D to 3-D, groups) and, from Pooling.swift, the pools.
/// Window geometry (pads, auto_pad, strides, dilations) is resolved by Window.swift; lowerings call
/// `convWindows` / `convTransposeWindows` / `poolWindows` to get the same numbers the shape rule used.
let convolutionOps: [OpSchema] = ([conv, convTranspose] + poolingOps).map { $0.with(samples: .leading()) }

/// Conv's attributes, shared with ConvInteger and QLinearConv.
let convAttributes = [
  AttributeSpec("auto_pad", .string, default: .string("NOTSET")), AttributeSpec("dilations", .ints),
  AttributeSpec("group", .int, default: .int(1)), AttributeSpec("kernel_shape", .ints), AttributeSpec("pads", .ints),
  AttributeSpec("strides", .ints),
]

/// Conv: X (N, C, D1...Dn), W (M, C/group, k1...kn), optional B (M) -> Y (N, M, O1...On).
let conv = OpSchema(
  "Conv", operands: [.required("X"), .required("W"), .optional("B")], attributes: convAttributes,
  inferTypes: { ctx throws(Diagnostic) in
    let x = try ctx.type(0)
    let w = try ctx.type(1)
    let windows = try convWindows(ctx)
    return [x.with(dims: [x.dims[0], w.dims[0]] + windows.map(\.output))]
  })

/// The windows of a Conv node, after checking element types, channels, groups and the bias.
public func convWindows(_ ctx: OpContext) throws(Diagnostic) -> [WindowAxis] {
  let x = try ctx.type(0)
  try ctx.requireSameElement([1, 2], as: 0)
  guard x.element.isFloat else { throw ctx.error(.typeMismatch, "Conv needs float operands, got \(x)") }
  let windows = try convWindows(ctx, x: 0, w: 1)
  if ctx.has(2) {
    let (b, w) = (try ctx.type(2, rank: 1), try ctx.type(1))
    guard unifyDims(b.dims[0], w.dims[0]) != nil else { throw ctx.error("bias \(b) must have W's \(w.dims[0]) output channels") }
  }
  return windows
}

/// The windows of a convolution (Conv, or an integer one) with X at operand `x` and W at operand `w`, after
/// checking their ranks, channels and groups; element types and other operands are the caller's to check.
public func convWindows(_ ctx: OpContext, x: Int, w: Int) throws(Diagnostic) -> [WindowAxis] {
  let (tx, tw) = (try ctx.type(x), try ctx.type(w))
  guard tx.rank >= 3, tw.rank == tx.rank else {
    throw ctx.error("\(ctx.schema.name) needs X (N, C, spatial...) and W of equal rank, got \(tx) and \(tw)")
  }
  let group = try ctx.int("group")
  guard group >= 1 else { throw ctx.error(.badAttribute, "group must be positive, got \(group)") }
  if let c = tx.dims[1].value, let wc = tw.dims[1].value, wc.multipliedReportingOverflow(by: group) != (c, false) {
    throw ctx.error("X has \(c) channels but W expects \(wc) per group x \(group) groups")
  }
  if let m = tw.dims[0].value, m % group != 0 { throw ctx.error("W's \(m) output channels are not divisible by group \(group)") }
  let kernel = try ctx.kernelShape(weights: Array(tw.dims[2...]), spatial: tx.rank - 2)
  return try ctx.forwardWindows(input: Array(tx.dims[2...]), kernel: kernel)
}

/// The kernel family the Conv lowering computes a Conv with. It is decided here, next to the op, because a
/// pass depends on it as well: fuse-epilogue fuses only into the GEMM's store, and passes cannot see codegen.
public enum ConvKernelFamily: Sendable, Hashable {
  /// The vectorized depthwise kernels: f32, one input channel per group, 1-D or 2-D, unit stride along the width.
  case depthwise
  /// An implicit GEMM through the packed matmul kernel: f32 with enough output channels per group (4) and
  /// output positions (a vector's worth) to fill its register tiles.
  case gemm
  /// The general loop nest, for every other element type, rank and shape.
  case direct

  /// Whether a conv with `inChannelsPerGroup` and spatial `strides` has the depthwise kernels' geometry.
  public static func isDepthwise(inChannelsPerGroup: Int, strides: [Int]) -> Bool {
    inChannelsPerGroup == 1 && (1...2).contains(strides.count) && strides.last == 1
  }

  /// The family of a conv with these sizes on a target whose widest vector holds `lanes` f32. A conv that is
  /// `.gemm` at some lane count is `.gemm` at every smaller one.
  public init(
    element: ElementType, inChannelsPerGroup: Int, outChannelsPerGroup: Int, strides: [Int], outputPlane: Int, lanes: Int
  ) {
    if element == .f32 && Self.isDepthwise(inChannelsPerGroup: inChannelsPerGroup, strides: strides) {
      self = .depthwise
    } else if element == .f32 && outChannelsPerGroup >= 4 && outputPlane >= lanes {
      self = .gemm
    } else {
      self = .direct
    }
  }

  /// The family of the Conv (or `ssmc.FusedConv`) node `ctx`, whose channel dims and output plane must be static.
  public init(conv ctx: OpContext, lanes: Int) throws(Diagnostic) {
    let windows = try convWindows(ctx)
    let (x, w, group) = (try ctx.type(0), try ctx.type(1), try ctx.int("group"))
    let outputs = windows.compactMap(\.output.value)
    guard let channels = x.dims[1].value, let outChannels = w.dims[0].value, outputs.count == windows.count else {
      throw ctx.error(.unknownShape, "Conv needs static channels and output sizes to choose its kernel, got X \(x) and W \(w)")
    }
    self.init(
      element: x.element, inChannelsPerGroup: channels / group, outChannelsPerGroup: outChannels / group,
      strides: windows.map(\.stride), outputPlane: outputs.reduce(1, *), lanes: lanes)
  }
}

/// ConvTranspose: X (N, C, D...), W (C, M/group, k...), optional B (M) -> Y (N, M, O...), with
/// O = stride * (D - 1) + output_padding + ((k - 1) * dilation + 1) - pads, or O from output_shape / SAME
/// (O = D * stride), the pads then derived from the total padding.
private let convTranspose = OpSchema(
  "ConvTranspose", operands: [.required("X"), .required("W"), .optional("B")],
  attributes: convAttributes + [AttributeSpec("output_padding", .ints), AttributeSpec("output_shape", .ints)],
  inferTypes: { ctx throws(Diagnostic) in
    let x = try ctx.type(0)
    let w = try ctx.type(1)
    let windows = try convTransposeWindows(ctx)
    guard let perGroup = w.dims[1].value else { throw ctx.error(.unknownShape, "W \(w) needs static channel dims") }
    let channels = Dim.fixed(perGroup * (try ctx.int("group")))
    return [x.with(dims: [x.dims[0], channels] + windows.map(\.output))]
  })

/// The windows of a ConvTranspose node: `input` is X's spatial size, `output` Y's, pads as applied to Y.
public func convTransposeWindows(_ ctx: OpContext) throws(Diagnostic) -> [WindowAxis] {
  let (x, w) = (try ctx.type(0), try ctx.type(1))
  try ctx.requireSameElement([1, 2], as: 0)
  guard x.element.isFloat else { throw ctx.error(.typeMismatch, "ConvTranspose needs float operands, got \(x)") }
  guard x.rank >= 3, w.rank == x.rank else {
    throw ctx.error("ConvTranspose needs X (N, C, spatial...) and W of equal rank, got \(x) and \(w)")
  }
  let group = try ctx.int("group")
  guard group >= 1 else { throw ctx.error(.badAttribute, "group must be positive, got \(group)") }
  if let c = x.dims[1].value, let wc = w.dims[0].value, c != wc || c % group != 0 {
    throw ctx.error("X has \(c) channels but W has \(wc) input channels (group \(group))")
  }
  if ctx.has(2) {
    let b = try ctx.type(2, rank: 1)
    if let m = w.dims[1].value, let bm = b.dims[0].value, m.multipliedReportingOverflow(by: group) != (bm, false) {
      throw ctx.error("bias \(b) must have W's \(m) output channels per group x \(group) groups")
    }
  }
  let n = x.rank - 2
  let kernel = try ctx.kernelShape(weights: Array(w.dims[2...]), spatial: n)
  let a = try ctx.windowAttributes(spatial: n)
  let outputPadding = try ctx.ints("output_padding") ?? Array(repeating: 0, count: n)
  guard outputPadding.count == n, outputPadding.allSatisfy({ $0 >= 0 && $0 <= windowLimit }) else {
    throw ctx.error(.badAttribute, "output_padding \(outputPadding) must have \(n) non-negative entries")
  }
  var outputShape = try ctx.ints("output_shape")
  if let s = outputShape {
    guard s.allSatisfy({ $0 >= 0 && $0 <= windowLimit }) else { throw ctx.error(.badAttribute, "output_shape \(s) is out of range") }
    guard s.count == n || s.count == n + 2 else { throw ctx.error(.badAttribute, "output_shape \(s) must have \(n) or \(n + 2) entries") }
    outputShape = Array(s.suffix(n))
  }
  var axes: [WindowAxis] = []
  for i in 0..<n {
    var win = WindowAxis(
      input: x.dims[i + 2], kernel: kernel[i], stride: a.strides[i], dilation: a.dilations[i],
      padBegin: a.pads[i], padEnd: a.pads[i + n], output: x.dims[i + 2])
    guard let size = x.dims[i + 2].value else {
      win.output = try convTransposeOutput(ctx, win, outputPadding: outputPadding[i], outputShape: outputShape?[i], autoPad: a.autoPad)
      axes.append(win)
      continue
    }
    guard size <= windowLimit else { throw ctx.error("ConvTranspose spatial input dims must be at most \(windowLimit), got \(x)") }
    let full = win.stride * (size - 1) + outputPadding[i] + win.effectiveKernel
    if outputShape != nil || a.autoPad.hasPrefix("SAME") {
      let out = outputShape?[i] ?? size * win.stride
      // A negative total (output_shape larger than the input reaches) pads the end with bias-only
      // positions; the halves round toward minus infinity as in the ONNX reference.
      let total = full - out
      let half = total >= 0 ? total / 2 : -((-total + 1) / 2)
      // ONNX puts the odd pixel at the beginning unless auto_pad is SAME_UPPER.
      (win.padBegin, win.padEnd) = a.autoPad == "SAME_UPPER" ? (half, total - half) : (total - half, half)
      win.output = .fixed(out)
    } else {
      let out = full - win.padBegin - win.padEnd
      guard out >= 1 else { throw ctx.error("ConvTranspose pads leave no output on spatial axis \(i)") }
      win.output = .fixed(out)
    }
    axes.append(win)
  }
  return axes
}

/// The output size of a ConvTranspose axis over a symbolic input size d: output_shape when given, d x stride
/// under SAME padding, else stride*(d - 1) + output_padding + (kernel - 1)*dilation + 1 - pads. The pads that
/// output_shape and SAME imply depend on d; they are worked out once it is fixed.
private func convTransposeOutput(
  _ ctx: OpContext, _ win: WindowAxis, outputPadding: Int, outputShape: Int?, autoPad: String
) throws(Diagnostic) -> Dim {
  if let outputShape { return .fixed(outputShape) }
  let d = win.input.expression
  if autoPad.hasPrefix("SAME") { return try ctx.dim(d.scaled(by: win.stride), "\(win.input) times stride \(win.stride)") }
  let out = d.plus(-1)?.scaled(by: win.stride)?.plus(outputPadding + win.effectiveKernel - win.padBegin - win.padEnd)
  let dim = try ctx.dim(out, "the ConvTranspose output over \(win.input)")
  guard (dim.expression.bounds.upper ?? 1) >= 1 else { throw ctx.error("ConvTranspose pads leave no output over \(win.input)") }
  return dim
}
