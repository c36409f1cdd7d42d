/// Region ops: RoiAlign, MaxRoiPool, MaxUnpool, Col2Im, CenterCropPad.
let visionRegionOps: [OpSchema] = []
