/// A node or function attribute (`AttributeProto`).
public struct ONNXAttribute: Sendable {
  public var name: String
  public var value: ONNXAttributeValue
  /// Inside function bodies: the name of the calling node's attribute this one refers to (`ref_attr_name`).
  /// When set, `value` is only a placeholder of the right kind.
  public var refAttrName: String?

  public init(name: String, value: ONNXAttributeValue, refAttrName: String? = nil) {
    self.name = name
    self.value = value
    self.refAttrName = refAttrName
  }
}

/// The value of an attribute. Strings are decoded as UTF-8 (invalid bytes are replaced).
public indirect enum ONNXAttributeValue: Sendable {
  case float(Float)
  case int(Int64)
  case string(String)
  case tensor(ONNXTensor)
  case graph(ONNXGraph)
  case floats([Float])
  case ints([Int64])
  case strings([String])
  case tensors([ONNXTensor])
  case graphs([ONNXGraph])

  /// The ONNX name of the attribute kind (`AttributeProto.AttributeType`), for messages.
  public var kindName: String {
    switch self {
    case .float: "FLOAT"
    case .int: "INT"
    case .string: "STRING"
    case .tensor: "TENSOR"
    case .graph: "GRAPH"
    case .floats: "FLOATS"
    case .ints: "INTS"
    case .strings: "STRINGS"
    case .tensors: "TENSORS"
    case .graphs: "GRAPHS"
    }
  }
}
