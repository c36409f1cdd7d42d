/// Resize (opset 19 form). Resize-10 and the deprecated Upsample-7/9 import into it (see `OpImport`).
let resizeOps: [OpSchema] = [
  resize.with(samples: SampleRule.along { ctx throws(Diagnostic) in
    // At one sample the batch axis has one element; the shape check at two samples catches `sizes` that
    // would not scale with it, so only the axes resized here must avoid the sample axis.
    Array(try resizePlan(ctx.op).axes.keys)
  }.shapes([1, 2, 3])),
]

private let resize = OpSchema(
  "Resize", operands: [.required("X"), .optional("roi"), .optional("scales"), .optional("sizes")],
  attributes: [
    AttributeSpec("antialias", .int, default: .int(0)), AttributeSpec("axes", .ints),
    AttributeSpec("coordinate_transformation_mode", .string, default: .string("half_pixel")),
    AttributeSpec("cubic_coeff_a", .float, default: .float(-0.75)), AttributeSpec("exclude_outside", .int, default: .int(0)),
    AttributeSpec("extrapolation_value", .float, default: .float(0)),
    AttributeSpec("keep_aspect_ratio_policy", .string, default: .string("stretch")),
    AttributeSpec("mode", .string, default: .string("nearest")),
    AttributeSpec("nearest_mode", .string, default: .string("round_prefer_floor")),
  ],
  inferTypes: { ctx throws(Diagnostic) in
    let x = try ctx.type(0)
    return [x.with(dims: try resizePlan(ctx).outputDims)]
  })

/// How Resize computes one output axis whose values are not copied unchanged.
public struct ResizeAxis: Sendable, Equatable {
  public var input: Int
  public var output: Int
  /// The scale the coordinate transform divides by: the given scale, or output / input for `sizes`.
  public var scale: Double
  /// The region of interest (start, end) in normalized input coordinates, for tf_crop_and_resize.
  public var roi: (start: Double, end: Double)

  public static func == (a: ResizeAxis, b: ResizeAxis) -> Bool {
    a.input == b.input && a.output == b.output && a.scale == b.scale && a.roi == b.roi
  }
}

/// A Resize node after checking its operands and attributes.
public struct ResizePlan: Sendable {
  public enum Mode: String, Sendable { case nearest, linear, cubic }
  public var outputDims: [Dim]
  /// The axes whose output differs from a copy of the input, by axis.
  public var axes: [Int: ResizeAxis]
  public var mode: Mode
  public var coordinateMode: String
  /// round_prefer_floor, round_prefer_ceil, floor, ceil, or `simple` (Resize-10 and Upsample, which name no
  /// rounding: floor when an axis grows, ceil when it shrinks, as onnxruntime computes them).
  public var nearestMode: String
  public var cubicA: Double
  public var excludeOutside: Bool
  public var antialias: Bool
  public var extrapolationValue: Double
}

private let coordinateModes: Set<String> = [
  "half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_crop_and_resize",
  "tf_half_pixel_for_nn",
]
private let nearestModes: Set<String> = ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil", "simple"]

/// The float values of an optional constant operand; nil when absent or empty (Resize-11 passes empty
/// tensors for unused inputs).
private func optionalConstantDoubles(_ ctx: OpContext, _ index: Int) throws(Diagnostic) -> [Double]? {
  guard ctx.has(index) else { return nil }
  let t = try ctx.type(index)
  guard t.rank == 1 else { throw ctx.error("Resize \(ctx.operandName(index)) must be 1-D, got \(t)") }
  if t.elementCount == 0 { return nil }
  let values = try ctx.requireConstant(index)
  return values.doubles
}

