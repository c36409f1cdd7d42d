import ONNXProto

extension ProtoConverter {
  /// Reads a tensor stored outside the model (`data_location = EXTERNAL`), per ONNX's external data keys:
  /// `location` (relative to the model's directory), optional `offset` and `length` (decimal), `checksum` (ignored).
  func externalData(_ t: Onnx__TensorProto, label: String, byteCount: Int) throws(ONNXLoadError) -> [UInt8] {
    var entries: [String: String] = [:]
    for entry in messages(t.n_external_data, t.external_data) {
      entries[string(entry.pointee.key)] = string(entry.pointee.value)
    }
    guard let location = entries["location"], !location.isEmpty else {
      throw .malformed(
        path: path, context: "tensor '\(label)'", reason: "external data without a 'location' key")
    }
    guard Self.isInsideModelDirectory(location) else {
      throw .externalDataEscapes(path: path, tensor: label, location: location)
    }
    guard let baseDirectory else {
      throw .externalDataMissing(
        path: path, tensor: label, file: location,
        reason: "the model was parsed from memory without a base directory")
    }
    let offset = try Self.decimal(entries["offset"], key: "offset", default: 0)
      .get(orThrow: outOfRange(label, location))
    let fullPath = baseDirectory + "/" + location
    let fileSize: Int
    switch FileBytes.size(fullPath) {
    case .success(let size): fileSize = size
    case .failure(let failure):
      throw .externalDataMissing(path: path, tensor: label, file: location, reason: failure.message)
    }
    guard offset <= fileSize else {
      throw .externalDataOutOfRange(
        path: path, tensor: label, file: location, reason: "offset \(offset) is past the end (\(fileSize) bytes)")
    }
    let length = try Self.decimal(entries["length"], key: "length", default: fileSize - offset)
      .get(orThrow: outOfRange(label, location))
    guard length <= fileSize - offset else {
      throw .externalDataOutOfRange(
        path: path, tensor: label, file: location,
        reason: "offset \(offset) + length \(length) is past the end (\(fileSize) bytes)")
    }
    guard length == byteCount else {
      throw .tensorSizeMismatch(
        path: path, tensor: label, field: "external data in '\(location)' (bytes)", expected: byteCount,
        actual: length)
    }
    switch FileBytes.read(fullPath, offset: offset, count: length) {
    case .success(let data): return data
    case .failure(let failure):
      throw .externalDataMissing(path: path, tensor: label, file: location, reason: failure.message)
    }
  }

  private func outOfRange(_ label: String, _ location: String) -> (String) -> ONNXLoadError {
    { reason in .externalDataOutOfRange(path: path, tensor: label, file: location, reason: reason) }
  }

  /// True when `location` is relative and never climbs above its starting directory
  /// (`a/../b` stays inside; `../b` and `/etc/x` do not). Symbolic links are not resolved.
  static func isInsideModelDirectory(_ location: String) -> Bool {
    if location.hasPrefix("/") || location.contains("\0") { return false }
    var depth = 0
    for component in location.split(separator: "/", omittingEmptySubsequences: true) {
      switch component {
      case ".": continue
      case "..":
        depth -= 1
        if depth < 0 { return false }
      default: depth += 1
      }
    }
    return depth > 0
  }

  /// Parses an optional non-negative decimal key value; the error is the reason text.
  static func decimal(_ text: String?, key: String, default value: Int) -> Result<Int, ReasonText> {
    guard let text else { return .success(value) }
    guard let number = Int(text), number >= 0 else {
      return .failure(ReasonText(text: "\(key) '\(text)' is not a non-negative integer"))
    }
    return .success(number)
  }
}

/// A reason string carried through `Result` until it becomes an `ONNXLoadError`.
struct ReasonText: Error {
  var text: String
}

extension Result where Failure == ReasonText {
  func get(orThrow make: (String) -> ONNXLoadError) throws(ONNXLoadError) -> Success {
    switch self {
    case .success(let value): return value
    case .failure(let reason): throw make(reason.text)
    }
  }
}
