import Glibc

/// Writes whole files so that a reader or a failed run never sees a partial output: the bytes go to a
/// temporary file in the destination directory, which is then renamed over the destination.
public enum AtomicFile {
  public static func write(_ bytes: [UInt8], to path: String) throws(CodegenError) {
    let temporary = try makeTemporary(near: path)
    let fd = temporary.fd
    var offset = 0
    while offset < bytes.count {
      let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
      if written < 0 {
        if errno == EINTR { continue }
        let reason = String(cString: strerror(errno))
        close(fd)
        unlink(temporary.path)
        throw CodegenError(.io, "cannot write \(path): \(reason)")
      }
      offset += written
    }
    close(fd)
    try commit(temporary.path, to: path)
  }

  /// Creates an empty temporary file beside `path` (same directory, so `rename` is atomic).
  static func makeTemporary(near path: String) throws(CodegenError) -> (fd: Int32, path: String) {
    var template = Array("\(path).tmp-XXXXXX".utf8CString)
    let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
    guard fd >= 0 else {
      throw CodegenError(.io, "cannot create a file beside \(path): \(String(cString: strerror(errno)))")
    }
    fchmod(fd, 0o644)
    return (fd, String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self))
  }

  /// Renames `temporary` to `path`, removing `temporary` if that fails.
  static func commit(_ temporary: String, to path: String) throws(CodegenError) {
    if rename(temporary, path) != 0 {
      let reason = String(cString: strerror(errno))
      unlink(temporary)
      throw CodegenError(.io, "cannot write \(path): \(reason)")
    }
  }
}
