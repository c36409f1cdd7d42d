import SSMCFrontend

/// How close an actual tensor must be to the expected one.
public struct Tolerance: Sendable, Equatable {
  /// Relative tolerance of the elementwise rule `|actual - expected| <= atol + rtol * |expected|`.
  public var rtol: Double
  /// Absolute tolerance of the elementwise rule.
  public var atol: Double
  /// When set, floating-point outputs pass when `maxAbsError <= relativeToMax * max|expected|` instead of
  /// by the elementwise rule (the model zoo's "error within R of the output's max magnitude").
  public var relativeToMax: Double?

  /// The ONNX backend test runner's defaults: rtol 1e-3, atol 1e-7.
  public init(rtol: Double = 1e-3, atol: Double = 1e-7, relativeToMax: Double? = nil) {
    self.rtol = rtol
    self.atol = atol
    self.relativeToMax = relativeToMax
  }
}

/// The result of comparing an actual tensor with an expected one, with numpy's `assert_allclose` semantics
/// (as the ONNX backend runner uses them) for floating-point types, evaluated in float64:
/// an element matches when `|a - e| <= atol + rtol * |e|` and `e` is finite, or when `a == e` (so equal
/// infinities match), or when both are NaN. Integer and boolean elements must be equal.
public struct TensorComparison: Sendable, Equatable {
  /// The expected tensor's element type (ONNX code) and shape.
  public var elementType: Int32
  public var shape: [Int]
  /// Why the tensors could not be compared elementwise (different element type or shape); nil otherwise.
  public var problem: String?
  /// Largest `|a - e|`; infinite where one side is NaN or infinite and the other is not the same.
  public var maxAbsError: Double = 0
  /// Largest `|a - e| / |e|` over elements with `e != 0`.
  public var maxRelError: Double = 0
  /// Largest finite `|e|`.
  public var maxAbsExpected: Double = 0
  /// `maxAbsError / maxAbsExpected` (0 when both are 0, infinite when only the error is non-zero).
  public var relativeToMax: Double = 0
  /// Elements that break the elementwise rule.
  public var mismatches = 0
  public var elementCount = 0
  /// The index (one entry per dim) of the worst element: the mismatch with the largest absolute error,
  /// or, with no mismatches, the element with the largest absolute error; nil when every element is equal.
  public var worstIndex: [Int]?
  /// Whether the actual tensor passes under the tolerance used.
  public var passed = false

  /// Compares `actual` with `expected` under `tolerance`.
  public init(actual: ONNXTensor, expected: ONNXTensor, tolerance: Tolerance = Tolerance()) {
    elementType = expected.elementType
    shape = expected.dims.map { Int($0) }
    guard actual.elementType == expected.elementType else {
      problem = "element type \(elementTypeName(actual.elementType)), expected \(elementTypeName(expected.elementType))"
      return
    }
    guard actual.dims == expected.dims else {
      problem = "shape \(actual.dims), expected \(expected.dims)"
      return
    }
    guard let reader = ElementReader(type: expected.elementType), actual.data.count == expected.data.count,
      expected.data.count == expected.elementCount * reader.size
    else {
      problem = "element type \(elementTypeName(expected.elementType)) cannot be compared"
      return
    }
    elementCount = expected.elementCount
    var worst = -1
    var worstRank = (0, 0.0)
    actual.data.withUnsafeBytes { a in
      expected.data.withUnsafeBytes { e in
        for i in 0..<elementCount {
          let x = reader.value(a, i)
          let y = reader.value(e, i)
          let matches: Bool
          let error: Double
          if reader.isFloat {
            if x.isNaN && y.isNaN {
              (matches, error) = (true, 0)
            } else if x == y {
              (matches, error) = (true, 0)
            } else {
              let difference = abs(x - y)
              // NaN against a number, or an infinity against anything else, is an unbounded error.
              error = difference.isNaN ? .infinity : difference
              matches = y.isFinite && error <= tolerance.atol + tolerance.rtol * abs(y)
            }
          } else {
            // Unequal integers differ by at least 1, even where float64 cannot tell large int64s apart.
            (matches, error) = reader.equal(a, e, i) ? (true, 0) : (false, max(abs(x - y), 1))
          }
          if y.isFinite { maxAbsExpected = max(maxAbsExpected, abs(y)) }
          maxAbsError = max(maxAbsError, error)
          if y != 0 && error > 0 { maxRelError = max(maxRelError, y.isFinite ? error / abs(y) : .infinity) }
          if !matches { mismatches += 1 }
          // Mismatches outrank matches, then the larger error wins; ties keep the first element.
          let rank = (matches ? 0 : 1, error)
          if error > 0 && (worst < 0 || rank > worstRank) { (worst, worstRank) = (i, rank) }
        }
      }
    }
    if worst >= 0 { worstIndex = Self.multiIndex(worst, dims: expected.dims.map { Int($0) }) }
    relativeToMax =
      maxAbsExpected > 0 ? maxAbsError / maxAbsExpected : (maxAbsError == 0 ? 0 : .infinity)
    if let bound = tolerance.relativeToMax, reader.isFloat {
      passed = relativeToMax <= bound
    } else {
      passed = mismatches == 0
    }
  }

