#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Minimal POSIX file reading with errno messages, for model files and external data files.
enum FileBytes {
  /// Reads a whole regular file.
  static func read(_ path: String) -> Result<[UInt8], FileReadFailure> {
    withOpenFile(path) { fd, size in readRange(fd, offset: 0, count: size) }
  }

  /// Size of a regular file.
  static func size(_ path: String) -> Result<Int, FileReadFailure> {
    withOpenFile(path) { _, size in .success(size) }
  }

  /// Reads `count` bytes at `offset`; the caller has checked the range against `size`.
  static func read(_ path: String, offset: Int, count: Int) -> Result<[UInt8], FileReadFailure> {
    withOpenFile(path) { fd, size in
      guard offset >= 0, count >= 0, offset <= size, count <= size - offset else {
        return .failure(FileReadFailure(message: "range \(offset)+\(count) exceeds file size \(size)"))
      }
      return readRange(fd, offset: offset, count: count)
    }
  }

  private static func withOpenFile<T>(
    _ path: String, _ body: (Int32, Int) -> Result<T, FileReadFailure>
  ) -> Result<T, FileReadFailure> {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return .failure(.fromErrno()) }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { return .failure(.fromErrno()) }
    // Directories and devices would read as empty or endless; only regular files are models.
    guard (info.st_mode & S_IFMT) == S_IFREG else {
      return .failure(FileReadFailure(message: "not a regular file"))
    }
    return body(fd, Int(info.st_size))
  }

  private static func readRange(_ fd: Int32, offset: Int, count: Int) -> Result<[UInt8], FileReadFailure> {
    var failure: FileReadFailure?
    let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
      var done = 0
      while done < count {
        let n = pread(fd, buffer.baseAddress! + done, count - done, off_t(offset + done))
        if n < 0 {
          if errno == EINTR { continue }
          failure = .fromErrno()
          break
        }
        if n == 0 {
          failure = FileReadFailure(message: "file ended after \(done) of \(count) bytes")
          break
        }
        done += n
      }
      // Uninitialized bytes must not escape, so a failed read keeps only what was read.
      initialized = done
    }
    if let failure { return .failure(failure) }
    return .success(bytes)
  }
}

/// A failed file operation, with the system's message.
struct FileReadFailure: Error {
  var message: String

  static func fromErrno() -> FileReadFailure {
    FileReadFailure(message: String(cString: strerror(errno)))
  }
}
