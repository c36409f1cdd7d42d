/// A constant tensor with a static shape: weights, folded shape math, tensor attributes.
/// Elements are stored as packed little-endian bytes, as in ONNX raw_data, so any element type fits.
public struct TensorData: Sendable, Hashable {
  public var element: ElementType
  public var shape: [Int]
  public var bytes: [UInt8]

  /// Creates a tensor from raw bytes; the byte count must match the shape.
  public init(_ element: ElementType, shape: [Int], bytes: [UInt8]) {
    precondition(bytes.count == shape.reduce(1, *) * element.byteSize, "byte count does not match shape")
    self.element = element
    self.shape = shape
    self.bytes = bytes
  }

  public init(floats: [Float], shape: [Int]? = nil) {
    self.init(.f32, shape: shape ?? [floats.count], bytes: Self.pack(floats))
  }
  public init(int64s: [Int64], shape: [Int]? = nil) {
    self.init(.i64, shape: shape ?? [int64s.count], bytes: Self.pack(int64s))
  }
  /// Builds a tensor of any element type from double values (integers truncate toward zero, bools are x != 0).
  public init(_ element: ElementType, shape: [Int], doubles: [Double]) {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(doubles.count * element.byteSize)
    for v in doubles { Self.append(v, as: element, to: &bytes) }
    self.init(element, shape: shape, bytes: bytes)
  }

  public var type: TensorType { TensorType(element, shape: shape) }
  public var count: Int { shape.reduce(1, *) }

  public var floats: [Float] { Self.unpack(bytes, as: Float.self) }
  public var int64s: [Int64] { Self.unpack(bytes, as: Int64.self) }

  /// Every element widened to Double (exact for all integers below 2^53).
  public var doubles: [Double] {
    (0..<count).map { element(at: $0) }
  }
  /// Integer view of every element, for shape math; floats truncate.
  public var ints: [Int] {
    switch element {
    case .i64: int64s.map { Int($0) }
    case .i32: Self.unpack(bytes, as: Int32.self).map { Int($0) }
    default: doubles.map { Int($0) }
    }
  }

  public func element(at index: Int) -> Double {
    let offset = index * element.byteSize
    return bytes.withUnsafeBytes { raw in
      switch element {
      case .f32: Double(raw.loadUnaligned(fromByteOffset: offset, as: Float.self))
      case .f64: raw.loadUnaligned(fromByteOffset: offset, as: Double.self)
      case .f16: Double(Self.halfToFloat(raw.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
      case .bf16: Double(Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: offset, as: UInt16.self)) << 16))
      case .i8: Double(raw.loadUnaligned(fromByteOffset: offset, as: Int8.self))
      case .u8, .bool: Double(raw.loadUnaligned(fromByteOffset: offset, as: UInt8.self))
      case .i16: Double(raw.loadUnaligned(fromByteOffset: offset, as: Int16.self))
      case .u16: Double(raw.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
      case .i32: Double(raw.loadUnaligned(fromByteOffset: offset, as: Int32.self))
      case .u32: Double(raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
      case .i64: Double(raw.loadUnaligned(fromByteOffset: offset, as: Int64.self))
      case .u64: Double(raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
      }
    }
  }

  static func append(_ v: Double, as element: ElementType, to bytes: inout [UInt8]) {
    func put<T>(_ x: T) { withUnsafeBytes(of: x) { bytes.append(contentsOf: $0) } }
    switch element {
    case .f32: put(Float(v))
    case .f64: put(v)
    case .f16: put(floatToHalf(Float(v)))
    case .bf16: put(bfloat16Bits(Float(v)))
    case .bool: put(UInt8(v != 0 ? 1 : 0))
    case .i8: put(Int8(truncatingIfNeeded: Int64(clamping: v)))
    case .u8: put(UInt8(truncatingIfNeeded: Int64(clamping: v)))
    case .i16: put(Int16(truncatingIfNeeded: Int64(clamping: v)))
    case .u16: put(UInt16(truncatingIfNeeded: Int64(clamping: v)))
    case .i32: put(Int32(truncatingIfNeeded: Int64(clamping: v)))
    case .u32: put(UInt32(truncatingIfNeeded: Int64(clamping: v)))
    case .i64: put(Int64(clamping: v))
    case .u64: put(UInt64(truncatingIfNeeded: Int64(clamping: v)))
    }
  }

  public static func pack<T>(_ values: [T]) -> [UInt8] {
    values.withUnsafeBytes { Array($0) }
  }
  public static func unpack<T>(_ bytes: [UInt8], as: T.Type) -> [T] {
    let n = bytes.count / MemoryLayout<T>.stride
    return bytes.withUnsafeBytes { raw in (0..<n).map { raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.stride, as: T.self) } }
  }

  static func halfToFloat(_ h: UInt16) -> Float {
    #if arch(x86_64) || arch(arm64)
    Float(Float16(bitPattern: h))
    #else
    preconditionFailure("f16 needs Float16")
    #endif
  }
  static func floatToHalf(_ f: Float) -> UInt16 { Float16(f).bitPattern }
  /// Rounds to nearest, ties to even, as ONNX Cast and onnxruntime do (cutting the low bits would round
  /// toward zero); NaN stays a quiet NaN.
  static func bfloat16Bits(_ f: Float) -> UInt16 {
    let bits = f.bitPattern
    if f.isNaN { return UInt16(bits >> 16) | 0x0040 }
    return UInt16((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16)
  }
}

extension Int64 {
  /// Converts a double to Int64, saturating out-of-range values and mapping NaN to 0 (casts must not trap).
  init(clamping v: Double) {
    if v.isNaN { self = 0 } else if v >= 9.2e18 { self = .max } else if v <= -9.2e18 { self = .min } else { self = Int64(v.rounded(.towardZero)) }
  }
}
