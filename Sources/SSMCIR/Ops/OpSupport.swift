/// Helpers shared by the shape rules and folders of several op families: reading constant operands as axes or
/// shapes, symbolic dim products, and element-exact (byte-level) re-indexing of constant tensors.

extension OpContext {
  /// The integer values of constant operand `index` (axes, shapes, pads, ...), which the shape rule needs.
  /// An operand whose type says it has no elements counts as the empty list even when it is not a constant.
  public func constantInts(_ index: Int) throws(Diagnostic) -> [Int] {
    try isEmptyIntegerList(index) ? [] : try requireConstant(index).ints
  }
  /// The elements of integer operand `index` as dims: a constant's values, or the elements shape inference
  /// worked out from symbolic shapes; nil when neither is known.
  public func elementDims(_ index: Int) -> [Dim]? {
    if let c = constant(index) {
      guard c.element == .i64 || c.element == .i32 else { return nil }
      return c.ints.map(Dim.fixed)
    }
    return index < symbolicElements.count ? symbolicElements[index] : nil
  }
  /// A 1-D integer operand the shape rule needs (Reshape's or Expand's shape), whose elements may be symbolic.
  public func shapeOperand(_ index: Int) throws(Diagnostic) -> [Dim] {
    if try isEmptyIntegerList(index) { return [] }
    guard let dims = elementDims(index) else {
      throw error(.unsupportedFeature, "operand \(operandName(index)) must be a compile-time constant or computed from shapes to infer the shape")
    }
    return dims
  }
  /// Checks that operand `index` is a 1-D (or scalar) i64/i32 list and tells whether it has no elements.
  private func isEmptyIntegerList(_ index: Int) throws(Diagnostic) -> Bool {
    let t = try type(index)
    guard t.element == .i64 || t.element == .i32 else {
      throw error(.typeMismatch, "operand \(operandName(index)) must be i64 or i32, got \(t)")
    }
    guard t.rank <= 1 else { throw error("operand \(operandName(index)) must be 1-D, got \(t)") }
    return t.elementCount == 0
  }
  /// Like `constantInts`, but nil when the optional operand is absent.
  public func optionalConstantInts(_ index: Int) throws(Diagnostic) -> [Int]? {
    has(index) ? try constantInts(index) : nil
  }
  /// The single integer of a constant scalar operand (rank 0, or rank 1 with one element).
  public func constantScalarInt(_ index: Int) throws(Diagnostic) -> Int {
    let values = try constantInts(index)
    guard values.count == 1 else { throw error("operand \(operandName(index)) must hold one value, got \(values.count)") }
    return values[0]
  }

  /// Normalizes axes in [-rank, rank) to [0, rank); rejects out-of-range and repeated axes.
  public func normalizedAxes(_ axes: [Int], rank: Int, what: String = "axes") throws(Diagnostic) -> [Int] {
    var seen = Set<Int>()
    var result: [Int] = []
    for a in axes {
      guard a >= -rank && a < rank else {
        throw error(.badAttribute, "\(what) value \(a) is out of range for rank \(rank)")
      }
      let n = a < 0 ? a + rank : a
      guard seen.insert(n).inserted else { throw error(.badAttribute, "\(what) repeats axis \(a)") }
      result.append(n)
    }
    return result
  }

  /// A 0/1 flag attribute, checked to be 0 or 1.
  public func flag(_ name: String) throws(Diagnostic) -> Bool {
    let v = try int(name)
    guard v == 0 || v == 1 else { throw error(.badAttribute, "attribute '\(name)' must be 0 or 1, got \(v)") }
    return v == 1
  }

  /// Checks that operands `indices` (where present) have the element type of operand `reference`.
  public func requireSameElement(_ indices: [Int], as reference: Int) throws(Diagnostic) {
    let want = try type(reference).element
    for i in indices where has(i) {
      let got = try type(i).element
      guard got == want else {
        throw error(.typeMismatch, "\(operandName(i)) is \(got) but \(operandName(reference)) is \(want)")
      }
    }
  }

