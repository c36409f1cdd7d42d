/// Data-movement ops, in three files by concept: layout (TensorLayout.swift), joining and replicating
/// (TensorCombine.swift), and indexing (TensorIndexing.swift, TensorScatter.swift, TensorAxisIndexing.swift, TopK.swift).
/// Identity is elementwise.
let tensorOps: [OpSchema] = layoutOps + combineOps + indexingOps + scatterOps + axisIndexingOps
