/// Why an ONNX file could not be read into `ONNXModel`. Every case names the model file; cases about a
/// tensor name it (or, for unnamed tensors, where it sits, e.g. `attribute 'value' of node 'c0'`).
public enum ONNXLoadError: Error, Sendable, CustomStringConvertible, Equatable {
  /// The model file (or an external data file) could not be opened or read.
  case cannotRead(path: String, reason: String)
  /// The bytes are not a ModelProto: truncated, garbage, or not protobuf at all.
  case invalidProtobuf(path: String, byteCount: Int)
  /// The bytes of a tensor file (`.pb`) are not a TensorProto: truncated, garbage, or no data type set.
  case invalidTensorProtobuf(path: String, byteCount: Int)
  /// The ModelProto has no `graph`.
  case missingGraph(path: String)
  /// The model is protobuf but breaks ONNX's rules in a way not covered below (`context` says where).
  case malformed(path: String, context: String, reason: String)
  /// A tensor's external data file does not exist or cannot be read.
  case externalDataMissing(path: String, tensor: String, file: String, reason: String)
  /// A tensor's external data location is absolute or leaves the model's directory through `..`.
  case externalDataEscapes(path: String, tensor: String, location: String)
  /// A tensor's external data offset/length is invalid or lies outside its file.
  case externalDataOutOfRange(path: String, tensor: String, file: String, reason: String)
  /// A tensor's dims are negative or their product does not fit in memory.
  case invalidDims(path: String, tensor: String, dims: [Int64])
  /// A tensor holds a different number of bytes or elements than its dims require.
  case tensorSizeMismatch(path: String, tensor: String, field: String, expected: Int, actual: Int)
  /// A tensor uses an encoding ssmc does not read (sparse, string, segments, an unknown data type...).
  case unsupportedTensorEncoding(path: String, tensor: String, reason: String)

  public var description: String {
    switch self {
    case let .cannotRead(path, reason):
      "\(path): cannot read file: \(reason)"
    case let .invalidProtobuf(path, count):
      "\(path): not a valid ONNX model (protobuf decoding of \(count) bytes failed; the file is truncated or not ONNX)"
    case let .invalidTensorProtobuf(path, count):
      "\(path): not a valid ONNX TensorProto (decoding \(count) bytes failed or gave no data type; "
        + "the file is truncated or not a tensor)"
    case let .missingGraph(path):
      "\(path): the ONNX model has no graph"
    case let .malformed(path, context, reason):
      "\(path): \(context): \(reason)"
    case let .externalDataMissing(path, tensor, file, reason):
      "\(path): tensor '\(tensor)': external data file '\(file)' cannot be read: \(reason)"
    case let .externalDataEscapes(path, tensor, location):
      "\(path): tensor '\(tensor)': external data location '\(location)' is outside the model's directory "
        + "(absolute paths and '..' are not allowed)"
    case let .externalDataOutOfRange(path, tensor, file, reason):
      "\(path): tensor '\(tensor)': external data in '\(file)' out of range: \(reason)"
    case let .invalidDims(path, tensor, dims):
      "\(path): tensor '\(tensor)': invalid dims \(dims) (negative or too large)"
    case let .tensorSizeMismatch(path, tensor, field, expected, actual):
      "\(path): tensor '\(tensor)': \(field) holds \(actual) but its dims need \(expected)"
    case let .unsupportedTensorEncoding(path, tensor, reason):
      "\(path): tensor '\(tensor)': unsupported encoding: \(reason)"
    }
  }
}
