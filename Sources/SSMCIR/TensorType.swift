/// Element types of tensors, named as in the text IR; raw values are ONNX `TensorProto.DataType` codes.
public enum ElementType: Int32, Sendable, Hashable, CaseIterable, CustomStringConvertible {
  case f32 = 1, u8 = 2, i8 = 3, u16 = 4, i16 = 5, i32 = 6, i64 = 7, bool = 9, f16 = 10, f64 = 11, u32 = 12, u64 = 13, bf16 = 16

  /// Size in bytes of one element as stored in memory (bool takes a byte, as in ONNX raw data).
  public var byteSize: Int {
    switch self {
    case .bool, .u8, .i8: 1
    case .u16, .i16, .f16, .bf16: 2
    case .f32, .i32, .u32: 4
    case .f64, .i64, .u64: 8
    }
  }
  public var isFloat: Bool { self == .f32 || self == .f64 || self == .f16 || self == .bf16 }
  public var isInteger: Bool { !isFloat && self != .bool }
  public var isSignedInteger: Bool { self == .i8 || self == .i16 || self == .i32 || self == .i64 }

  public var description: String {
    switch self {
    case .f32: "f32"
    case .f64: "f64"
    case .f16: "f16"
    case .bf16: "bf16"
    case .u8: "u8"
    case .i8: "i8"
    case .u16: "u16"
    case .i16: "i16"
    case .i32: "i32"
    case .u32: "u32"
    case .i64: "i64"
    case .u64: "u64"
    case .bool: "bool"
    }
  }
  /// The type of an ONNX `TensorProto.DataType` code given as an attribute (any Int); nil for codes the IR
  /// has no type for, out-of-range ones included.
  public init?(code: Int) {
    guard let raw = Int32(exactly: code), let type = ElementType(rawValue: raw) else { return nil }
    self = type
  }
  public init?(name: String) {
    guard let match = ElementType.allCases.first(where: { $0.description == name }) else { return nil }
    self = match
  }
}

/// One dimension of a tensor shape: a number known at compile time, a named symbol bound at run time, or an
/// expression of symbols (see `DimExpr`). `Dim(_:)` keeps the three apart: an expression is never a lone number
/// or symbol, so equal dims compare equal.
public enum Dim: Sendable, Hashable, CustomStringConvertible {
  case fixed(Int)
  case symbol(String)
  case expr(DimExpr)

  public init(_ expression: DimExpr) {
    if let v = expression.constantValue {
      self = .fixed(v)
    } else if let s = expression.symbolName {
      self = .symbol(s)
    } else {
      self = .expr(expression)
    }
  }

  public var value: Int? { if case .fixed(let v) = self { v } else { nil } }
  /// The dim as an expression (a number or symbol is the simplest one).
  public var expression: DimExpr {
    switch self {
    case .fixed(let v): DimExpr(v)
    case .symbol(let s): DimExpr(symbol: s)
    case .expr(let e): e
    }
  }
  public var description: String {
    switch self {
    case .fixed(let v): String(v)
    case .symbol(let s): DimAtom.symbolText(s)
    case .expr(let e): e.description
    }
  }
}

/// The type of an SSA value: element type and shape (rank = dims.count; rank 0 is a scalar).
public struct TensorType: Sendable, Hashable, CustomStringConvertible {
  public var element: ElementType
  public var dims: [Dim]

  public init(_ element: ElementType, _ dims: [Dim]) {
    self.element = element
    self.dims = dims
  }
  public init(_ element: ElementType, shape: [Int]) {
    self.init(element, shape.map { .fixed($0) })
  }

  public var rank: Int { dims.count }
  /// The shape when every dim is static.
  public var staticShape: [Int]? {
    var shape: [Int] = []
    for d in dims {
      guard let v = d.value else { return nil }
      shape.append(v)
    }
    return shape
  }
  public var isStatic: Bool { staticShape != nil }
  /// Number of elements, when static. Saturates at `TensorType.countCeiling` rather than overflow, so a
  /// malformed model's huge dims reach `tooLarge` checks instead of trapping in arithmetic.
  public var elementCount: Int? {
    staticShape.map { shape in
      var count = 1
      for d in shape {
        let (product, overflow) = count.multipliedReportingOverflow(by: Swift.max(d, 0))
        count = overflow ? Self.countCeiling : Swift.min(product, Self.countCeiling)
      }
      return count
    }
  }
  /// Where `elementCount` saturates: far above any tensor ssmc compiles, low enough that byte sizes and
  /// sums of a few such counts still fit in an Int.
  public static let countCeiling = 1 << 56
  /// The most elements one tensor may have (256 GiB of f32): larger means a malformed or mistyped model.
  public static let elementLimit = 1 << 36
  /// A problem description when the tensor has more elements than ssmc compiles, else nil.
  public var sizeProblem: String? {
    guard let count = elementCount, count > Self.elementLimit else { return nil }
    return "type \(self) has \(count >= Self.countCeiling ? "more than 2^56" : String(count)) elements, more than ssmc compiles (2^36)"
  }
  public func with(dims: [Dim]) -> TensorType { TensorType(element, dims) }
  public func with(element: ElementType) -> TensorType { TensorType(element, dims) }

  public var description: String { "\(element)[\(dims.map(\.description).joined(separator: ","))]" }
}
