/// Element types of the C ABI, with their ONNX `TensorProto.DataType` codes.
public enum ElementType: Int32, Sendable, CaseIterable, CustomStringConvertible {
  case float32 = 1, uint8 = 2, int8 = 3, int32 = 6, int64 = 7, bool = 9, float64 = 11

  /// Bytes per element.
  public var byteSize: Int {
    switch self {
    case .float32, .int32: 4
    case .int64, .float64: 8
    case .uint8, .int8, .bool: 1
    }
  }

  public var description: String {
    switch self {
    case .float32: "float32"
    case .uint8: "uint8"
    case .int8: "int8"
    case .int32: "int32"
    case .int64: "int64"
    case .bool: "bool"
    case .float64: "float64"
    }
  }
}

/// Static description of a model input or output.
public struct TensorInfo: Sendable, Equatable {
  public var name: String
  public var elementType: ElementType
  public var shape: [Int]

  public init(name: String, elementType: ElementType, shape: [Int]) {
    self.name = name
    self.elementType = elementType
    self.shape = shape
  }

  /// Whether a tensor of `shape` fits: same rank, equal dims, any size where the model says -1 (the
  /// run-time batch, or a dim compiled for several sizes; the library checks which sizes it takes).
  public func accepts(shape given: [Int]) -> Bool {
    given.count == shape.count && zip(given, shape).allSatisfy { g, wanted in wanted < 0 ? g >= 0 : g == wanted }
  }
}

/// A dense row-major tensor in host memory.
public struct HostTensor: Sendable, Equatable {
  public var elementType: ElementType
  public var shape: [Int]
  /// `elementCount * elementType.byteSize` bytes, little-endian as the machine stores them.
  public var bytes: [UInt8]

  public init(elementType: ElementType, shape: [Int], bytes: [UInt8]) {
    self.elementType = elementType
    self.shape = shape
    self.bytes = bytes
  }

  /// A zero-filled tensor.
  public init(zeros elementType: ElementType, shape: [Int]) {
    self.init(elementType: elementType, shape: shape, bytes: [UInt8](repeating: 0, count: shape.reduce(1, *) * elementType.byteSize))
  }

  /// A float32 tensor holding `values`.
  public init(_ values: [Float], shape: [Int]) {
    self.init(elementType: .float32, shape: shape, bytes: values.withUnsafeBytes { Array($0) })
  }

  /// Product of the dims (1 for a scalar).
  public var elementCount: Int { shape.reduce(1, *) }

  /// The elements as `Float`s; nil unless the element type is float32.
  public var floats: [Float]? {
    guard elementType == .float32 else { return nil }
    return [Float](unsafeUninitializedCapacity: bytes.count / 4) { buffer, count in
      _ = bytes.withUnsafeBytes { memcpy(buffer.baseAddress!, $0.baseAddress!, bytes.count / 4 * 4) }
      count = bytes.count / 4
    }
  }
}

import Glibc
