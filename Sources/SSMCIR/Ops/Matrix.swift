/// Matrix-pattern ops: EyeLike (ones on a diagonal) and Trilu (keeps the upper or lower triangle of the last
/// two axes). Both decide each element from its row i and column j alone: column - row against `k`.
let matrixOps: [OpSchema] = [
  eyeLike,
  trilu.with(samples: .along { ctx throws(Diagnostic) in let r = ctx.rank(0); return [r - 2, r - 1] }),
]

/// EyeLike: the 2-D shape of `input`, 1 where column - row == k, else 0; element type `dtype` or the input's.
private let eyeLike = OpSchema(
  "EyeLike", operands: [.required("input")],
  attributes: [AttributeSpec("dtype", .int), AttributeSpec("k", .int, default: .int(0))],
  inferTypes: { ctx throws(Diagnostic) in
    let x = try ctx.type(0)
    guard x.rank == 2 else { throw ctx.error("EyeLike needs a 2-D input, got \(x)") }
    _ = try ctx.int("k")
    guard let code = try ctx.optionalInt("dtype") else { return [x] }
    guard let element = ElementType(code: code) else {
      throw ctx.error(.badAttribute, "dtype \(code) is not an element type ssmc supports")
    }
    return [x.with(element: element)]
  })

/// Trilu: input (..., N, M) with the elements outside the kept triangle set to 0. upper = 1 keeps
/// column - row >= k, upper = 0 keeps column - row <= k; k is an optional i64 scalar input (default 0).
private let trilu = OpSchema(
  "Trilu", operands: [.required("input"), .optional("k")],
  attributes: [AttributeSpec("upper", .int, default: .int(1))],
  inferTypes: { ctx throws(Diagnostic) in
    let x = try ctx.type(0)
    guard x.rank >= 2 else { throw ctx.error("Trilu needs an input of rank 2 or more, got \(x)") }
    if ctx.has(1) {
      let k = try ctx.type(1)
      guard k.element == .i64, k.elementCount == 1 else { throw ctx.error(.typeMismatch, "k must be an i64 scalar, got \(k)") }
    }
    _ = try ctx.flag("upper")
    return [x]
  })
