#if _endian(big)
#error("ONNXTensor.data is little-endian and is filled by copying host memory")
#endif

/// A dense tensor value (`TensorProto`): an initializer, a `Constant`'s value or a tensor attribute.
public struct ONNXTensor: Sendable, Equatable {
  public var name: String
  /// `TensorProto.DataType` (see `ONNXElementType`).
  public var elementType: Int32
  /// The shape; every entry is >= 0.
  public var dims: [Int64]
  /// The elements as little-endian packed bytes, however the file stored them (raw_data, a typed field or an
  /// external file). Sub-byte types (int4, uint4, float4, int2, uint2) are packed as in `raw_data`.
  /// Booleans are one byte each, 0 or 1.
  public var data: [UInt8]

  public init(name: String, elementType: Int32, dims: [Int64], data: [UInt8]) {
    self.name = name
    self.elementType = elementType
    self.dims = dims
    self.data = data
  }

  /// The number of elements (the product of `dims`; 1 for a scalar).
  public var elementCount: Int {
    dims.reduce(1) { $0 * Int($1) }
  }

  /// The elements reinterpreted as `T`, which must have the element type's width (e.g. `Float` for FLOAT).
  /// Returns nil when the byte count is not a multiple of `T`'s size.
  public func elements<T: BitwiseCopyable>(as type: T.Type) -> [T]? {
    let size = MemoryLayout<T>.size
    guard size > 0, data.count % size == 0 else { return nil }
    return [T](unsafeUninitializedCapacity: data.count / size) { buffer, count in
      data.withUnsafeBytes { raw in
        UnsafeMutableRawBufferPointer(buffer).copyMemory(from: raw)
      }
      count = data.count / size
    }
  }
}

/// `TensorProto.DataType` values, so callers need not import the protobuf-c module.
public enum ONNXElementType {
  public static let undefined: Int32 = 0
  public static let float: Int32 = 1
  public static let uint8: Int32 = 2
  public static let int8: Int32 = 3
  public static let uint16: Int32 = 4
  public static let int16: Int32 = 5
  public static let int32: Int32 = 6
  public static let int64: Int32 = 7
  public static let string: Int32 = 8
  public static let bool: Int32 = 9
  public static let float16: Int32 = 10
  public static let double: Int32 = 11
  public static let uint32: Int32 = 12
  public static let uint64: Int32 = 13
  public static let complex64: Int32 = 14
  public static let complex128: Int32 = 15
  public static let bfloat16: Int32 = 16
  public static let float8e4m3fn: Int32 = 17
  public static let float8e4m3fnuz: Int32 = 18
  public static let float8e5m2: Int32 = 19
  public static let float8e5m2fnuz: Int32 = 20
  public static let uint4: Int32 = 21
  public static let int4: Int32 = 22
  public static let float4e2m1: Int32 = 23
  public static let float8e8m0: Int32 = 24
  public static let uint2: Int32 = 25
  public static let int2: Int32 = 26

  /// Storage bits per element in `ONNXTensor.data`, or nil for types ssmc does not store densely
  /// (undefined, string, the 6-bit floats, unknown values).
  public static func bitWidth(_ type: Int32) -> Int? {
    switch type {
    case uint8, int8, bool, float8e4m3fn, float8e4m3fnuz, float8e5m2, float8e5m2fnuz, float8e8m0: 8
    case uint16, int16, float16, bfloat16: 16
    case float, int32, uint32: 32
    case int64, double, uint64, complex64: 64
    case complex128: 128
    case uint4, int4, float4e2m1: 4
    case uint2, int2: 2
    default: nil
    }
  }

  /// Bytes needed for `count` elements of `type` packed as in `raw_data`, or nil on overflow/unknown type.
  public static func byteCount(_ type: Int32, elements count: Int) -> Int? {
    guard let bits = bitWidth(type), count >= 0 else { return nil }
    let (total, overflow) = count.multipliedReportingOverflow(by: bits)
    return overflow ? nil : (total + 7) / 8
  }
}
