import SSMCFrontend

#if _endian(big)
#error("NPY reads and writes little-endian data by copying host memory")
#endif

/// NumPy's `.npy` format (versions 1.0, 2.0 and 3.0): a magic string, a Python-literal header giving
/// dtype, memory order and shape, then the raw elements. ssmc reads and writes little-endian, C-order
/// arrays of the dtypes its runtime knows (`NPY.dtypes`); tensors are `ONNXTensor` values with an empty name.
public enum NPY {
  /// Supported dtype codes (without byte-order character) and their ONNX element types.
  public static let dtypes: [(code: String, elementType: Int32)] = [
    ("f4", ONNXElementType.float), ("f8", ONNXElementType.double), ("i8", ONNXElementType.int64),
    ("i4", ONNXElementType.int32), ("i1", ONNXElementType.int8), ("u1", ONNXElementType.uint8),
    ("b1", ONNXElementType.bool),
  ]

  static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)

  /// Reads an `.npy` file.
  public static func load(contentsOf path: String) throws(NPYError) -> ONNXTensor {
    switch readFile(path) {
    case .success(let bytes): return try parse(bytes, path: path)
    case .failure(let reason): throw NPYError(path: path, reason: "cannot read file: \(reason)")
    }
  }

  /// Decodes the bytes of an `.npy` file; `path` is used only in error messages.
  public static func parse(_ bytes: [UInt8], path: String) throws(NPYError) -> ONNXTensor {
    func fail(_ reason: String) -> NPYError { NPYError(path: path, reason: reason) }
    guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
      throw fail("not an .npy file (no \\x93NUMPY magic at the start)")
    }
    let major = bytes[6]
    let headerStart: Int
    let headerLength: Int
    switch major {
    case 1:
      headerStart = 10
      headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
    case 2, 3:
      guard bytes.count >= 12 else { throw fail("file ends inside the header length") }
      headerStart = 12
      headerLength = (8..<12).reduce(0) { $0 | Int(bytes[$1]) << (8 * ($1 - 8)) }
    default:
      throw fail("unsupported .npy format version \(major).\(bytes[7]) (ssmc reads 1.0, 2.0 and 3.0)")
    }
    guard headerLength <= bytes.count - headerStart else {
      throw fail("header of \(headerLength) bytes runs past the end of the file")
    }
    // Version 1 and 2 headers are latin-1, version 3 UTF-8; the keys and values ssmc accepts are ASCII.
    let headerBytes = bytes[headerStart..<(headerStart + headerLength)]
    guard headerBytes.allSatisfy({ $0 < 0x80 }) else { throw fail("header holds non-ASCII bytes") }
    let header: NPYHeader
    do {
      header = try NPYHeader.parse(String(decoding: headerBytes, as: UTF8.self))
    } catch {
      throw fail("malformed header: \(error.message)")
    }
    guard !header.fortranOrder else {
      throw fail("Fortran-order arrays are not supported; save a C-order array (np.ascontiguousarray)")
    }
    let elementType = try elementType(ofDescr: header.descr, path: path)

    var count = 1
    for d in header.shape {
      let (product, overflow) = count.multipliedReportingOverflow(by: d)
      guard d >= 0, !overflow else { throw fail("invalid shape \(header.shape)") }
      count = product
    }
    let dataStart = headerStart + headerLength
    let byteCount = ONNXElementType.byteCount(elementType, elements: count)
    guard byteCount == bytes.count - dataStart else {
      let needed = byteCount.map { "\($0)" } ?? "too many"
      throw fail("shape \(header.shape) of \(header.descr) needs \(needed) data bytes, the file holds \(bytes.count - dataStart)")
    }
    var data = Array(bytes[dataStart...])
    // Booleans are 0 or 1 in ONNXTensor even if a writer stored another non-zero byte.
    if elementType == ONNXElementType.bool {
      for i in data.indices where data[i] > 1 { data[i] = 1 }
    }
    return ONNXTensor(name: "", elementType: elementType, dims: header.shape.map { Int64($0) }, data: data)
  }

  /// Encodes `tensor` as an `.npy` file (version 1.0, or 2.0 when the header is too long for 1.0).
  public static func encode(_ tensor: ONNXTensor) throws(NPYError) -> [UInt8] {
    guard let code = dtypes.first(where: { $0.elementType == tensor.elementType })?.code else {
      throw NPYError(path: tensor.name, reason: "element type \(tensor.elementType) has no supported .npy dtype")
    }
    guard ONNXElementType.byteCount(tensor.elementType, elements: tensor.elementCount) == tensor.data.count else {
      throw NPYError(path: tensor.name, reason: "\(tensor.data.count) data bytes do not match shape \(tensor.dims)")
    }
    let byteOrder = code.hasSuffix("1") ? "|" : "<"
    let shape =
      tensor.dims.count == 1 ? "(\(tensor.dims[0]),)" : "(" + tensor.dims.map { "\($0)" }.joined(separator: ", ") + ")"
    var dict = "{'descr': '\(byteOrder)\(code)', 'fortran_order': False, 'shape': \(shape), }"
    // Like numpy: room for the first dim to grow to 21 digits, then spaces and a newline so the data starts
    // at a multiple of 64 bytes (a full 64 more when already aligned), giving byte-identical files.
    if let first = tensor.dims.first { dict += String(repeating: " ", count: max(0, 21 - "\(first)".count)) }
    func headerLength(prefix: Int) -> Int {
      dict.utf8.count + 1 + 64 - (prefix + dict.utf8.count + 1) % 64
    }
    var version: UInt8 = 1
    var length = headerLength(prefix: 10)
    if length > Int(UInt16.max) {
      version = 2
      length = headerLength(prefix: 12)
    }
    var out = magic + [version, 0]
    let lengthBytes = version == 1 ? 2 : 4
    for i in 0..<lengthBytes { out.append(UInt8(truncatingIfNeeded: length >> (8 * i))) }
    out += Array(dict.utf8)
    out += [UInt8](repeating: 0x20, count: length - dict.utf8.count - 1)
    out.append(0x0A)
    out += tensor.data
    return out
  }

  static func elementType(ofDescr descr: String, path: String) throws(NPYError) -> Int32 {
    guard let order = descr.first, descr.count >= 2 else {
      throw NPYError(path: path, reason: "dtype '\(descr)' is not supported")
    }
    let code = String(descr.dropFirst())
    guard let match = dtypes.first(where: { $0.code == code }) else {
      let supported = dtypes.map(\.code).joined(separator: " ")
      throw NPYError(path: path, reason: "dtype '\(descr)' is not supported (supported: \(supported))")
    }
    let singleByte = code.hasSuffix("1")
    switch order {
    case "<": break
    case "|" where singleByte: break
    case ">" where !singleByte:
      throw NPYError(path: path, reason: "dtype '\(descr)' is big-endian; save it little-endian (arr.astype('<\(code)'))")
    default:
      throw NPYError(path: path, reason: "dtype '\(descr)' has an unsupported byte order")
    }
    return match.elementType
  }
}

/// Why an `.npy` file could not be read or written.
public struct NPYError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The file (or, when encoding, the tensor name).
  public var path: String
  public var reason: String

  public init(path: String, reason: String) {
    self.path = path
    self.reason = reason
  }

  public var description: String { "\(path): \(reason)" }
}
