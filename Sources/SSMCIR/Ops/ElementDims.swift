/// Symbolic evaluation of shape math (see `OpSchema.elementDims`): the ops exporters use to compute shapes,
/// applied to integer tensors whose elements are dims (`Shape(x)` of `x: f32[batch,8,height,width]` is
/// `[batch, 8, height, width]`). Only small 1-D and scalar tensors are evaluated this way.
enum ElementDimsRules {
  /// Largest element list evaluated symbolically.
  static let limit = 64

  /// The elements of operand `index`, which must be known and have an integer type.
  static func elements(_ ctx: OpContext, _ index: Int) throws(Diagnostic) -> [Dim] {
    let t = try ctx.type(index)
    guard t.element == .i64 || t.element == .i32, let count = t.elementCount, count <= limit, let dims = ctx.elementDims(index), dims.count == count else {
      throw ctx.error(.unknownShape, "operand \(ctx.operandName(index)) is not a known list of dims")
    }
    return dims
  }

  /// Results holding operand 0's elements in the same order (Identity, Reshape, Squeeze, Unsqueeze, Flatten).
  static let sameElements: ElementDimsRule = { ctx throws(Diagnostic) in [try elements(ctx, 0)] }

  /// Cast between integer types keeps the elements.
  static let cast: ElementDimsRule = { ctx throws(Diagnostic) in
    guard let to = ElementType(code: try ctx.int("to")), to == .i64 || to == .i32 else {
      throw ctx.error(.unknownShape, "only casts to integers keep dims")
    }
    return [try elements(ctx, 0)]
  }

  /// Shape: the operand's dims in [start, end).
  static let shape: ElementDimsRule = { ctx throws(Diagnostic) in
    let x = try ctx.type(0)
    let rank = x.rank
    func clamp(_ v: Int) -> Int { min(max(v < 0 ? v + rank : v, 0), rank) }
    let start = clamp(try ctx.int("start"))
    let end = clamp(try ctx.optionalInt("end") ?? rank)
    return [Array(x.dims[start..<max(start, end)])]
  }

  /// Size: the product of the operand's dims.
  static let size: ElementDimsRule = { ctx throws(Diagnostic) in
    let x = try ctx.type(0)
    return [[try ctx.dim(Dim.product(x.dims), "the size of \(x)")]]
  }

  /// Gather along axis 0 of a list with constant indices.
  static let gather: ElementDimsRule = { ctx throws(Diagnostic) in
    let list = try elements(ctx, 0)
    guard try ctx.type(0).rank == 1, let indices = ctx.constant(1)?.ints else {
      throw ctx.error(.unknownShape, "only constant indices into a list of dims are evaluated")
    }
    return [try indices.map { i throws(Diagnostic) in
      let k = i < 0 ? i + list.count : i
      guard k >= 0 && k < list.count else { throw ctx.error(.badOperand, "index \(i) is out of range for \(list.count) elements") }
      return list[k]
    }]
  }

  /// Concat of lists.
  static let concat: ElementDimsRule = { ctx throws(Diagnostic) in
    var all: [Dim] = []
    for i in 0..<ctx.operandCount { all += try elements(ctx, i) }
    return [all]
  }

  /// Slice of a list, with constant bounds.
  static let slice: ElementDimsRule = { ctx throws(Diagnostic) in
    let list = try elements(ctx, 0)
    guard try ctx.type(0).rank == 1, let axis = try sliceAxes(ctx).first, let count = axis.count.value else {
      throw ctx.error(.unknownShape, "only 1-D lists are sliced")
    }
    return [(0..<count).map { list[axis.start + $0 * axis.step] }]
  }

  /// A broadcasting binary op on lists (one side may be a single element).
  static func binary(_ combine: @escaping @Sendable (DimExpr, DimExpr) -> DimExpr?) -> ElementDimsRule {
    { ctx throws(Diagnostic) in
      let (a, b) = (try elements(ctx, 0), try elements(ctx, 1))
      guard try ctx.type(0).rank <= 1, try ctx.type(1).rank <= 1, a.count == b.count || a.count == 1 || b.count == 1 else {
        throw ctx.error(.unknownShape, "only lists of equal length or a single element combine")
      }
      let count = max(a.count, b.count)
      return [try (0..<count).map { i throws(Diagnostic) in
        let (x, y) = (a[a.count == 1 ? 0 : i], b[b.count == 1 ? 0 : i])
        guard let r = combine(x.expression, y.expression) else { throw ctx.error(.unknownShape, "cannot combine \(x) and \(y)") }
        return Dim(r)
      }]
    }
  }

