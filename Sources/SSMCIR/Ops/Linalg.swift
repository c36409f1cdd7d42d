import Foundation

/// Linear algebra: MatMul (numpy matmul semantics), Gemm, Einsum. No folders: weights are multiplied at run time.
let linalgOps: [OpSchema] = [matMul.with(samples: matMulSamples), gemm.with(samples: gemmSamples), einsum.with(samples: einsumSamples)]

/// The result axis each operand's sample axis lands on; samples must never be contracted.
private func agreeing(_ ctx: SampleContext, _ axes: [Int?]) throws(Diagnostic) -> [Int?] {
  let present = axes.compactMap { $0 }
  guard let first = present.first else { return [nil] }
  guard present.allSatisfy({ $0 == first }) else { throw ctx.mixes("its operands index samples along different result axes") }
  return [first]
}

private let matMulSamples = SampleRule { ctx throws(Diagnostic) in
  let (ra, rb) = (ctx.rank(0), ctx.rank(1))
  let rank = ctx.resultShapes[0].count
  let batchDims = rank - (ra > 1 ? 1 : 0) - (rb > 1 ? 1 : 0)
  var landing: [Int?] = [nil, nil]
  if let a = ctx.axis(0) {
    if ra == 1 || a == ra - 1 { throw ctx.mixes("A's sample axis \(a) is contracted") }
    landing[0] = a == ra - 2 ? batchDims : batchDims - (ra - 2) + a
  }
  if let b = ctx.axis(1) {
    if rb == 1 || b == rb - 2 { throw ctx.mixes("B's sample axis \(b) is contracted") }
    landing[1] = b == rb - 1 ? rank - 1 : batchDims - (rb - 2) + b
  }
  return try agreeing(ctx, landing)
}

/// Einsum keeps samples apart when every operand that varies per sample has one letter on its sample axis,
/// the same letter everywhere, and that letter survives into the output (it is not summed over).
private let einsumSamples = SampleRule { ctx throws(Diagnostic) in
  let equation = (try ctx.op.string("equation") ?? "").filter { $0 != " " }
  let sides = equation.components(separatedBy: "->")
  let terms = sides[0].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
  var sampleLetter: Character? = nil
  var counts: [Character: Int] = [:]
  for (i, term) in terms.enumerated() {
    let (letters, _) = try einsumTerm(ctx.op, term)
    for c in letters { counts[c, default: 0] += 1 }
    guard let axis = ctx.axis(i) else { continue }
    let before = term.components(separatedBy: "...")[0].count
    let ellipsisRank = ctx.rank(i) - letters.count
    guard axis < before || axis >= before + ellipsisRank, term.contains("...") || axis < letters.count else {
      throw ctx.mixes("the sample axis of input \(i) lies under '...'")
    }
    let letter = letters[axis < before ? axis : axis - ellipsisRank]
    if let s = sampleLetter, s != letter { throw ctx.mixes("inputs hold samples under different letters") }
    guard letters.filter({ $0 == letter }).count == 1 else { throw ctx.mixes("the sample letter '\(letter)' is a diagonal") }
    sampleLetter = letter
  }
  guard let letter = sampleLetter else { return [nil] }
  // Implicit output: the letters used once, sorted; explicit: as written.
  let output = sides.count == 2 ? sides[1] : String(counts.filter { $0.value == 1 }.keys.sorted())
  let (outLetters, _) = try einsumTerm(ctx.op, output)
  guard let position = outLetters.firstIndex(of: letter) else { throw ctx.mixes("the sample letter '\(letter)' is summed over") }
  let before = output.components(separatedBy: "...")[0].count
  let ellipsisRank = (ctx.resultShapes.first?.count ?? 0) - outLetters.count
  return [position < before ? position : position + ellipsisRank]
}

private let gemmSamples = SampleRule { ctx throws(Diagnostic) in
  var landing: [Int?] = [nil, nil, nil]
  if let a = ctx.axis(0) {
    guard a == (try ctx.op.flag("transA") ? 1 : 0) else { throw ctx.mixes("A's sample axis \(a) is contracted") }
    landing[0] = 0
  }
  if let b = ctx.axis(1) {
    guard b == (try ctx.op.flag("transB") ? 0 : 1) else { throw ctx.mixes("B's sample axis \(b) is contracted") }
    landing[1] = 1
  }
  if let c = ctx.axis(2) { landing[2] = 2 - ctx.rank(2) + c }
  return try agreeing(ctx, landing)
}

