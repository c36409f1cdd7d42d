/// How an op treats the samples of a batch, for compiling a graph whose batch size is given at run time.
///
/// ssmc compiles such a graph for one sample and runs it once per sample, which is exact only when no op
/// combines different samples. Each op's rule answers, given which axis of each operand indexes the sample
/// (nil: the operand is the same for every sample), which axis of each result does; it throws when the op
/// would mix samples (a Softmax over the batch axis, a MatMul contracting it, ...). The caller checks every
/// answer against the graph specialized to two samples, where a sample axis must be exactly twice as long.
public struct SampleRule: Sendable {
  public let results: @Sendable (SampleContext) throws(Diagnostic) -> [Int?]
  /// Operands that only describe a shape (Reshape's `shape`, Tile's `repeats`): these may hold the batch
  /// size (a folded `Shape`), since the result shapes are checked at one and two samples.
  public var shapeOperands: Set<Int>

  public init(shapeOperands: Set<Int> = [], _ results: @escaping @Sendable (SampleContext) throws(Diagnostic) -> [Int?]) {
    self.results = results
    self.shapeOperands = shapeOperands
  }

  /// The same rule, with operands that only describe a shape.
  public func shapes(_ operands: Set<Int>) -> SampleRule {
    var rule = self
    rule.shapeOperands = operands
    return rule
  }
}

extension OpSchema {
  /// This schema with its sample rule.
  func with(samples rule: SampleRule) -> OpSchema {
    var schema = self
    schema.samples = rule
    return schema
  }
}

/// What a sample rule sees of one node: the node at one sample, its operands' sample axes, and its shapes
/// at two samples.
public struct SampleContext: Sendable {
  /// The node as specialized to one sample (attributes, operand types, constant operands).
  public var op: OpContext
  /// Per operand: the axis indexing the sample, or nil when the operand is the same for every sample.
  public var operandAxes: [Int?]
  /// Result shapes at one and at two samples.
  public var resultShapes: [[Int]]
  public var resultShapesAtTwo: [[Int]]

  public init(op: OpContext, operandAxes: [Int?], resultShapes: [[Int]], resultShapesAtTwo: [[Int]]) {
    self.op = op
    self.operandAxes = operandAxes
    self.resultShapes = resultShapes
    self.resultShapesAtTwo = resultShapesAtTwo
  }

  /// The one axis along which shape `two` is twice shape `one`, all others equal: where a value at two
  /// samples holds its samples.
  public static func doubledAxis(_ one: [Int], _ two: [Int]) -> Int? {
    guard one.count == two.count else { return nil }
    let changed = (0..<one.count).filter { one[$0] != two[$0] }
    guard changed.count == 1, two[changed[0]] == 2 * one[changed[0]] else { return nil }
    return changed[0]
  }

  public func axis(_ operand: Int) -> Int? { operand < operandAxes.count ? operandAxes[operand] : nil }
  public func rank(_ operand: Int) -> Int { op.operandTypes[operand]?.rank ?? 0 }
  public var resultCount: Int { resultShapes.count }

  /// The error for an op that would combine samples.
  public func mixes(_ why: String) -> Diagnostic {
    op.error(.unsupportedFeature, "this node mixes the samples of a run-time batch (\(why)); fix the batch size with --input-shape")
  }

  /// Only the listed operands may vary per sample.
  public func requireOnlyBatched(_ allowed: Set<Int>) throws(Diagnostic) {
    for (i, axis) in operandAxes.enumerated() where axis != nil && !allowed.contains(i) {
      throw mixes("its \(op.operandName(i)) operand varies per sample, which this op does not allow")
    }
  }
}

extension SampleRule {
  /// Elementwise with multidirectional broadcasting: operand axes align from the right.
  public static let elementwise = SampleRule { ctx throws(Diagnostic) in
    let rank = ctx.resultShapes.first?.count ?? 0
    var result: Int? = nil
    for (i, axis) in ctx.operandAxes.enumerated() {
      guard let axis else { continue }
      let aligned = rank - ctx.rank(i) + axis
      if let r = result, r != aligned { throw ctx.mixes("operands index samples along different axes") }
      result = aligned
    }
    return Array(repeating: result, count: ctx.resultCount)
  }

  /// Per-sample ops whose listed operands index samples along axis 0 and whose results do too (Conv, pools,
  /// the scan). Every other operand must be the same for every sample.
  public static func leading(_ operands: Set<Int> = [0]) -> SampleRule {
    SampleRule { ctx throws(Diagnostic) in
      try ctx.requireOnlyBatched(operands)
      for i in operands {
        if let axis = ctx.axis(i), axis != 0 { throw ctx.mixes("\(ctx.op.operandName(i)) indexes samples along axis \(axis), not 0") }
      }
      return Array(repeating: 0, count: ctx.resultCount)
    }
  }

  /// Ops that combine elements along some axes of their data operands and keep its rank (Softmax, CumSum,
  /// LayerNorm, Concat): the sample axis must not be among them and stays where it is. `operands` nil: all.
  public static func along(_ operands: Set<Int>? = [0], axes: @escaping @Sendable (SampleContext) throws(Diagnostic) -> [Int]) -> SampleRule {
    SampleRule { ctx throws(Diagnostic) in
      let data = operands ?? Set(0..<ctx.operandAxes.count)
      try ctx.requireOnlyBatched(data)
      let batched = data.sorted().compactMap { ctx.axis($0) }
      guard let axis = batched.first else { return Array(repeating: nil, count: ctx.resultCount) }
      guard batched.allSatisfy({ $0 == axis }) else { throw ctx.mixes("operands index samples along different axes") }
      if try axes(ctx).contains(axis) { throw ctx.mixes("it combines elements along the sample axis \(axis)") }
      return Array(repeating: axis, count: ctx.resultCount)
    }
  }

  /// Ops along the axis named by an int attribute of operand 0.
  public static func alongAttribute(_ name: String, operands: Set<Int>? = [0]) -> SampleRule {
    along(operands) { ctx throws(Diagnostic) in [try ctx.op.axis(ctx.op.int(name), rank: ctx.rank(0))] }
  }

  /// Reshape-like ops (Reshape, Flatten, Squeeze, Unsqueeze): the data keeps its row-major order, so each
  /// sample stays one contiguous block as long as nothing but size-1 dims precede its axis, before and after.
  /// The result's sample axis is the one axis that doubles at two samples.
  public static let reshape = SampleRule { ctx throws(Diagnostic) in
    try ctx.requireOnlyBatched([0])
    guard let axis = ctx.axis(0) else { return [nil] }
    let dims = ctx.op.operandTypes[0]?.staticShape ?? []
    guard dims.prefix(axis).allSatisfy({ $0 == 1 }) else {
      throw ctx.mixes("its input's sample axis \(axis) is not outermost")
    }
    let (one, two) = (ctx.resultShapes[0], ctx.resultShapesAtTwo[0])
    guard let k = SampleContext.doubledAxis(one, two), one[..<k].allSatisfy({ $0 == 1 }) else {
      throw ctx.mixes("its result \(one) at one sample becomes \(two) at two, not one outermost axis twice as long")
    }
    return [k]
  }
}
