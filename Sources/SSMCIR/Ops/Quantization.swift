/// Linear quantization (opset 28 forms; every earlier version is a subset): QuantizeLinear,
/// DequantizeLinear, DynamicQuantizeLinear. The integer products (MatMulInteger, ConvInteger and the QLinear
/// ops) are in QuantizedProduct.swift.
let quantizationOps: [OpSchema] = [
  quantizeLinear.with(samples: quantizationSamples), dequantizeLinear.with(samples: quantizationSamples),
  dynamicQuantizeLinear.with(samples: .along { ctx throws(Diagnostic) in Array(0..<ctx.rank(0)) }),
] + quantizedProductOps

/// Samples stay apart along any axis but the one the scale varies along; a blocked scale has x's rank, so its
/// sample dim would not grow with the batch: refused.
private let quantizationSamples = SampleRule.along { ctx throws(Diagnostic) in
  switch try quantizationLayout(ctx.op) {
  case .tensor: []
  case .axis(let axis): [axis]
  case .blocked: Array(0..<ctx.rank(0))
  }
}

private let quantizeAttributes = [
  AttributeSpec("axis", .int, default: .int(1)), AttributeSpec("block_size", .int, default: .int(0)),
  AttributeSpec("output_dtype", .int, default: .int(0)),
]

/// QuantizeLinear: y = saturate(round_half_even(x / y_scale) + y_zero_point). The output type is the zero
/// point's, else `output_dtype`, else u8.
private let quantizeLinear = OpSchema(
  "QuantizeLinear", operands: [.required("x"), .required("y_scale"), .optional("y_zero_point")],
  attributes: quantizeAttributes + [
    AttributeSpec("saturate", .int, default: .int(1)), AttributeSpec("precision", .int, default: .int(0)),
  ],
  inferTypes: { ctx throws(Diagnostic) in
    let x = try ctx.type(0)
    _ = try quantizationLayout(ctx)
    _ = try ctx.flag("saturate")
    _ = try quantizeDivision(ctx)
    return [x.with(element: try quantizedElement(ctx))]
  })

/// DequantizeLinear: y = (x - x_zero_point) * x_scale, in the scale's float type (`output_dtype` may only
/// name that type here: ssmc has no f16/bf16).
private let dequantizeLinear = OpSchema(
  "DequantizeLinear", operands: [.required("x"), .required("x_scale"), .optional("x_zero_point")],
  attributes: quantizeAttributes,
  inferTypes: { ctx throws(Diagnostic) in
    let x = try ctx.type(0)
    _ = try quantizationLayout(ctx)
    try ctx.requireSameElement([2], as: 0)
    let scale = try ctx.type(1).element
    guard scale.isFloat else { throw ctx.error(.typeMismatch, "DequantizeLinear x_scale must be a float type, got \(scale)") }
    let dtype = try ctx.int("output_dtype")
    if dtype != 0 {
      guard let t = ElementType(code: dtype), t == scale else {
        throw ctx.error(.badAttribute, "DequantizeLinear output_dtype \(dtype) must be x_scale's type \(scale)")
      }
    }
    return [x.with(element: scale)]
  },
  fold: { ctx throws(Diagnostic) in [try foldDequantize(ctx)] })

/// DequantizeLinear of constant operands (a QDQ model's weights), with the arithmetic of the lowering: an
/// i8/u8 difference times the f32 scale in f32, an i32 difference formed and multiplied in f64.
private func foldDequantize(_ ctx: OpContext) throws(Diagnostic) -> TensorData {
  let (x, scale) = (try ctx.requireConstant(0), try ctx.requireConstant(1))
  guard scale.element == .f32 else { throw ctx.error(.unsupportedFeature, "only an f32 scale folds") }
  let zero = ctx.has(2) ? try ctx.requireConstant(2).doubles : nil
  let (values, scales) = (x.doubles, scale.floats)
  let view = QuantizationIndexing(shape: x.shape, layout: try quantizationLayout(ctx))
  var out = [Float](repeating: 0, count: values.count)
  for i in values.indices {
    let p = view.parameterIndex(flat: i)
    let z = zero?[p] ?? 0
    out[i] = x.element == .i32 ? Float((values[i] - z) * Double(scales[p])) : Float(values[i] - z) * scales[p]
  }
  return TensorData(floats: out, shape: x.shape)
}

/// x viewed as (outer, axis, inner) for a quantization layout, and where each element's scale is.
public struct QuantizationIndexing: Sendable {
  public var dims: [Int]
  public var layout: QuantizationLayout

  public init(shape: [Int], layout: QuantizationLayout) {
    self.layout = layout
    switch layout {
    case .tensor: dims = [1, 1, shape.reduce(1, *)]
    case .axis(let a), .blocked(let a, _): dims = [shape[..<a].reduce(1, *), shape[a], shape[(a + 1)...].reduce(1, *)]
    }
  }

  /// Scale rows along the axis: the block count for a blocked layout.
  public var blocks: Int {
    guard case .blocked(_, let size) = layout else { return dims[1] }
    return dims[1] / size + (dims[1] % size == 0 ? 0 : 1)
  }

  /// The scale index of the element at row-major position `flat` of x.
  public func parameterIndex(flat: Int) -> Int {
    let (outer, axis, inner) = (flat / (dims[1] * dims[2]), flat / dims[2] % dims[1], flat % dims[2])
    switch layout {
    case .tensor: return 0
    case .axis: return axis
    case .blocked(_, let size): return (outer * blocks + axis / size) * dims[2] + inner
    }
  }
}