/// MatMul as numpy.matmul: a 1-D A gets a leading 1 and a 1-D B a trailing 1, both removed from the result;
/// batch dims (all but the last two) broadcast.
let matMul = OpSchema(
  "MatMul", operands: [.required("A"), .required("B")],
  inferTypes: { ctx throws(Diagnostic) in
    let (a, b) = (try ctx.type(0), try ctx.type(1))
    guard a.element == b.element else { throw ctx.error(.typeMismatch, "MatMul operands differ in element type: \(a) vs \(b)") }
    return [a.with(dims: try matMulDims(ctx, a: 0, b: 1))]
  })

/// The result dims of numpy.matmul of operands `a` and `b` (MatMul's and the quantized products'); the
/// element types are the caller's to check.
func matMulDims(_ ctx: OpContext, a: Int, b: Int) throws(Diagnostic) -> [Dim] {
  let (ta, tb) = (try ctx.type(a), try ctx.type(b))
  let name = ctx.schema.name
  guard ta.rank >= 1, tb.rank >= 1 else { throw ctx.error("\(name) needs operands of rank 1 or more, got \(ta) and \(tb)") }
  let left = ta.rank == 1 ? [.fixed(1)] + ta.dims : ta.dims
  let right = tb.rank == 1 ? tb.dims + [.fixed(1)] : tb.dims
  let (m, k1) = (left[left.count - 2], left[left.count - 1])
  let (k2, n) = (right[right.count - 2], right[right.count - 1])
  guard unifyDims(k1, k2) != nil else { throw ctx.error("\(name) inner dims differ: \(ta) x \(tb)") }
  guard let batch = Broadcast.shape([Array(left.dropLast(2)), Array(right.dropLast(2))]) else {
    throw ctx.error("\(name) batch dims do not broadcast: \(ta) x \(tb)")
  }
  return batch + (ta.rank == 1 ? [] : [m]) + (tb.rank == 1 ? [] : [n])
}

/// Gemm: Y = alpha * op(A) * op(B) + beta * C, op transposing when transA/transB; C broadcasts to (M, N)
/// unidirectionally.
let gemm = OpSchema(
  "Gemm", operands: [.required("A"), .required("B"), .optional("C")],
  attributes: [
    AttributeSpec("alpha", .float, default: .float(1)), AttributeSpec("beta", .float, default: .float(1)),
    AttributeSpec("transA", .int, default: .int(0)), AttributeSpec("transB", .int, default: .int(0)),
  ],
  inferTypes: { ctx throws(Diagnostic) in
    let (a, b) = (try ctx.type(0, rank: 2), try ctx.type(1, rank: 2))
    try ctx.requireSameElement([1, 2], as: 0)
    let (m, k1) = try ctx.flag("transA") ? (a.dims[1], a.dims[0]) : (a.dims[0], a.dims[1])
    let (k2, n) = try ctx.flag("transB") ? (b.dims[1], b.dims[0]) : (b.dims[0], b.dims[1])
    guard unifyDims(k1, k2) != nil else { throw ctx.error("Gemm inner dims differ: op(A) is \(m)x\(k1), op(B) is \(k2)x\(n)") }
    if ctx.has(2) {
      let c = try ctx.type(2)
      guard c.rank <= 2, Broadcast.shape([[m, n], c.dims]) == [m, n] else {
        throw ctx.error("Gemm C \(c) does not broadcast to the \(m)x\(n) result")
      }
    }
    return [a.with(dims: [m, n])]
  })

