/// Ops computed from run-time data in the signal family: Det (DFT and STFT follow).
let signalOps: [OpSchema] = [det, dft, stft]

/// Det: the determinant of each square matrix in the last two axes; [*, M, M] -> [*].
private let det = OpSchema(
  "Det", operands: [.required("X")],
  inferTypes: { ctx throws(Diagnostic) in
    let x = try ctx.type(0)
    guard x.rank >= 2 else { throw ctx.error("Det needs rank >= 2, got \(x)") }
    let (rows, cols) = (x.dims[x.rank - 2], x.dims[x.rank - 1])
    if let r = rows.value, let c = cols.value, r != c { throw ctx.error("Det needs square matrices, got \(x)") }
    return [TensorType(x.element, Array(x.dims.dropLast(2)))]
  })

extension OpContext {
  /// `constantScalarInt`, checked to lie in `range`: sizes and axes of the signal ops are bounded before any
  /// arithmetic on them.
  func constantScalarInt(_ index: Int, in range: ClosedRange<Int>) throws(Diagnostic) -> Int {
    let v = try constantScalarInt(index)
    guard range.contains(v) else { throw error(.badOperand, "\(operandName(index)) \(v) is out of range \(range)") }
    return v
  }
}

/// The resolved geometry of a DFT node: the transformed axis, the input length along it, the transform
/// length, the output length along it and the complex-component counts of input and output.
public struct DFTGeometry: Sendable {
  public var axis: Int
  public var inputLength: Int
  public var length: Int
  public var outputLength: Int
  public var inverse: Bool
  public var onesided: Bool
  public var inputComponents: Int
  public var outputComponents: Int
  /// Output dims of the node.
  public var outputDims: [Dim]
}

/// DFT (newest form, opset 20: axis is an input; the importer turns opset 17's attribute into one). Axes
/// follow the ONNX reference (axis modulo the rank; default -2, the last signal axis). Inverse with
/// onesided is the inverse of a real transform: the one-sided spectrum in, a real signal of dft_length
/// (default 2 * (n - 1)) out.
public func dftGeometry(_ ctx: OpContext) throws(Diagnostic) -> DFTGeometry {
  let x = try ctx.type(0)
  let rank = x.rank
  let (axis, components) = try dftAxis(ctx)
  guard let n = x.dims[axis].value else { throw ctx.error(.unknownShape, "DFT axis \(axis) of \(x) must be static") }
  let inverse = try ctx.int("inverse") != 0
  let onesided = try ctx.int("onesided") != 0
  var length = inverse && onesided ? 2 * (n - 1) : n
  if let given = try dftLength(ctx) { length = given }
  guard length >= 1 else { throw ctx.error(.badOperand, "DFT length \(length) must be positive") }
  let outputLength = inverse ? length : (onesided ? length / 2 + 1 : length)
  let outputComponents = inverse && onesided ? 1 : 2
  var dims = x.dims
  dims[axis] = .fixed(outputLength)
  dims[rank - 1] = .fixed(outputComponents)
  return DFTGeometry(
    axis: axis, inputLength: n, length: length, outputLength: outputLength, inverse: inverse, onesided: onesided,
    inputComponents: components, outputComponents: outputComponents, outputDims: dims)
}

/// DFT's output dims when the transformed axis is symbolic, by the same formulas: the length n (2*(n - 1) for
/// an inverse one-sided transform) or dft_length, and length/2 + 1 bins for a forward one-sided one.
private func symbolicDFTDims(_ ctx: OpContext) throws(Diagnostic) -> [Dim] {
  let x = try ctx.type(0)
  let (axis, _) = try dftAxis(ctx)
  if x.dims[axis].value != nil { return try dftGeometry(ctx).outputDims }
  let inverse = try ctx.int("inverse") != 0
  let onesided = try ctx.int("onesided") != 0
  let n = x.dims[axis].expression
  var length = try ctx.dim(inverse && onesided ? n.plus(-1)?.scaled(by: 2) : n, "the DFT length over \(x.dims[axis])")
  if let given = try dftLength(ctx) { length = .fixed(given) }
  guard (length.expression.bounds.upper ?? 1) >= 1 else { throw ctx.error(.badOperand, "DFT length \(length) must be positive") }
  let output = inverse || !onesided ? length : try ctx.dim(length.expression.floorDivided(by: 2)?.plus(1), "the DFT bins of \(length)")
  var dims = x.dims
  dims[axis] = output
  dims[x.rank - 1] = .fixed(inverse && onesided ? 1 : 2)
  return dims
}

/// The constant dft_length, when given.
private func dftLength(_ ctx: OpContext) throws(Diagnostic) -> Int? {
  ctx.has(1) ? try ctx.constantScalarInt(1, in: 1...(1 << 20)) : nil
}

/// DFT's transformed axis (normalized) and the input's complex-component count, checked.
private func dftAxis(_ ctx: OpContext) throws(Diagnostic) -> (axis: Int, components: Int) {
  let x = try ctx.type(0)
  let rank = x.rank
  guard rank >= 2, let components = x.dims[rank - 1].value, components == 1 || components == 2 else {
    throw ctx.error("DFT input must have rank >= 2 and a last axis of 1 (real) or 2 (complex), got \(x)")
  }
  var axis = ctx.has(2) ? try ctx.constantScalarInt(2, in: -rank...rank) : -2
  axis = ((axis % rank) + rank) % rank
  guard axis < rank - 1 else { throw ctx.error(.badAttribute, "DFT axis \(axis) is the complex axis of \(x)") }
  return (axis, components)
}

