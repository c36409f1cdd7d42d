import CLLVM
import SSMCIR

/// An Einsum equation resolved against static operand shapes: every letter (ellipsis dims become extra
/// letters) with its size and, per operand, the element stride it advances by (0 where the operand
/// broadcasts it; the sum of the positions' strides where a term repeats it, which walks the diagonal).
struct EinsumPlan {
  var outputLetters: [Character]
  var summedLetters: [Character]
  var sizes: [Character: Int]
  var strides: [[Character: Int]]
  /// Letters of each input term, in order (with repeats).
  var terms: [[Character]]

  init(equation raw: String, shapes: [[Int]], fail: (String) -> Error) throws {
    let equation = raw.filter { $0 != " " }
    let sides = equation.components(separatedBy: "->")
    let rawTerms = sides[0].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
    guard rawTerms.count == shapes.count else { throw fail("equation '\(equation)' does not match \(shapes.count) inputs") }
    // Ellipsis dims get the digit letters "0"..."9", aligned to the right like broadcasting.
    let ellipsisRanks = zip(rawTerms, shapes).map { term, shape in
      term.contains("...") ? shape.count - term.replacingOccurrences(of: "...", with: "").count : 0
    }
    let ellipsisRank = ellipsisRanks.max() ?? 0
    guard ellipsisRank <= 10 else { throw fail("more than 10 '...' dims") }
    let digits = (0..<ellipsisRank).map { Character(String($0)) }
    func expand(_ term: String, _ rank: Int) -> [Character] {
      guard let range = term.range(of: "...") else { return Array(term) }
      return Array(term[..<range.lowerBound]) + digits.suffix(rank) + Array(term[range.upperBound...])
    }
    terms = zip(rawTerms, ellipsisRanks).map { expand($0, $1) }
    sizes = [:]
    strides = []
    var counts: [Character: Int] = [:]
    for (letters, shape) in zip(terms, shapes) {
      guard letters.count == shape.count else { throw fail("term \(String(letters)) does not match input shape \(shape)") }
      for (c, d) in zip(letters, shape) {
        counts[c, default: 0] += 1
        if d != 1 || sizes[c] == nil { sizes[c] = max(sizes[c] ?? 1, d) }
      }
    }
    for (letters, shape) in zip(terms, shapes) {
      var s: [Character: Int] = [:]
      for (position, (c, d)) in zip(letters, shape).enumerated() {
        let contiguous = rowMajorStrides(shape)[position]
        s[c, default: 0] += (d == 1 && sizes[c]! != 1) ? 0 : contiguous
      }
      strides.append(s)
    }
    if sides.count == 2 {
      outputLetters = expand(sides[1], ellipsisRank)
    } else {
      let once = counts.filter { $0.value == 1 && !$0.key.isNumber }.keys.sorted()
      outputLetters = digits + once
    }
    let output = Set(outputLetters)
    summedLetters = sizes.keys.filter { !output.contains($0) }.sorted()
  }

  func stride(_ operand: Int, _ letter: Character) -> Int { strides[operand][letter] ?? 0 }

  /// The equation as one batched matrix product, when it is one: two inputs without repeated letters, at
  /// most one summed letter (in both inputs), and the last output letter (n) from exactly one input, which
  /// becomes B. The other input's last output letter not in B is m; every other output letter is a batch
  /// dim (stride 0 in an input that lacks it). Returns the problem and which input is A.
  func matMul() -> (MatMulProblem, aInput: Int)? {
    guard terms.count == 2, terms.allSatisfy({ Set($0).count == $0.count }), summedLetters.count <= 1,
      let nL = outputLetters.last
    else { return nil }
    let sets = terms.map(Set.init)
    guard summedLetters.allSatisfy({ sets[0].contains($0) && sets[1].contains($0) }), sets[0].contains(nL) != sets[1].contains(nL)
    else { return nil }
    let (left, right) = sets[1].contains(nL) ? (0, 1) : (1, 0)
    let mL = outputLetters.dropLast().last { sets[left].contains($0) && !sets[right].contains($0) }
    let kL = summedLetters.first
    let batch = outputLetters.filter { $0 != nL && $0 != mL }
    let outStrides = Dictionary(uniqueKeysWithValues: zip(outputLetters, rowMajorStrides(outputLetters.map { sizes[$0]! })))
    func size(_ c: Character?) -> Int { c.map { sizes[$0]! } ?? 1 }
    func s(_ operand: Int, _ c: Character?) -> Int { c.map { stride(operand, $0) } ?? 0 }
    var problem = MatMulProblem(
      batch: batch.map { sizes[$0]! }, m: size(mL), n: size(nL), k: size(kL),
      aBatchStrides: batch.map { stride(left, $0) }, aM: s(left, mL), aK: s(left, kL),
      bBatchStrides: batch.map { stride(right, $0) }, bK: s(right, kL), bN: s(right, nL))
    problem.cLayout = (batch.map { outStrides[$0]! }, mL.map { outStrides[$0]! } ?? 0)
    return (problem, left)
  }
}

/// Einsum: matrix-product forms go to the matmul kernels; anything else is a loop over the output with a
/// reduction loop nest over the summed letters.
func lowerEinsum(_ ctx: LoweringContext) throws {
  if ctx.hasRuntimeExtents { return try lowerRuntimeEinsum(ctx) }
  let count = ctx.node.operands.count
  let shapes = (0..<count).map { ctx.operandShape($0) }
  let plan = try EinsumPlan(equation: try ctx.op.string("equation") ?? "", shapes: shapes) { ctx.error($0) }
  let element = try ctx.scalar(ctx.resultType(0).element)
  if let (problem, aInput) = plan.matMul() {
    try emitMatMul(ctx, problem, a: ctx.operand(aInput), b: ctx.operand(1 - aInput), bConstant: ctx.constant(1 - aInput))
    return
  }
  let k = ctx.k
  let outShape = plan.outputLetters.map { plan.sizes[$0]! }
  let outStrides = rowMajorStrides(outShape)
  let summed = plan.summedLetters
  let operands = (0..<count).map { ctx.operand($0) }
  ctx.forEachIndex(outShape, captures: operands + [ctx.results[0]], innerHints: LoopHints(vectorize: summed.isEmpty)) {
    index, captured in
    var base = [IRValue](repeating: k.i64(0), count: count)
    for op in 0..<count {
      base[op] = ctx.flatIndex(index, strides: plan.outputLetters.map { plan.stride(op, $0) })
    }
    func product(_ offsets: [IRValue]) -> IRValue {
      var value = k.load(element, from: captured[0], at: offsets[0])
      for op in 1..<count { value = value * k.load(element, from: captured[op], at: offsets[op]) }
      return value
    }
    // Nested reduction loops, one per summed letter, carrying the sum.
    func reduce(_ level: Int, _ offsets: [IRValue], _ acc: IRValue) -> IRValue {
      guard level < summed.count else { return acc + product(offsets) }
      let letter = summed[level]
      return k.forLoop(
        from: k.i64(0), to: k.i64(Int64(plan.sizes[letter]!)), hints: LoopHints(vectorize: false), carrying: [acc]
      ) { i, carried in
        let next = (0..<count).map { op in offsets[op] + i * k.i64(Int64(plan.stride(op, letter))) }
        return [reduce(level + 1, next, carried[0])]
      }[0]
    }
    let value = summed.isEmpty ? product(base) : reduce(0, base, k.constant(0, k.type(element)))
    k.store(value, element, to: captured[count], at: ctx.flatIndex(index, strides: outStrides))
  }
}
