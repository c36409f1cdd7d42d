/// Helpers shared by the shape rules and folders of several op families: reading constant operands as axes or
/// shapes, symbolic dim products, and element-exact (byte-level) re-indexing of constant tensors.

extension OpContext {
  /// The integer values of constant operand `index` (axes, shapes, pads, ...), which the shape rule needs.
  /// An operand whose type says it has no elements counts as the empty list even when it is not a constant.
  public func constantInts(_ index: Int) throws(Diagnostic) -> [Int] {
    let t = try type(index)
    guard t.element == .i64 || t.element == .i32 else {
      throw error(.typeMismatch, "operand \(operandName(index)) must be i64 or i32, got \(t)")
    }
    guard t.rank <= 1 else { throw error("operand \(operandName(index)) must be 1-D, got \(t)") }
    if t.elementCount == 0 { return [] }
    return try requireConstant(index).ints
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

/// A product of dims kept exact when some are symbolic: a fixed factor times a multiset of symbols.
public struct DimProduct: Sendable, Hashable {
  public var fixed: Int = 1
  /// True when the fixed factor overflowed Int; such a product is no dim at all.
  public var overflowed = false
  /// Symbol names, sorted, with repeats.
  public var symbols: [String] = []

  public init<S: Sequence>(_ dims: S) where S.Element == Dim {
    for d in dims {
      switch d {
      case .fixed(let v):
        let (p, o) = fixed.multipliedReportingOverflow(by: v)
        fixed = p
        overflowed = overflowed || o
      case .symbol(let s): symbols.append(s)
      }
    }
    symbols.sort()
  }
  /// The product as one dim, when it is a number or a single symbol; nil for `B*3` and the like.
  public var dim: Dim? {
    if overflowed { return nil }
    if symbols.isEmpty { return .fixed(fixed) }
    if symbols.count == 1 && fixed == 1 { return .symbol(symbols[0]) }
    if fixed == 0 { return .fixed(0) }
    return nil
  }
  /// `self / other` as one dim, when `other`'s symbols all occur in `self` and the quotient is a whole number
  /// or a single symbol; nil otherwise.
  public func quotient(_ other: DimProduct) -> Dim? {
    if overflowed || other.overflowed { return nil }
    var rest = symbols
    for s in other.symbols {
      guard let i = rest.firstIndex(of: s) else { return nil }
      rest.remove(at: i)
    }
    guard other.fixed != 0, fixed % other.fixed == 0 else { return nil }
    var q = DimProduct([])
    q.fixed = fixed / other.fixed
    q.symbols = rest
    return q.dim
  }
}

/// The one dim of two that the shape rule can use when both must be equal: a fixed size wins over a symbol;
/// nil when they provably differ (two different numbers, or two different symbols).
func unifyDims(_ a: Dim, _ b: Dim) -> Dim? {
  switch (a, b) {
  case (.fixed(let x), .fixed(let y)): x == y ? a : nil
  case (.fixed, .symbol): a
  case (.symbol, .fixed): b
  case (.symbol(let x), .symbol(let y)): x == y ? a : nil
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
    let count = DimProduct(shape.map(Dim.fixed))
    guard !count.overflowed, count.fixed <= maxFoldElements else {
      throw Diagnostic(.unsupportedFeature, "a folded result of shape \(shape) is too large")
    }
    var fillBytes: [UInt8] = []
    TensorData.append(fill, as: element, to: &fillBytes)
    let elements = self.count
    var out = [UInt8](repeating: 0, count: count.fixed * size)
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
    let count = DimProduct(shape.map(Dim.fixed))
    guard !count.overflowed, count.fixed <= maxFoldElements else {
      throw Diagnostic(.unsupportedFeature, "a folded result of shape \(shape) is too large")
    }
    // Every index stays in range when the two extreme corners do.
    var low = base
    var high = base
    for (d, s) in zip(shape, strides) where d > 0 {
      if s < 0 { low += (d - 1) * s } else { high += (d - 1) * s }
    }
    guard count.fixed == 0 || (low >= 0 && high < self.count) else {
      throw Diagnostic(.internalError, "strided read [\(low), \(high)] outside a tensor of \(self.count)")
    }
    var out = [UInt8](repeating: 0, count: count.fixed * size)
    if count.fixed == 0 { return TensorData(element, shape: shape, bytes: out) }
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
