import ONNXProto

extension ONNXModel {
  /// Reads and decodes an `.onnx` file. External data files are looked up relative to the file's directory.
  public static func load(contentsOf path: String) throws(ONNXLoadError) -> ONNXModel {
    let bytes: [UInt8]
    switch FileBytes.read(path) {
    case .success(let read): bytes = read
    case .failure(let failure): throw .cannotRead(path: path, reason: failure.message)
    }
    return try parse(bytes: bytes, path: path, baseDirectory: directory(of: path))
  }

  /// Decodes a serialized ModelProto.
  /// - Parameters:
  ///   - path: where the bytes came from; used only in error messages.
  ///   - baseDirectory: the directory external data locations are relative to; nil makes any tensor with
  ///     external data an error.
  public static func parse(bytes: [UInt8], path: String, baseDirectory: String?) throws(ONNXLoadError) -> ONNXModel {
    // An empty buffer decodes as an empty message; say "not ONNX" rather than "no graph".
    guard !bytes.isEmpty else { throw .invalidProtobuf(path: path, byteCount: 0) }
    let message = bytes.withUnsafeBufferPointer { buffer in
      onnx__model_proto__unpack(nil, buffer.count, buffer.baseAddress)
    }
    guard let message else { throw .invalidProtobuf(path: path, byteCount: bytes.count) }
    // The converter copies everything it keeps, so the C tree can go as soon as it returns or throws.
    defer { onnx__model_proto__free_unpacked(message, nil) }
    return try ProtoConverter(path: path, baseDirectory: baseDirectory).model(message)
  }

  /// The directory part of `path` ("." when there is none).
  static func directory(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    let head = path[..<slash]
    return head.isEmpty ? "/" : String(head)
  }
}

/// Copies a protobuf-c ModelProto tree into Swift values, validating as it goes.
struct ProtoConverter {
  let path: String
  let baseDirectory: String?
  /// Graph attributes nest (If/Loop/Scan bodies); a bound keeps hostile files from exhausting the stack.
  static let maxGraphDepth = 64

  func model(_ m: UnsafePointer<Onnx__ModelProto>) throws(ONNXLoadError) -> ONNXModel {
    let model = m.pointee
    guard let graphPointer = model.graph else { throw .missingGraph(path: path) }
    let graph = try self.graph(graphPointer, context: "main graph", depth: 0)
    var functions: [ONNXFunction] = []
    for f in messages(model.n_functions, model.functions) {
      functions.append(try function(f))
    }
    return ONNXModel(
      irVersion: model.has_ir_version != 0 ? model.ir_version : 0,
      producerName: string(model.producer_name),
      producerVersion: string(model.producer_version),
      opsetImports: opsets(model.n_opset_import, model.opset_import),
      graph: graph, functions: functions, path: path)
  }

  func graph(
    _ g: UnsafePointer<Onnx__GraphProto>, context: String, depth: Int
  ) throws(ONNXLoadError) -> ONNXGraph {
    guard depth <= Self.maxGraphDepth else {
      throw .malformed(path: path, context: context, reason: "graphs nested more than \(Self.maxGraphDepth) deep")
    }
    let graph = g.pointee
    let name = string(graph.name)
    if graph.n_sparse_initializer > 0 {
      let first = messages(graph.n_sparse_initializer, graph.sparse_initializer).first
      let tensorName = first?.pointee.values.map { string($0.pointee.name) } ?? ""
      throw .unsupportedTensorEncoding(
        path: path, tensor: tensorName.isEmpty ? "sparse initializer of \(context)" : tensorName,
        reason: "sparse initializers are not supported")
    }
    var initializers: [ONNXTensor] = []
    for (i, t) in messages(graph.n_initializer, graph.initializer).enumerated() {
      initializers.append(try tensor(t, context: "initializer #\(i) of \(context)"))
    }
    var nodes: [ONNXNode] = []
    for (i, n) in messages(graph.n_node, graph.node).enumerated() {
      nodes.append(try node(n, index: i, owner: context, depth: depth))
    }
    return ONNXGraph(
      name: name, nodes: nodes, initializers: initializers,
      inputs: valueInfos(graph.n_input, graph.input),
      outputs: valueInfos(graph.n_output, graph.output),
      valueInfo: valueInfos(graph.n_value_info, graph.value_info))
  }