/// DynamicQuantizeLinear: u8 quantization of x with a scale and zero point computed from x's range
/// (widened to include 0): scale = (max - min) / 255, zero point = round(clamp(-min / scale, 0, 255)).
private let dynamicQuantizeLinear = OpSchema(
  "DynamicQuantizeLinear", operands: [.required("x")], results: 3,
  inferTypes: { ctx throws(Diagnostic) in
    let x = try ctx.type(0)
    guard x.element == .f32 else { throw ctx.error(.typeMismatch, "DynamicQuantizeLinear takes f32, got \(x)") }
    return [x.with(element: .u8), TensorType(.f32, []), TensorType(.u8, [])]
  })

/// How a quantization's scale and zero point map onto x's elements.
public enum QuantizationLayout: Sendable, Equatable {
  /// One scale for the whole tensor.
  case tensor
  /// One scale per index of x's axis `axis` (a 1-D scale).
  case axis(Int)
  /// A scale of x's rank whose dim `axis` is ceil(x's dim / blockSize); each block of `blockSize`
  /// consecutive indices along that axis shares a scale.
  case blocked(axis: Int, blockSize: Int)
}

/// The layout of a (De)QuantizeLinear node's scale (operand 1) and zero point (operand 2, which must have the
/// scale's shape). `axis` is only checked where the layout uses it: per-tensor scales ignore it, as the
/// reference does (a 1-D x with the default axis 1 is valid).
public func quantizationLayout(_ ctx: OpContext) throws(Diagnostic) -> QuantizationLayout {
  let (x, scale) = (try ctx.type(0), try ctx.type(1))
  let blockSize = try ctx.int("block_size")
  guard blockSize >= 0 else { throw ctx.error(.badAttribute, "block_size must not be negative, got \(blockSize)") }
  if ctx.has(2) {
    let zp = try ctx.type(2)
    let same = zp.dims == scale.dims || (zp.elementCount == 1 && scale.elementCount == 1)
    guard same else { throw ctx.error("zero point \(zp) must have the shape of the scale \(scale)") }
  }
  guard let count = scale.elementCount else { throw ctx.error(.unknownShape, "the scale \(scale) needs a static shape") }
  if count == 1 && (blockSize == 0 || scale.rank <= 1) { return .tensor }
  guard x.rank >= 1 else { throw ctx.error("a scalar x takes a scale of one value, got \(scale)") }
  let axis = try ctx.axis(try ctx.int("axis"), rank: x.rank)
  if blockSize == 0 {
    guard scale.rank == 1, unifyDims(scale.dims[0], x.dims[axis]) != nil else {
      throw ctx.error("a per-axis scale must be 1-D with x's \(x.dims[axis]) entries along axis \(axis), got \(scale) for x \(x)")
    }
    return .axis(axis)
  }
  guard scale.rank == x.rank else { throw ctx.error("a blocked scale \(scale) must have x's rank \(x.rank)") }
  for d in 0..<x.rank {
    // A symbolic dim is checked once shapes are specialized (the lowering asks again).
    guard let xd = x.dims[d].value, let sd = scale.dims[d].value else { continue }
    let want = d == axis ? xd / blockSize + (xd % blockSize == 0 ? 0 : 1) : xd
    guard sd == want else {
      throw ctx.error("blocked scale \(scale) must have dim \(want) on axis \(d) (x \(x), block_size \(blockSize), axis \(axis))")
    }
  }
  return .blocked(axis: axis, blockSize: blockSize)
}

/// QuantizeLinear's output element type: the zero point's type, else `output_dtype`, else u8.
func quantizedElement(_ ctx: OpContext) throws(Diagnostic) -> ElementType {
  let dtype = try ctx.int("output_dtype")
  var element = ElementType.u8
  if dtype != 0 {
    guard let t = ElementType(code: dtype) else {
      throw ctx.error(.badAttribute, "output_dtype \(dtype) is not a type ssmc has")
    }
    element = t
  }
  if ctx.has(2) {
    let zp = try ctx.type(2).element
    if dtype != 0 && zp != element {
      throw ctx.error(.typeMismatch, "output_dtype \(element) differs from the zero point's type \(zp)")
    }
    element = zp
  }
  guard element == .u8 || element == .i8 else {
    throw ctx.error(.unsupportedFeature, "QuantizeLinear to \(element) is not supported (ssmc quantizes to i8 and u8)")
  }
  return element
}

/// The type QuantizeLinear divides x by its scale in: `precision` when set, else f32 when x and the scale are
/// both f32, else f64 (the ONNX reference divides with numpy's promotion: an i32 operand promotes to f64).
public func quantizeDivision(_ ctx: OpContext) throws(Diagnostic) -> ElementType {
  let (x, scale) = (try ctx.type(0).element, try ctx.type(1).element)
  let precision = try ctx.int("precision")
  if precision != 0 {
    guard let t = ElementType(code: precision), t == .f32 || t == .f64 else {
      throw ctx.error(.unsupportedFeature, "QuantizeLinear precision \(precision) is not supported (f32 or f64 only)")
    }
    return t
  }
  return x == .f32 && scale == .f32 ? .f32 : .f64
}
