/// Control flow. The frontend imports an ONNX `If` by importing both branches into the graph and choosing
/// between their outputs with `ssmc.Choose`: ONNX ops have no side effects, so computing a branch whose
/// results are dropped changes nothing but time. When the condition is known at compile time (as the
/// conditions exporters derive from shapes usually are), shape inference forwards the chosen branch and
/// dead-code elimination removes the other, so only that branch is compiled. A run-time condition needs
/// both branches to give the same types, since ssmc compiles static shapes.
let controlFlowOps: [OpSchema] = [choose]

/// ssmc.Choose(cond, then_0..then_{n-1}, else_0..else_{n-1}) -> n results: the then values when the
/// one-element bool `cond` is true, else the else values.
let choose = OpSchema(
  "ssmc.Choose", domain: "ai.ssmc.internal",
  operands: [.required("cond"), .variadic("branches", min: 2)], results: nil,
  inferTypes: { ctx throws(Diagnostic) in
    let n = try chooseBranchSize(ctx)
    if let taken = try chosenBranch(ctx) { return try (0..<n).map { i throws(Diagnostic) in try ctx.type(1 + taken * n + i) } }
    return try (0..<n).map { i throws(Diagnostic) in
      let (a, b) = (try ctx.type(1 + i), try ctx.type(1 + n + i))
      guard a == b else {
        throw ctx.error(
          "the branches give \(a) and \(b) for output \(i) and the condition is known only at run time; ssmc compiles static shapes, so both branches must give the same type")
      }
      return a
    }
  },
  forward: { ctx throws(Diagnostic) in
    let n = try chooseBranchSize(ctx)
    return try chosenBranch(ctx).map { taken in (0..<n).map { 1 + taken * n + $0 } }
  })

/// The number of values each branch gives (the node's results).
private func chooseBranchSize(_ ctx: OpContext) throws(Diagnostic) -> Int {
  let n = ctx.resultCount
  guard n >= 1, ctx.operandCount == 1 + 2 * n else {
    throw ctx.error(.badOperand, "Choose takes a condition and two branches of \(n) values, got \(ctx.operandCount) operands")
  }
  let cond = try ctx.type(0)
  guard cond.element == .bool, cond.elementCount == 1 else {
    throw ctx.error(.typeMismatch, "the condition must be one bool, got \(cond)")
  }
  return n
}

/// 0 for the then branch, 1 for the else branch, nil while the condition is not a constant.
private func chosenBranch(_ ctx: OpContext) throws(Diagnostic) -> Int? {
  guard let cond = ctx.constants[0] else { return nil }
  return cond.bytes.first == 0 ? 1 : 0
}
