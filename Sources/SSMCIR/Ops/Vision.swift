/// Spatial sampling ops: GridSample (opset 20+ form; GridSample-16's bilinear/bicubic modes are renamed on
/// import) and AffineGrid. RoiAlign is in VisionRegions.swift, the block-moving ops in VisionLayout.swift.
let visionOps: [OpSchema] = [
  // Each sample reads its own image and grid; AffineGrid's size names the batch (a shape operand).
  gridSample.with(samples: .leading([0, 1])), affineGrid.with(samples: SampleRule.leading([0]).shapes([1])),
] + visionRegionOps + visionLayoutOps

private let gridSample = OpSchema(
  "GridSample", operands: [.required("X"), .required("grid")],
  attributes: [
    AttributeSpec("align_corners", .int, default: .int(0)), AttributeSpec("mode", .string, default: .string("linear")),
    AttributeSpec("padding_mode", .string, default: .string("zeros")),
  ],
  inferTypes: { ctx throws(Diagnostic) in
    let x = try ctx.type(0)
    let grid = try ctx.type(1)
    _ = try gridSamplePlan(ctx)
    return [x.with(dims: [x.dims[0], x.dims[1]] + grid.dims[1..<(grid.rank - 1)])]
  })

/// A GridSample node's attributes after checking them against its operands.
public struct GridSamplePlan: Sendable {
  public enum Mode: String, Sendable { case nearest, linear, cubic }
  public enum Padding: String, Sendable { case zeros, border, reflection }
  public var mode: Mode
  public var padding: Padding
  public var alignCorners: Bool
  /// The number of spatial axes (2 for images, 3 for volumes).
  public var spatialRank: Int
}

/// Checks a GridSample node: X is (N, C, D1, ..., Dr), grid is (N, O1, ..., Or, r) with the r coordinates
/// of each output position listed innermost axis first (x, y, z).
public func gridSamplePlan(_ ctx: OpContext) throws(Diagnostic) -> GridSamplePlan {
  let x = try ctx.type(0)
  let grid = try ctx.type(1)
  guard x.rank >= 3 else { throw ctx.error("GridSample needs X of rank 3 or more (N, C, spatial...), got \(x)") }
  let r = x.rank - 2
  guard grid.rank == x.rank else { throw ctx.error("GridSample grid must have rank \(x.rank) like X \(x), got \(grid)") }
  if let last = grid.dims[r + 1].value, last != r {
    throw ctx.error("GridSample grid's last dim must be \(r) (one coordinate per spatial axis), got \(grid)")
  }
  if let a = x.dims[0].value, let b = grid.dims[0].value, a != b {
    throw ctx.error("GridSample X \(x) and grid \(grid) disagree on the batch size")
  }
  guard let mode = GridSamplePlan.Mode(rawValue: try ctx.string("mode") ?? "linear") else {
    throw ctx.error(.badAttribute, "GridSample mode must be linear, nearest or cubic, got '\(try ctx.string("mode") ?? "")'")
  }
  guard let padding = GridSamplePlan.Padding(rawValue: try ctx.string("padding_mode") ?? "zeros") else {
    throw ctx.error(.badAttribute, "GridSample padding_mode must be zeros, border or reflection, got '\(try ctx.string("padding_mode") ?? "")'")
  }
  return GridSamplePlan(mode: mode, padding: padding, alignCorners: try ctx.flag("align_corners"), spatialRank: r)
}

private let affineGrid = OpSchema(
  "AffineGrid", operands: [.required("theta"), .required("size")],
  attributes: [AttributeSpec("align_corners", .int, default: .int(0))],
  inferTypes: { ctx throws(Diagnostic) in
    let theta = try ctx.type(0)
    let size = try affineGridDims(ctx)
    return [TensorType(theta.element, [size[0]] + size[2...] + [.fixed(size.count - 2)])]
  })

/// AffineGrid's `size` (N, C, H, W) or (N, C, D, H, W), checked against theta (N, 2, 3) or (N, 3, 4).
public func affineGridSize(_ ctx: OpContext) throws(Diagnostic) -> [Int] {
  let dims = try affineGridDims(ctx)
  let size = dims.compactMap(\.value)
  guard size.count == dims.count else { throw ctx.error(.unknownShape, "AffineGrid size \(dimsText(dims)) is symbolic") }
  return size
}

/// The size as dims: a constant, or computed from shapes (`affine_grid(theta, x.size())`).
private func affineGridDims(_ ctx: OpContext) throws(Diagnostic) -> [Dim] {
  let theta = try ctx.type(0)
  let sizeType = try ctx.type(1)
  guard sizeType.element == .i64 else { throw ctx.error(.typeMismatch, "AffineGrid size must be i64, got \(sizeType)") }
  let size = try ctx.shapeOperand(1)
  guard size.count == 4 || size.count == 5 else {
    throw ctx.error(.badOperand, "AffineGrid size must be (N, C, H, W) or (N, C, D, H, W), got \(dimsText(size))")
  }
  guard size.allSatisfy({ ($0.value ?? 0) >= 0 && ($0.value ?? 0) < Int(Int32.max) }) else {
    throw ctx.error(.badOperand, "AffineGrid size must be non-negative, got \(dimsText(size))")
  }
  let r = size.count - 2
  let want: [Dim] = [size[0], .fixed(r), .fixed(r + 1)]
  guard theta.rank == 3 else { throw ctx.error("AffineGrid theta must be (N, \(r), \(r + 1)), got \(theta)") }
  for (d, w) in zip(theta.dims, want) where d != w && provablyDiffer(d.expression, w.expression) {
    throw ctx.error("AffineGrid theta must be (N, \(r), \(r + 1)) for size \(dimsText(size)), got \(theta)")
  }
  _ = try ctx.flag("align_corners")
  return size
}
