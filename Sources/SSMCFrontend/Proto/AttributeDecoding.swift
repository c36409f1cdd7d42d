import ONNXProto

extension ProtoConverter {
  /// Converts one AttributeProto; `owner` names the node or function it belongs to, for messages.
  func attribute(
    _ a: UnsafePointer<Onnx__AttributeProto>, owner: String, depth: Int
  ) throws(ONNXLoadError) -> ONNXAttribute {
    let attr = a.pointee
    let name = string(attr.name)
    let label = "attribute '\(name)' of \(owner)"
    let refAttrName = attr.ref_attr_name.map { String(cString: $0) }
    guard let kind = (attr.has_type != 0) && attr.type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED
      ? attr.type : inferredKind(attr)
    else {
      throw .malformed(path: path, context: label, reason: "attribute has no type and no value")
    }
    let value: ONNXAttributeValue
    switch kind {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT:
      value = .float(attr.f)
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT:
      value = .int(attr.i)
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING:
      value = .string(text(attr.s))
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR:
      guard let t = attr.t else {
        // A reference inside a function body carries no value of its own.
        if refAttrName != nil { value = .tensor(ONNXTensor(name: "", elementType: 0, dims: [], data: [])); break }
        throw .malformed(path: path, context: label, reason: "TENSOR attribute without a tensor")
      }
      value = .tensor(try tensor(t, context: label))
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH:
      guard let g = attr.g else {
        if refAttrName != nil {
          value = .graph(ONNXGraph(name: "", nodes: [], initializers: [], inputs: [], outputs: [], valueInfo: []))
          break
        }
        throw .malformed(path: path, context: label, reason: "GRAPH attribute without a graph")
      }
      value = .graph(try graph(g, context: "graph of \(label)", depth: depth + 1))
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS:
      value = .floats(scalars(attr.n_floats, attr.floats))
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
      value = .ints(scalars(attr.n_ints, attr.ints))
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS:
      value = .strings(scalars(attr.n_strings, attr.strings).map(text))
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSORS:
      var tensors: [ONNXTensor] = []
      for (i, t) in messages(attr.n_tensors, attr.tensors).enumerated() {
        tensors.append(try tensor(t, context: "tensor #\(i) of \(label)"))
      }
      value = .tensors(tensors)
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS:
      var graphs: [ONNXGraph] = []
      for (i, g) in messages(attr.n_graphs, attr.graphs).enumerated() {
        graphs.append(try graph(g, context: "graph #\(i) of \(label)", depth: depth + 1))
      }
      value = .graphs(graphs)
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSOR, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSORS:
      throw .unsupportedTensorEncoding(path: path, tensor: label, reason: "sparse tensors are not supported")
    default:
      throw .malformed(
        path: path, context: label, reason: "attribute type \(kind.rawValue) is not supported by ssmc")
    }
    return ONNXAttribute(name: name, value: value, refAttrName: refAttrName)
  }

  /// Very old exporters omit `type`; ONNX then lets the one field that is set say what the attribute is.
  private func inferredKind(_ attr: Onnx__AttributeProto) -> Onnx__AttributeProto__AttributeType? {
    if attr.has_f != 0 { return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT }
    if attr.has_i != 0 { return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT }
    if attr.has_s != 0 { return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING }
    if attr.t != nil { return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR }
    if attr.g != nil { return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH }
    if attr.n_floats > 0 { return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS }
    if attr.n_ints > 0 { return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS }
    if attr.n_strings > 0 { return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS }
    if attr.n_tensors > 0 { return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSORS }
    if attr.n_graphs > 0 { return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS }
    return nil
  }
}

/// A protobuf `bytes` field read as UTF-8 text (invalid sequences become U+FFFD).
func text(_ data: ProtobufCBinaryData) -> String {
  guard let bytes = data.data, data.len > 0 else { return "" }
  return String(decoding: UnsafeBufferPointer(start: bytes, count: data.len), as: UTF8.self)
}