/// Checks a Resize node and works out its output shape and the axes it resizes, following the ONNX
/// reference: sizes give scale = output / input (one common scale over `axes` under keep_aspect_ratio_policy,
/// output = round-half-up(scale * input)); scales give output = floor(input * scale).
public func resizePlan(_ ctx: OpContext) throws(Diagnostic) -> ResizePlan {
  let x = try ctx.type(0)
  let rank = x.rank
  guard rank >= 1 else { throw ctx.error("Resize needs X of rank 1 or more, got \(x)") }
  guard let mode = ResizePlan.Mode(rawValue: try ctx.string("mode") ?? "nearest") else {
    throw ctx.error(.badAttribute, "Resize mode must be nearest, linear or cubic, got '\(try ctx.string("mode") ?? "")'")
  }
  let coordinateMode = try ctx.string("coordinate_transformation_mode") ?? "half_pixel"
  guard coordinateModes.contains(coordinateMode) else {
    throw ctx.error(.badAttribute, "Resize coordinate_transformation_mode '\(coordinateMode)' is not one ONNX defines")
  }
  let nearestMode = try ctx.string("nearest_mode") ?? "round_prefer_floor"
  guard nearestModes.contains(nearestMode) else {
    throw ctx.error(.badAttribute, "Resize nearest_mode '\(nearestMode)' is not one ONNX defines")
  }
  let policy = try ctx.string("keep_aspect_ratio_policy") ?? "stretch"
  guard ["stretch", "not_larger", "not_smaller"].contains(policy) else {
    throw ctx.error(.badAttribute, "Resize keep_aspect_ratio_policy '\(policy)' must be stretch, not_larger or not_smaller")
  }
  let antialias = try ctx.flag("antialias")
  if antialias && mode == .nearest { throw ctx.error(.badAttribute, "Resize antialias applies to linear and cubic modes, not nearest") }
  let axes = try ctx.normalizedAxes(ctx.ints("axes") ?? Array(0..<rank), rank: rank)

  let scales = try optionalConstantDoubles(ctx, 2)
  let sizes = try optionalSizes(ctx)
  var roi = try optionalConstantDoubles(ctx, 1)
  if coordinateMode != "tf_crop_and_resize" { roi = nil }
  if coordinateMode == "tf_crop_and_resize" && roi == nil {
    throw ctx.error(.badAttribute, "Resize with tf_crop_and_resize needs a constant roi")
  }
  if let roi, roi.count != 2 * axes.count {
    throw ctx.error("Resize roi has \(roi.count) values; \(axes.count) axes need \(2 * axes.count)")
  }

  var outputDims = x.dims
  var axisScales = [Double](repeating: 1, count: rank)
  switch (scales, sizes) {
  case (nil, nil): throw ctx.error("Resize needs one of scales and sizes")
  case (_?, _?): throw ctx.error("Resize takes scales or sizes, not both")
  case (let scales?, nil):
    guard scales.count == axes.count else { throw ctx.error("Resize has \(scales.count) scales for \(axes.count) axes") }
    guard scales.allSatisfy({ $0 > 0 && $0.isFinite }) else { throw ctx.error(.badAttribute, "Resize scales must be positive, got \(scales)") }
    for (k, axis) in axes.enumerated() {
      axisScales[axis] = scales[k]
      if scales[k] == 1 { continue }
      guard let d = x.dims[axis].value else {
        outputDims[axis] = try scaledDim(ctx, x.dims[axis], by: scales[k])
        continue
      }
      let out = (Double(d) * scales[k]).rounded(.down)
      guard out < Double(Int32.max) else { throw ctx.error("Resize output dim \(out) is too large") }
      outputDims[axis] = .fixed(Int(out))
    }
  case (nil, let sizes?):
    guard sizes.count == axes.count else { throw ctx.error("Resize has \(sizes.count) sizes for \(axes.count) axes") }
    guard sizes.allSatisfy({ ($0.value ?? 0) >= 0 && ($0.value ?? 0) < Int(Int32.max) }) else {
      throw ctx.error(.badAttribute, "Resize sizes must be non-negative, got \(dimsText(sizes))")
    }
    for axis in axes where x.dims[axis] == .fixed(0) {
      throw ctx.error("Resize cannot resize the empty axis \(axis) of \(x)")
    }
    if policy == "stretch" {
      // Each axis takes its size; the scale is known once both sizes are numbers.
      for (k, axis) in axes.enumerated() {
        outputDims[axis] = sizes[k]
        if let d = x.dims[axis].value, let out = sizes[k].value { axisScales[axis] = Double(out) / Double(d) }
      }
    } else {
      let inputs = axes.compactMap { x.dims[$0].value }
      let given = sizes.compactMap(\.value)
      guard inputs.count == axes.count, given.count == sizes.count else {
        throw ctx.error(.unknownShape, "Resize keep_aspect_ratio_policy \(policy) needs numeric sizes and input dims, got \(dimsText(sizes)) for \(x)")
      }
      let ratios = zip(given, inputs).map { Double($0) / Double($1) }
      let common = policy == "not_larger" ? ratios.min() ?? 1 : ratios.max() ?? 1
      for (k, axis) in axes.enumerated() {
        axisScales[axis] = common
        outputDims[axis] = .fixed(Int(common * Double(inputs[k]) + 0.5))
      }
    }
  }

  var resized: [Int: ResizeAxis] = [:]
  for (k, axis) in axes.enumerated() {
    let span = roi.map { (start: $0[k], end: $0[k + axes.count]) } ?? (start: 0, end: 1)
    guard let d = x.dims[axis].value, let out = outputDims[axis].value else { continue }
    // The reference skips an axis whose scale is 1 (to 1e-9), size unchanged and roi whole.
    let identity = abs(axisScales[axis] - 1) <= 1e-9 * max(1, abs(axisScales[axis])) && out == d && span == (0, 1)
    if identity { continue }
    guard d > 0 || out == 0 else { throw ctx.error("Resize cannot resize the empty axis \(axis) of \(x) to \(out)") }
    resized[axis] = ResizeAxis(input: d, output: out, scale: axisScales[axis], roi: span)
  }
  return ResizePlan(
    outputDims: outputDims, axes: resized, mode: mode, coordinateMode: coordinateMode, nearestMode: nearestMode,
    cubicA: Double(try ctx.float("cubic_coeff_a")), excludeOutside: try ctx.flag("exclude_outside"), antialias: antialias,
    extrapolationValue: Double(try ctx.float("extrapolation_value")))
}