  /// a * b, or an error when it overflows: malformed sizes must not trap the compiler.
  public func multiply(_ a: Int, _ b: Int) throws(Diagnostic) -> Int {
    let (v, overflow) = a.multipliedReportingOverflow(by: b)
    guard !overflow else { throw error("size \(a) x \(b) overflows") }
    return v
  }
  /// The sum of `values`, or an error when it overflows.
  public func sum(_ values: [Int]) throws(Diagnostic) -> Int {
    var total = 0
    for v in values {
      let (s, overflow) = total.addingReportingOverflow(v)
      guard !overflow else { throw error("the sum of \(values) overflows") }
      total = s
    }
    return total
  }

  /// The elements of operand `index` as a static shape, for folders that work from the type alone.
  public func staticShape(_ index: Int) throws(Diagnostic) -> [Int] {
    let t = try type(index)
    guard let shape = t.staticShape else { throw error(.unknownShape, "\(operandName(index)) has symbolic dims: \(t)") }
    return shape
  }
}

/// Largest tensor a folder builds; bigger results stay computed at run time.
public let maxFoldElements = 1 << 26

extension Dim {
  /// The dim with `symbol` set to `value` (unchanged if that overflows, which only malformed dims do).
  public func substituting(_ symbol: String, with value: Int) -> Dim {
    guard case .fixed = self else {
      return expression.substituting([symbol: DimExpr(value)]).map(Dim.init) ?? self
    }
    return self
  }
  /// The sum of `dims` (nil on overflow).
  public static func sum<S: Sequence>(_ dims: S) -> DimExpr? where S.Element == Dim { combine(dims, from: 0) { $0.plus($1) } }
  /// The product of `dims` (nil on overflow): `h*w` stays exact when some are symbolic.
  public static func product<S: Sequence>(_ dims: S) -> DimExpr? where S.Element == Dim { combine(dims, from: 1) { $0.times($1) } }

  private static func combine<S: Sequence>(_ dims: S, from start: Int, _ step: (DimExpr, DimExpr) -> DimExpr?) -> DimExpr?
  where S.Element == Dim {
    var total = DimExpr(start)
    for d in dims {
      guard let t = step(total, d.expression) else { return nil }
      total = t
    }
    return total
  }
}

extension OpContext {
  /// A dim computed by `DimExpr` arithmetic, which gave nil on overflow.
  public func dim(_ expression: DimExpr?, _ what: @autoclosure () -> String) throws(Diagnostic) -> Dim {
    guard let expression else { throw error("\(what()) overflows") }
    return Dim(expression)
  }
}

/// Dims as shape rules quote them in messages: `[batch, 3, height/2]`.
public func dimsText(_ dims: [Dim]) -> String { "[" + dims.map(\.description).joined(separator: ", ") + "]" }

/// True when `a` and `b` differ for every value of their symbols (sizes of at least 1): `6*b` and `4*b` do.
func provablyDiffer(_ a: DimExpr, _ b: DimExpr) -> Bool {
  guard let difference = a.minus(b) else { return false }
  let bounds = difference.bounds
  return (bounds.lower ?? 0) > 0 || (bounds.upper ?? 0) < 0
}

/// The one dim of two that the shape rule can use when both must be equal: a fixed size wins over a symbolic
/// one; nil when they provably differ (two different numbers) or are two different symbolic dims.
func unifyDims(_ a: Dim, _ b: Dim) -> Dim? {
  if a == b { return a }
  switch (a.value, b.value) {
  case (_?, _?), (nil, nil): return nil
  case (_?, nil): return a
  case (nil, _?): return b
  }
}

/// Row-major element strides of a shape.
public func rowMajorStrides(_ shape: [Int]) -> [Int] {
  var strides = [Int](repeating: 1, count: shape.count)
  var step = 1
  for i in stride(from: shape.count - 1, through: 0, by: -1) {
    strides[i] = step
    step *= shape[i]
  }
  return strides
}

/// Calls `body` with every multi-index of `shape` in row-major order (once for a scalar, never if a dim is 0).
public func forEachIndex<Failure: Error>(_ shape: [Int], _ body: ([Int]) throws(Failure) -> Void) throws(Failure) {
  if shape.contains(0) { return }
  var index = [Int](repeating: 0, count: shape.count)
  while true {
    try body(index)
    var axis = shape.count - 1
    while axis >= 0 {
      index[axis] += 1
      if index[axis] < shape[axis] { break }
      index[axis] = 0
      axis -= 1
    }
    if axis < 0 { return }
  }
}

