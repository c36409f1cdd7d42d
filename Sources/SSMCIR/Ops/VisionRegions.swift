/// RoiAlign (opset 16 form; RoiAlign-10 gets its fixed output_half_pixel mapping on import).
/// RoIs may vary per sample over one shared image; a batched image would let batch_indices pick any sample.
let visionRegionOps: [OpSchema] = [roiAlign.with(samples: .leading([1, 2]))]

private let roiAlign = OpSchema(
  "RoiAlign", operands: [.required("X"), .required("rois"), .required("batch_indices")],
  attributes: [
    AttributeSpec("coordinate_transformation_mode", .string, default: .string("half_pixel")),
    AttributeSpec("mode", .string, default: .string("avg")), AttributeSpec("output_height", .int, default: .int(1)),
    AttributeSpec("output_width", .int, default: .int(1)), AttributeSpec("sampling_ratio", .int, default: .int(0)),
    AttributeSpec("spatial_scale", .float, default: .float(1)),
  ],
  inferTypes: { ctx throws(Diagnostic) in
    let x = try ctx.type(0)
    let rois = try ctx.type(1)
    let plan = try roiAlignPlan(ctx)
    return [x.with(dims: [rois.dims[0], x.dims[1], .fixed(plan.outputHeight), .fixed(plan.outputWidth)])]
  })

/// A RoiAlign node's attributes after checking them against its operands.
public struct RoiAlignPlan: Sendable {
  public var maxMode: Bool
  public var halfPixel: Bool
  public var outputHeight: Int
  public var outputWidth: Int
  /// Sampling points per bin and axis; 0 picks ceil(roi size / output size) for each RoI at run time.
  public var samplingRatio: Int
  public var spatialScale: Double
}

/// Checks a RoiAlign node: X (N, C, H, W), rois (R, 4) as (x1, y1, x2, y2), batch_indices (R) of int64.
public func roiAlignPlan(_ ctx: OpContext) throws(Diagnostic) -> RoiAlignPlan {
  let x = try ctx.type(0)
  let rois = try ctx.type(1)
  let indices = try ctx.type(2)
  guard x.rank == 4 else { throw ctx.error("RoiAlign needs X of rank 4 (N, C, H, W), got \(x)") }
  guard rois.rank == 2 else { throw ctx.error("RoiAlign rois must be (num_rois, 4), got \(rois)") }
  if let v = rois.dims[1].value, v != 4 { throw ctx.error("RoiAlign rois must be (num_rois, 4), got \(rois)") }
  guard indices.rank == 1 else { throw ctx.error("RoiAlign batch_indices must be (num_rois), got \(indices)") }
  guard indices.element == .i64 else { throw ctx.error(.typeMismatch, "RoiAlign batch_indices must be i64, got \(indices)") }
  if let a = rois.dims[0].value, let b = indices.dims[0].value, a != b {
    throw ctx.error("RoiAlign rois \(rois) and batch_indices \(indices) disagree on the number of RoIs")
  }
  try ctx.requireSameElement([1], as: 0)
  let mode = try ctx.string("mode") ?? "avg"
  guard mode == "avg" || mode == "max" else { throw ctx.error(.badAttribute, "RoiAlign mode must be avg or max, got '\(mode)'") }
  let transform = try ctx.string("coordinate_transformation_mode") ?? "half_pixel"
  guard transform == "half_pixel" || transform == "output_half_pixel" else {
    throw ctx.error(.badAttribute, "RoiAlign coordinate_transformation_mode must be half_pixel or output_half_pixel, got '\(transform)'")
  }
  let (height, width) = (try ctx.int("output_height"), try ctx.int("output_width"))
  guard height >= 1, width >= 1, height < Int(Int32.max), width < Int(Int32.max) else {
    throw ctx.error(.badAttribute, "RoiAlign output_height and output_width must be positive, got \(height) and \(width)")
  }
  let ratio = try ctx.int("sampling_ratio")
  guard ratio >= 0, ratio < 1 << 20 else { throw ctx.error(.badAttribute, "RoiAlign sampling_ratio must be non-negative, got \(ratio)") }
  let scale = Double(try ctx.float("spatial_scale"))
  guard scale.isFinite else { throw ctx.error(.badAttribute, "RoiAlign spatial_scale must be finite, got \(scale)") }
  return RoiAlignPlan(
    maxMode: mode == "max", halfPixel: transform == "half_pixel", outputHeight: height, outputWidth: width,
    samplingRatio: ratio, spatialScale: scale)
}