private let dft = OpSchema(
  "DFT", operands: [.required("input"), .optional("dft_length"), .optional("axis")],
  attributes: [AttributeSpec("inverse", .int, default: .int(0)), AttributeSpec("onesided", .int, default: .int(0))],
  inferTypes: { ctx throws(Diagnostic) in [TensorType(try ctx.type(0).element, try symbolicDFTDims(ctx))] })

/// The resolved geometry of an STFT node.
public struct STFTGeometry: Sendable {
  public var batch: Int
  public var signalLength: Int
  public var components: Int
  public var frameStep: Int
  public var frameLength: Int
  public var frames: Int
  public var bins: Int
}

/// STFT: frames of frame_length samples every frame_step samples, each multiplied by the window (ones when
/// absent) and transformed; [batch, n, 1|2] -> [batch, frames, bins, 2] with frames = (n - frame_length) /
/// frame_step + 1 and bins = frame_length / 2 + 1 when onesided, frame_length otherwise.
public func stftGeometry(_ ctx: OpContext) throws(Diagnostic) -> STFTGeometry {
  let x = try ctx.type(0, rank: 3)
  guard let batch = x.dims[0].value, let n = x.dims[1].value, let components = x.dims[2].value else {
    throw ctx.error("STFT signal must be static [batch, length, 1 or 2], got \(x)")
  }
  let p = try stftParameters(ctx)
  guard let frameLength = p.frameLength.value else { throw ctx.error(.internalError, "STFT frame length \(p.frameLength) of a static signal") }
  guard frameLength <= n else { throw ctx.error("STFT frame_length \(frameLength) exceeds the signal length \(n)") }
  return STFTGeometry(
    batch: batch, signalLength: n, components: components, frameStep: p.step, frameLength: frameLength,
    frames: (n - frameLength) / p.step + 1, bins: p.onesided ? frameLength / 2 + 1 : frameLength)
}

/// STFT's frame step, frame length (frame_length, the window's length, or the whole signal) and onesided,
/// checked against the signal.
private func stftParameters(_ ctx: OpContext) throws(Diagnostic) -> (step: Int, frameLength: Dim, onesided: Bool) {
  let x = try ctx.type(0, rank: 3)
  guard let components = x.dims[2].value, components == 1 || components == 2 else {
    throw ctx.error("STFT signal must be [batch, length, 1 or 2], got \(x)")
  }
  func scalar(_ i: Int) throws(Diagnostic) -> Int { try ctx.constantScalarInt(i, in: 1...(1 << 30)) }
  let step = try scalar(1)
  var windowLength: Int? = nil
  if ctx.has(2) {
    let w = try ctx.type(2, rank: 1)
    guard let l = w.dims[0].value else { throw ctx.error(.unknownShape, "STFT window length must be static") }
    guard w.element == x.element else { throw ctx.error(.typeMismatch, "STFT window \(w) and signal \(x) differ in element type") }
    windowLength = l
  }
  let frameLength = ctx.has(3) ? Dim.fixed(try scalar(3)) : windowLength.map(Dim.fixed) ?? x.dims[1]
  if let l = windowLength, frameLength != .fixed(l) {
    throw ctx.error("STFT window length \(l) must equal frame_length \(frameLength)")
  }
  return (step, frameLength, try ctx.int("onesided") != 0)
}

/// STFT's output [batch, frames, bins, 2] over a signal of any (symbolic) length n: (n - frame_length) /
/// frame_step + 1 frames, frame_length/2 + 1 bins when onesided.
private func stftOutputDims(_ ctx: OpContext) throws(Diagnostic) -> [Dim] {
  let x = try ctx.type(0, rank: 3)
  if x.isStatic {
    let g = try stftGeometry(ctx)
    return [g.batch, g.frames, g.bins, 2].map(Dim.fixed)
  }
  let p = try stftParameters(ctx)
  let n = x.dims[1]
  if (p.frameLength.expression.minus(n.expression)?.bounds.lower ?? 0) > 0 {
    throw ctx.error("STFT frame_length \(p.frameLength) exceeds the signal length \(n)")
  }
  let frames = try ctx.dim(
    n.expression.minus(p.frameLength.expression)?.floorDivided(by: p.step)?.plus(1), "the STFT frames of \(n)")
  let bins = p.onesided ? try ctx.dim(p.frameLength.expression.floorDivided(by: 2)?.plus(1), "the STFT bins") : p.frameLength
  return [x.dims[0], frames, bins, .fixed(2)]
}

private let stft = OpSchema(
  "STFT", operands: [.required("signal"), .required("frame_step"), .optional("window"), .optional("frame_length")],
  attributes: [AttributeSpec("onesided", .int, default: .int(1))],
  inferTypes: { ctx throws(Diagnostic) in [TensorType(try ctx.type(0).element, try stftOutputDims(ctx))] })
