/// Ops computed from run-time data in the signal family: Det (DFT and STFT follow).
let signalOps: [OpSchema] = [det]

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