  func node(
    _ n: UnsafePointer<Onnx__NodeProto>, index: Int, owner: String, depth: Int
  ) throws(ONNXLoadError) -> ONNXNode {
    let node = n.pointee
    let name = string(node.name)
    let opType = string(node.op_type)
    let label = name.isEmpty ? "node #\(index) (\(opType)) of \(owner)" : "node '\(name)' (\(opType))"
    var attributes: [ONNXAttribute] = []
    for a in messages(node.n_attribute, node.attribute) {
      attributes.append(try attribute(a, owner: label, depth: depth))
    }
    return ONNXNode(
      name: name, opType: opType, domain: normalizedONNXDomain(string(node.domain)),
      inputs: strings(node.n_input, node.input), outputs: strings(node.n_output, node.output),
      attributes: attributes)
  }

  func function(_ f: UnsafePointer<Onnx__FunctionProto>) throws(ONNXLoadError) -> ONNXFunction {
    let function = f.pointee
    let name = string(function.name)
    let domain = normalizedONNXDomain(string(function.domain))
    let label = "function '\(domain.isEmpty ? "" : domain + ".")\(name)'"
    var defaults: [ONNXAttribute] = []
    for a in messages(function.n_attribute_proto, function.attribute_proto) {
      defaults.append(try attribute(a, owner: label, depth: 0))
    }
    var nodes: [ONNXNode] = []
    for (i, n) in messages(function.n_node, function.node).enumerated() {
      nodes.append(try node(n, index: i, owner: label, depth: 0))
    }
    return ONNXFunction(
      name: name, domain: domain,
      inputs: strings(function.n_input, function.input),
      outputs: strings(function.n_output, function.output),
      attributes: strings(function.n_attribute, function.attribute),
      attributeDefaults: defaults, nodes: nodes,
      opsetImports: opsets(function.n_opset_import, function.opset_import),
      valueInfo: valueInfos(function.n_value_info, function.value_info))
  }

  func opsets(
    _ count: Int, _ list: UnsafeMutablePointer<UnsafeMutablePointer<Onnx__OperatorSetIdProto>?>?
  ) -> [String: Int64] {
    var result: [String: Int64] = [:]
    for entry in messages(count, list) {
      let domain = normalizedONNXDomain(string(entry.pointee.domain))
      // A repeated domain is invalid ONNX; keeping the highest version is the forgiving reading.
      let version = entry.pointee.has_version != 0 ? entry.pointee.version : 0
      result[domain] = max(result[domain] ?? version, version)
    }
    return result
  }

  func valueInfos(
    _ count: Int, _ list: UnsafeMutablePointer<UnsafeMutablePointer<Onnx__ValueInfoProto>?>?
  ) -> [ONNXValueInfo] {
    messages(count, list).map(valueInfo)
  }

  func valueInfo(_ v: UnsafeMutablePointer<Onnx__ValueInfoProto>) -> ONNXValueInfo {
    let name = string(v.pointee.name)
    guard let type = v.pointee.type, type.pointee.value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE,
      let tensorType = type.pointee.tensor_type
    else { return ONNXValueInfo(name: name, elementType: nil, dims: nil) }
    let elementType = tensorType.pointee.has_elem_type != 0 ? tensorType.pointee.elem_type : nil
    guard let shape = tensorType.pointee.shape else {
      return ONNXValueInfo(name: name, elementType: elementType, dims: nil)
    }
    let dims = messages(shape.pointee.n_dim, shape.pointee.dim).map { d -> ONNXDim in
      switch d.pointee.value_case {
      case ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE:
        d.pointee.dim_value >= 0 ? .value(d.pointee.dim_value) : .unknown
      case ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM:
        d.pointee.dim_param.map { .param(String(cString: $0)) } ?? .unknown
      default:
        .unknown
      }
    }
    return ONNXValueInfo(name: name, elementType: elementType, dims: dims)
  }
}

// MARK: - C access helpers

/// A protobuf-c string field; unset fields are NULL and read as "".
func string(_ pointer: UnsafeMutablePointer<CChar>?) -> String {
  pointer.map { String(cString: $0) } ?? ""
}

/// A protobuf-c `repeated string` field.
func strings(_ count: Int, _ list: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> [String] {
  guard let list, count > 0 else { return [] }
  return UnsafeBufferPointer(start: list, count: count).map { string($0) }
}

/// A protobuf-c `repeated` message field, skipping NULL entries (protobuf-c writes none, but be safe).
func messages<T>(_ count: Int, _ list: UnsafeMutablePointer<UnsafeMutablePointer<T>?>?) -> [UnsafeMutablePointer<T>] {
  guard let list, count > 0 else { return [] }
  return UnsafeBufferPointer(start: list, count: count).compactMap { $0 }
}

/// A protobuf-c `repeated` scalar field.
func scalars<T>(_ count: Int, _ list: UnsafeMutablePointer<T>?) -> [T] {
  guard let list, count > 0 else { return [] }
  return Array(UnsafeBufferPointer(start: list, count: count))
}
