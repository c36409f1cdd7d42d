import Glibc

extension NPY {
  /// Reads a whole regular file, or returns the system's reason for failing.
  static func readFile(_ path: String) -> Result<[UInt8], ReadFailure> {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return .failure(.errno()) }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { return .failure(.errno()) }
    guard (info.st_mode & S_IFMT) == S_IFREG else { return .failure(ReadFailure(message: "not a regular file")) }
    let size = Int(info.st_size)
    var failure: ReadFailure?
    let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
      var done = 0
      while done < size {
        let n = read(fd, buffer.baseAddress! + done, size - done)
        if n < 0 && errno == EINTR { continue }
        if n <= 0 {
          failure = n < 0 ? .errno() : ReadFailure(message: "file ended after \(done) of \(size) bytes")
          break
        }
        done += n
      }
      initialized = done
    }
    if let failure { return .failure(failure) }
    return .success(bytes)
  }

  struct ReadFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
    static func errno() -> ReadFailure { ReadFailure(message: String(cString: strerror(Glibc.errno))) }
  }
}