  /// Integer division truncates; on a numerator that cannot be negative that is floor division.
  static let divide = binary { a, b in
    if let d = b.constantValue, d > 0, (a.bounds.lower ?? -1) >= 0 { return a.floorDivided(by: d) }
    return a.exactlyDivided(by: b)
  }

  /// Integer Mod by a positive constant: `a - d*floor(a/d)`, the remainder with the divisor's sign (fmod = 0;
  /// C's fmod agrees when the dividend cannot be negative). Padding to a multiple of a window uses it.
  static let mod: ElementDimsRule = { ctx throws(Diagnostic) in
    let cStyle = try ctx.int("fmod") == 1
    return try binary { a, b in
      guard let d = b.constantValue, d > 0, !cStyle || (a.bounds.lower ?? -1) >= 0 else { return nil }
      return a.floorDivided(by: d).flatMap { $0.scaled(by: d) }.flatMap { a.minus($0) }
    }(ctx)
  }

  /// Equal of dims: 1 (true) for equal expressions, 0 when they differ at every size, else unknown.
  static let equal = binary { a, b in
    if a == b { return DimExpr(1) }
    return provablyDiffer(a, b) ? DimExpr(0) : nil
  }

  /// Max or Min of lists, elementwise (a single element broadcasts).
  static func extreme(larger: Bool) -> ElementDimsRule {
    { ctx throws(Diagnostic) in
      let lists = try (0..<ctx.operandCount).map { i throws(Diagnostic) in try elements(ctx, i) }
      let count = try broadcastCount(ctx, lists)
      return [(0..<count).map { i in
        let picked = lists.map { $0[$0.count == 1 ? 0 : i].expression }
        return Dim(picked.dropFirst().reduce(picked[0]) { larger ? DimExpr.maximum($0, $1) : DimExpr.minimum($0, $1) })
      }]
    }
  }

  /// Where with a constant condition picks elements of X or Y (PyTorch's `Where(Equal(shape, -1), ones, shape)`
  /// before an Expand).
  static let where_: ElementDimsRule = { ctx throws(Diagnostic) in
    guard let condition = ctx.constant(0), condition.count <= limit else {
      throw ctx.error(.unknownShape, "only a constant condition picks dims")
    }
    let flags = condition.doubles.map { $0 != 0 }
    let (x, y) = (try elements(ctx, 1), try elements(ctx, 2))
    let count = try broadcastCount(ctx, [Array(repeating: Dim.fixed(0), count: flags.count), x, y])
    return [(0..<count).map { i in
      flags[flags.count == 1 ? 0 : i] ? x[x.count == 1 ? 0 : i] : y[y.count == 1 ? 0 : i]
    }]
  }

  /// Expand of a list or a single dim to a 1-D shape: the elements repeated to the broadcast length.
  static let expand: ElementDimsRule = { ctx throws(Diagnostic) in
    let list = try elements(ctx, 0)
    let shape = try ctx.shapeOperand(1)
    let n = shape.isEmpty ? 1 : shape.count == 1 ? shape[0].value ?? limit + 1 : limit + 1
    guard n >= 0, n <= limit else { throw ctx.error(.unknownShape, "only lists expanded to a known 1-D length are evaluated") }
    let count = try broadcastCount(ctx, [list, Array(repeating: Dim.fixed(0), count: n)])
    return [(0..<count).map { list[list.count == 1 ? 0 : $0] }]
  }

  /// The length lists of these lengths broadcast to (rank 1 or 0 each).
  private static func broadcastCount(_ ctx: OpContext, _ lists: [[Dim]]) throws(Diagnostic) -> Int {
    let count = lists.map(\.count).max() ?? 0
    guard (0..<ctx.operandCount).allSatisfy({ ((try? ctx.type($0).rank) ?? 2) <= 1 }),
      lists.allSatisfy({ $0.count == count || $0.count == 1 })
    else { throw ctx.error(.unknownShape, "only lists of equal length or a single element combine") }
    return count
  }
}

extension OpSchema {
  func with(elementDims rule: @escaping ElementDimsRule) -> OpSchema {
    var schema = self
    schema.elementDims = rule
    return schema
  }
}
