// Families whose schemas are being written.
let linalgOps: [OpSchema] = []
let convolutionOps: [OpSchema] = []
let normalizationOps: [OpSchema] = []