/// Einsum: explicit (`ij,jk->ik`) or implicit (`ij,jk`, output letters appearing once, sorted) equations,
/// with `...` for broadcast dims (the same number in every term) and repeated letters for diagonals.
private let einsum = OpSchema(
  "Einsum", operands: [.variadic("Inputs")], attributes: [AttributeSpec("equation", .string, required: true)],
  inferTypes: { ctx throws(Diagnostic) in
    let equation = (try ctx.string("equation") ?? "").filter { $0 != " " }
    let sides = equation.components(separatedBy: "->")
    guard sides.count <= 2 else { throw ctx.error(.badAttribute, "Einsum equation '\(equation)' has more than one '->'") }
    let terms = sides[0].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
    guard terms.count == ctx.operandCount else {
      throw ctx.error(.badOperand, "Einsum equation '\(equation)' has \(terms.count) terms for \(ctx.operandCount) inputs")
    }
    let element = try ctx.type(0).element
    var letterDims: [Character: Dim] = [:]
    var letterCounts: [Character: Int] = [:]
    var ellipsisShapes: [[Dim]] = []
    var usesEllipsis = false
    for (i, term) in terms.enumerated() {
      let t = try ctx.type(i)
      guard t.element == element else { throw ctx.error(.typeMismatch, "Einsum inputs differ in element type") }
      let (letters, hasEllipsis) = try einsumTerm(ctx, term)
      usesEllipsis = usesEllipsis || hasEllipsis
      let ellipsisRank = t.rank - letters.count
      guard ellipsisRank == 0 || (hasEllipsis && ellipsisRank > 0) else {
        throw ctx.error("Einsum term '\(term)' does not match the rank of input \(i), \(t)")
      }
      let split = hasEllipsis ? term.distance(from: term.startIndex, to: term.range(of: "...")!.lowerBound) : letters.count
      ellipsisShapes.append(Array(t.dims[split..<(split + ellipsisRank)]))
      let letterDimsOfInput = Array(t.dims[..<split]) + Array(t.dims[(split + ellipsisRank)...])
      for (c, d) in zip(letters, letterDimsOfInput) {
        letterCounts[c, default: 0] += 1
        guard let known = letterDims[c] else { letterDims[c] = d; continue }
        guard let unified = unifyDims(known, d) else { throw ctx.error("Einsum letter '\(c)' has sizes \(known) and \(d)") }
        letterDims[c] = unified
      }
    }
    // The spec requires every "..." to stand for the same number of dims (numpy would also right-align).
    let ellipsisRanks = Set(zip(terms, ellipsisShapes).filter { $0.0.contains("...") }.map { $0.1.count })
    guard ellipsisRanks.count <= 1 else {
      throw ctx.error("Einsum '...' stands for different numbers of dims: \(ellipsisShapes)")
    }
    guard let ellipsisDims = Broadcast.shape(ellipsisShapes) else {
      throw ctx.error("Einsum '...' dims do not broadcast: \(ellipsisShapes)")
    }
    var output: [Dim] = []
    if sides.count == 2 {
      let (letters, hasEllipsis) = try einsumTerm(ctx, sides[1])
      guard Set(letters).count == letters.count else { throw ctx.error(.badAttribute, "Einsum output '\(sides[1])' repeats a letter") }
      guard hasEllipsis || ellipsisDims.isEmpty else {
        throw ctx.error(.badAttribute, "Einsum output '\(sides[1])' needs '...' for the broadcast dims")
      }
      for c in sides[1].replacingOccurrences(of: "...", with: "*") {
        if c == "*" { output += ellipsisDims; continue }
        guard let d = letterDims[c] else { throw ctx.error(.badAttribute, "Einsum output letter '\(c)' is in no input") }
        output.append(d)
      }
    } else {
      output = usesEllipsis ? ellipsisDims : []
      let once = letterCounts.filter { $0.value == 1 }.keys.sorted { $0.asciiValue! < $1.asciiValue! }
      output += once.map { letterDims[$0]! }
    }
    return [TensorType(element, output)]
  })

/// The letters of one Einsum term and whether it has an ellipsis; rejects anything but a-z, A-Z and one "...".
private func einsumTerm(_ ctx: OpContext, _ term: String) throws(Diagnostic) -> ([Character], Bool) {
  let parts = term.components(separatedBy: "...")
  guard parts.count <= 2 else { throw ctx.error(.badAttribute, "Einsum term '\(term)' has more than one '...'") }
  let letters = Array(parts.joined())
  guard letters.allSatisfy({ $0.isASCII && $0.isLetter }) else {
    throw ctx.error(.badAttribute, "Einsum term '\(term)' may only hold letters and '...'")
  }
  return (letters, parts.count == 2)
}