/// Resize's `sizes` operand as dims (constant or computed from shapes); nil when absent or empty (Resize-11
/// passes empty tensors for unused inputs).
private func optionalSizes(_ ctx: OpContext) throws(Diagnostic) -> [Dim]? {
  guard ctx.has(3) else { return nil }
  let t = try ctx.type(3)
  guard t.rank == 1 else { throw ctx.error("Resize \(ctx.operandName(3)) must be 1-D, got \(t)") }
  if t.elementCount == 0 { return nil }
  return try ctx.shapeOperand(3)
}

/// floor(d * scale) for a symbolic dim: exact when the scale is a multiple of 1/1024 (2, 0.5, 1.5: the
/// scales models use, all exact in binary, so the float product floors to the same integer); other scales
/// give sizes no dim expression can state.
private func scaledDim(_ ctx: OpContext, _ d: Dim, by scale: Double) throws(Diagnostic) -> Dim {
  var denominator = 1
  while denominator <= 1024 {
    let numerator = scale * Double(denominator)
    if numerator == numerator.rounded(), numerator < Double(Int32.max) {
      return try ctx.dim(d.expression.scaled(by: Int(numerator))?.floorDivided(by: denominator), "\(d) scaled by \(scale)")
    }
    denominator *= 2
  }
  throw ctx.error(.unknownShape, "Resize cannot scale the symbolic dim \(d) by \(scale): floor(\(d) x \(scale)) is no dim expression")
}
