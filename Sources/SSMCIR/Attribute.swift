/// An op attribute value, with ONNX's kinds (subgraph attributes are not part of the IR).
public enum Attribute: Sendable, Hashable {
  case int(Int)
  case float(Float)
  case string(String)
  case ints([Int])
  case floats([Float])
  case strings([String])
  case tensor(TensorData)

  public var kindName: String {
    switch self {
    case .int: "int"
    case .float: "float"
    case .string: "string"
    case .ints: "ints"
    case .floats: "floats"
    case .strings: "strings"
    case .tensor: "tensor"
    }
  }
}

/// The kinds an attribute spec may require.
public enum AttributeKind: String, Sendable {
  case int, float, string, ints, floats, strings, tensor

  /// Whether `value` has this kind; an empty list matches every list kind (the text form cannot tell them apart).
  func accepts(_ value: Attribute) -> Bool {
    switch (self, value) {
    case (.int, .int), (.float, .float), (.string, .string), (.ints, .ints), (.floats, .floats), (.strings, .strings),
      (.tensor, .tensor):
      true
    case (.float, .int): true  // an integral float literal may have been written without a point
    case (.floats, .ints(let v)), (.strings, .ints(let v)): v.isEmpty
    default: false
    }
  }
}