extension TensorData {
  /// The same elements under another shape of equal element count.
  public func reshaped(_ shape: [Int]) -> TensorData { TensorData(element, shape: shape, bytes: bytes) }

  /// A tensor of `shape` whose element at each multi-index is this tensor's element at flat index
  /// `source(index)`, or `fill` where `source` returns nil. Copies bytes, so every element type stays exact.
  public func remapped(
    to shape: [Int], fill: Double = 0, _ source: ([Int]) throws(Diagnostic) -> Int?
  ) throws(Diagnostic) -> TensorData {
    let size = element.byteSize
    guard let count = Dim.product(shape.map(Dim.fixed))?.constantValue, count <= maxFoldElements else {
      throw Diagnostic(.unsupportedFeature, "a folded result of shape \(shape) is too large")
    }
    var fillBytes: [UInt8] = []
    TensorData.append(fill, as: element, to: &fillBytes)
    let elements = self.count
    var out = [UInt8](repeating: 0, count: count * size)
    // The buffer closures rethrow untyped errors, so the failure is carried out by hand.
    var failure: Diagnostic? = nil
    bytes.withUnsafeBytes { src in
      out.withUnsafeMutableBytes { dst in
        fillBytes.withUnsafeBytes { fillSource in
          var offset = 0
          do throws(Diagnostic) {
            try forEachIndex(shape) { index throws(Diagnostic) in
              if let flat = try source(index) {
                guard flat >= 0 && flat < elements else {
                  throw Diagnostic(.internalError, "folder read element \(flat) of a tensor of \(elements)")
                }
                dst.baseAddress!.advanced(by: offset).copyMemory(from: src.baseAddress!.advanced(by: flat * size), byteCount: size)
              } else {
                dst.baseAddress!.advanced(by: offset).copyMemory(from: fillSource.baseAddress!, byteCount: size)
              }
              offset += size
            }
          } catch {
            failure = error
          }
        }
      }
    }
    if let failure { throw failure }
    return TensorData(element, shape: shape, bytes: out)
  }

  /// A tensor of `shape` whose element at multi-index i is this tensor's element at flat index
  /// `base + sum(i[k] * strides[k])`: transposes, slices, broadcasts and split parts without a per-element
  /// closure (strides may be 0 or negative).
  public func strided(to shape: [Int], base: Int = 0, strides: [Int]) throws(Diagnostic) -> TensorData {
    let size = element.byteSize
    guard let count = Dim.product(shape.map(Dim.fixed))?.constantValue, count <= maxFoldElements else {
      throw Diagnostic(.unsupportedFeature, "a folded result of shape \(shape) is too large")
    }
    // Every index stays in range when the two extreme corners do.
    var low = base
    var high = base
    for (d, s) in zip(shape, strides) where d > 0 {
      if s < 0 { low += (d - 1) * s } else { high += (d - 1) * s }
    }
    guard count == 0 || (low >= 0 && high < self.count) else {
      throw Diagnostic(.internalError, "strided read [\(low), \(high)] outside a tensor of \(self.count)")
    }
    var out = [UInt8](repeating: 0, count: count * size)
    if count == 0 { return TensorData(element, shape: shape, bytes: out) }
    bytes.withUnsafeBytes { src in
      out.withUnsafeMutableBytes { dst in
        var index = [Int](repeating: 0, count: shape.count)
        var flat = base
        var offset = 0
        while true {
          dst.baseAddress!.advanced(by: offset).copyMemory(from: src.baseAddress!.advanced(by: flat * size), byteCount: size)
          offset += size
          // Odometer step: bump the last axis, carrying into earlier ones.
          var axis = shape.count - 1
          while axis >= 0 {
            if index[axis] + 1 < shape[axis] {
              index[axis] += 1
              flat += strides[axis]
              break
            }
            flat -= strides[axis] * index[axis]
            index[axis] = 0
            axis -= 1
          }
          if axis < 0 { break }
        }
      }
    }
    return TensorData(element, shape: shape, bytes: out)
  }
}
