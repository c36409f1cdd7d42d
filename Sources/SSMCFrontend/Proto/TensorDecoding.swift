import ONNXProto

extension ProtoConverter {
  /// Converts a TensorProto into dense little-endian bytes, from whichever storage the file used.
  /// `context` names the tensor in messages when it has no name of its own.
  func tensor(_ tp: UnsafePointer<Onnx__TensorProto>, context: String) throws(ONNXLoadError) -> ONNXTensor {
    let t = tp.pointee
    let name = string(t.name)
    let label = name.isEmpty ? context : name
    let type = t.has_data_type != 0 ? t.data_type : ONNXElementType.undefined
    let dims = scalars(t.n_dims, t.dims)

    var count = 1
    for d in dims {
      guard d >= 0, d <= Int64(Int.max) else { throw .invalidDims(path: path, tensor: label, dims: dims) }
      let (product, overflow) = count.multipliedReportingOverflow(by: Int(d))
      guard !overflow else { throw .invalidDims(path: path, tensor: label, dims: dims) }
      count = product
    }
    if t.segment != nil {
      throw .unsupportedTensorEncoding(path: path, tensor: label, reason: "segmented tensors are not supported")
    }
    if type == ONNXElementType.string {
      throw .unsupportedTensorEncoding(path: path, tensor: label, reason: "string tensors are not supported")
    }
    guard ONNXElementType.bitWidth(type) != nil else {
      throw .unsupportedTensorEncoding(path: path, tensor: label, reason: "data type \(type) is not supported")
    }
    guard let byteCount = ONNXElementType.byteCount(type, elements: count) else {
      throw .invalidDims(path: path, tensor: label, dims: dims)
    }

    let data: [UInt8]
    if t.has_data_location != 0 && t.data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL {
      data = try externalData(t, label: label, byteCount: byteCount)
    } else if t.has_raw_data != 0 {
      guard t.raw_data.len == byteCount else {
        throw .tensorSizeMismatch(
          path: path, tensor: label, field: "raw_data (bytes)", expected: byteCount, actual: t.raw_data.len)
      }
      data = scalars(t.raw_data.len, t.raw_data.data)
    } else {
      data = try typedFieldData(t, type: type, count: count, byteCount: byteCount, label: label)
    }
    return ONNXTensor(name: name, elementType: type, dims: dims, data: data)
  }

  /// Reads the `*_data` field ONNX prescribes for `type` and packs it like raw_data.
  private func typedFieldData(
    _ t: Onnx__TensorProto, type: Int32, count: Int, byteCount: Int, label: String
  ) throws(ONNXLoadError) -> [UInt8] {
    let bits = ONNXElementType.bitWidth(type)!
    // (field name, entries present, entries needed) for the field this type must use.
    let field: String
    let present: Int
    let needed: Int
    switch type {
    case ONNXElementType.float, ONNXElementType.complex64:
      (field, present, needed) = ("float_data", t.n_float_data, byteCount / 4)
    case ONNXElementType.int64:
      (field, present, needed) = ("int64_data", t.n_int64_data, count)
    case ONNXElementType.double, ONNXElementType.complex128:
      (field, present, needed) = ("double_data", t.n_double_data, byteCount / 8)
    case ONNXElementType.uint32, ONNXElementType.uint64:
      (field, present, needed) = ("uint64_data", t.n_uint64_data, count)
    default:
      // Types up to 32 bits: one element per int32, except sub-byte types, which hold one packed byte each.
      (field, present, needed) = ("int32_data", t.n_int32_data, bits < 8 ? byteCount : count)
    }
    if present == 0 && needed > 0 {
      let others = [
        ("float_data", t.n_float_data), ("int32_data", t.n_int32_data), ("int64_data", t.n_int64_data),
        ("double_data", t.n_double_data), ("uint64_data", t.n_uint64_data), ("string_data", t.n_string_data),
      ].filter { $0.1 > 0 }.map(\.0)
      if let other = others.first {
        throw .unsupportedTensorEncoding(
          path: path, tensor: label, reason: "\(other) used for data type \(type) (ONNX requires \(field))")
      }
    }
    guard present == needed else {
      throw .tensorSizeMismatch(
        path: path, tensor: label, field: "\(field) (elements)", expected: needed, actual: present)
    }
    switch field {
    case "float_data": return bytes(of: scalars(t.n_float_data, t.float_data))
    case "int64_data": return bytes(of: scalars(t.n_int64_data, t.int64_data))
    case "double_data": return bytes(of: scalars(t.n_double_data, t.double_data))
    case "uint64_data":
      let values = scalars(t.n_uint64_data, t.uint64_data)
      return type == ONNXElementType.uint32 ? bytes(of: values.map { UInt32(truncatingIfNeeded: $0) }) : bytes(of: values)
    default:
      let values = scalars(t.n_int32_data, t.int32_data)
      switch bits {
      case 32: return bytes(of: values)
      case 16: return bytes(of: values.map { UInt16(truncatingIfNeeded: $0) })
      default:
        // Booleans are 0 or 1 in our data even if a writer stored another non-zero value.
        if type == ONNXElementType.bool { return values.map { $0 != 0 ? 1 : 0 } }
        return values.map { UInt8(truncatingIfNeeded: $0) }
      }
    }
  }
}

/// The bytes of `values` in host (little-endian) order.
func bytes<T: BitwiseCopyable>(of values: [T]) -> [UInt8] {
  values.withUnsafeBytes { Array($0) }
}
