import ONNXProto

extension ONNXTensor {
  /// Reads a file holding one serialized `TensorProto`, such as `input_0.pb` in an ONNX `test_data_set_N`
  /// folder. External data locations are resolved relative to the file's directory.
  public static func load(contentsOf path: String) throws(ONNXLoadError) -> ONNXTensor {
    let bytes: [UInt8]
    switch FileBytes.read(path) {
    case .success(let read): bytes = read
    case .failure(let failure): throw .cannotRead(path: path, reason: failure.message)
    }
    return try parse(protobufBytes: bytes, path: path, baseDirectory: ONNXModel.directory(of: path))
  }

  /// Decodes a serialized `TensorProto`.
  /// - Parameters:
  ///   - path: where the bytes came from; used only in error messages.
  ///   - baseDirectory: the directory external data locations are relative to; nil makes a tensor with
  ///     external data an error.
  public static func parse(
    protobufBytes bytes: [UInt8], path: String, baseDirectory: String? = nil
  ) throws(ONNXLoadError) -> ONNXTensor {
    // An empty buffer decodes as a TensorProto with no fields; that is no tensor file.
    guard !bytes.isEmpty else { throw .invalidTensorProtobuf(path: path, byteCount: 0) }
    let message = bytes.withUnsafeBufferPointer { buffer in
      onnx__tensor_proto__unpack(nil, buffer.count, buffer.baseAddress)
    }
    guard let message else { throw .invalidTensorProtobuf(path: path, byteCount: bytes.count) }
    defer { onnx__tensor_proto__free_unpacked(message, nil) }
    // Garbage can decode as a TensorProto that sets no data type; reject it as not a tensor rather
    // than as an odd encoding.
    guard message.pointee.has_data_type != 0, message.pointee.data_type != ONNXElementType.undefined else {
      throw .invalidTensorProtobuf(path: path, byteCount: bytes.count)
    }
    return try ProtoConverter(path: path, baseDirectory: baseDirectory)
      .tensor(UnsafePointer(message), context: "tensor in \(path)")
  }
}
