// Families whose schemas are being written.
let reductionOps: [OpSchema] = []
let tensorOps: [OpSchema] = []
let shapeOps: [OpSchema] = []
let linalgOps: [OpSchema] = []
let convolutionOps: [OpSchema] = []
let normalizationOps: [OpSchema] = []
