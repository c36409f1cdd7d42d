/// Ops computed from run-time data in the signal family: Det (DFT and STFT follow).
let signalOps: [OpSchema] = [det, dft]

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
  guard rank >= 2, let components = x.dims[rank - 1].value, components == 1 || components == 2 else {
    throw ctx.error("DFT input must have rank >= 2 and a last axis of 1 (real) or 2 (complex), got \(x)")
  }
  var axis = -2
  if ctx.has(2) {
    guard try ctx.type(2).elementCount == 1 else { throw ctx.error("DFT axis must be a scalar") }
    axis = Int(try ctx.requireConstant(2).element(at: 0))
  }
  axis = ((axis % rank) + rank) % rank
  guard axis < rank - 1 else { throw ctx.error(.badAttribute, "DFT axis \(axis) is the complex axis of \(x)") }
  guard let n = x.dims[axis].value else { throw ctx.error(.unknownShape, "DFT axis \(axis) of \(x) must be static") }
  let inverse = try ctx.int("inverse") != 0
  let onesided = try ctx.int("onesided") != 0
  var length = inverse && onesided ? 2 * (n - 1) : n
  if ctx.has(1) {
    guard try ctx.type(1).elementCount == 1 else { throw ctx.error("DFT dft_length must be a scalar") }
    let v = try ctx.requireConstant(1).element(at: 0)
    guard v >= 1, v <= Double(1 << 24) else { throw ctx.error(.badOperand, "DFT dft_length \(v) must be in 1...\(1 << 24)") }
    length = Int(v)
  }
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

private let dft = OpSchema(
  "DFT", operands: [.required("input"), .optional("dft_length"), .optional("axis")],
  attributes: [AttributeSpec("inverse", .int, default: .int(0)), AttributeSpec("onesided", .int, default: .int(0))],
  inferTypes: { ctx throws(Diagnostic) in [TensorType(try ctx.type(0).element, try dftGeometry(ctx).outputDims)] })