  /// The row-major multi-index of flat index `flat`.
  static func multiIndex(_ flat: Int, dims: [Int]) -> [Int] {
    var rest = flat
    var index = [Int](repeating: 0, count: dims.count)
    for axis in dims.indices.reversed() where dims[axis] > 0 {
      index[axis] = rest % dims[axis]
      rest /= dims[axis]
    }
    return index
  }
}

/// Reads element `i` of a little-endian buffer as a Double, and compares integer elements exactly.
private struct ElementReader {
  var size: Int
  var isFloat: Bool
  var value: (UnsafeRawBufferPointer, Int) -> Double
  var equal: (UnsafeRawBufferPointer, UnsafeRawBufferPointer, Int) -> Bool

  init?(type: Int32) {
    switch type {
    case ONNXElementType.float: self.init(Float.self, isFloat: true) { Double($0) }
    case ONNXElementType.double: self.init(Double.self, isFloat: true) { $0 }
    case ONNXElementType.int64: self.init(Int64.self) { Double($0) }
    case ONNXElementType.int32: self.init(Int32.self) { Double($0) }
    case ONNXElementType.int16: self.init(Int16.self) { Double($0) }
    case ONNXElementType.int8: self.init(Int8.self) { Double($0) }
    case ONNXElementType.uint64: self.init(UInt64.self) { Double($0) }
    case ONNXElementType.uint32: self.init(UInt32.self) { Double($0) }
    case ONNXElementType.uint16: self.init(UInt16.self) { Double($0) }
    case ONNXElementType.uint8, ONNXElementType.bool: self.init(UInt8.self) { Double($0) }
    default: return nil
    }
  }

  private init<T: BitwiseCopyable & Equatable>(_ type: T.Type, isFloat: Bool = false, _ convert: @escaping (T) -> Double) {
    let size = MemoryLayout<T>.size
    self.size = size
    self.isFloat = isFloat
    value = { buffer, i in convert(buffer.loadUnaligned(fromByteOffset: i * size, as: T.self)) }
    equal = { a, b, i in
      a.loadUnaligned(fromByteOffset: i * size, as: T.self) == b.loadUnaligned(fromByteOffset: i * size, as: T.self)
    }
  }
}

/// A short name for an ONNX element type code ("float32", "int64", ...).
public func elementTypeName(_ type: Int32) -> String {
  switch type {
  case ONNXElementType.float: "float32"
  case ONNXElementType.double: "float64"
  case ONNXElementType.float16: "float16"
  case ONNXElementType.bfloat16: "bfloat16"
  case ONNXElementType.int64: "int64"
  case ONNXElementType.int32: "int32"
  case ONNXElementType.int16: "int16"
  case ONNXElementType.int8: "int8"
  case ONNXElementType.uint64: "uint64"
  case ONNXElementType.uint32: "uint32"
  case ONNXElementType.uint16: "uint16"
  case ONNXElementType.uint8: "uint8"
  case ONNXElementType.bool: "bool"
  case ONNXElementType.string: "string"
  default: "type \(type)"
  }
}
