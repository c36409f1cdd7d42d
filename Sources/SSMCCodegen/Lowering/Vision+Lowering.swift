import SSMCIR

/// Spatial sampling and region ops (GridSample, AffineGrid, RoiAlign, MaxRoiPool, MaxUnpool, Col2Im,
/// CenterCropPad); each op's lowering is in its own file.
let visionLowerings: [String: Lowering] = [
  "GridSample": lowerGridSample, "AffineGrid": lowerAffineGrid, "RoiAlign": lowerRoiAlign,
  "CenterCropPad": lowerCenterCropPad, "MaxUnpool": lowerMaxUnpool, "Col2Im": lowerCol2Im, "MaxRoiPool": lowerMaxRoiPool,
]
